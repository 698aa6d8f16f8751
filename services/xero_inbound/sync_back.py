"""What changed in Xero outside Roger: pure rules from two views of a bill or contact to
``roger.sync-back`` events (docs/contracts/roger-sync-back.md).

Which writes are ours (never echoed):
- a bill whose ``Url`` is on Roger's app host is one we synced (the projector builds the
  Url as ``{roger_app_url}/companies/{company}/{kind}s/{roger_id}``); a bill without one
  was made in Xero;
- a payment whose ``Reference`` starts ``Roger payment `` is ours (the projector's
  reference, unique per Roger payment);
- a payment gone from a bill (deleted in Xero) is ours when our writer's result says it
  deleted it (``XeroPaymentDeleted``: Roger reversed the payment);
- a bill-level change (status, total, dates, contact) is ours when our writer's latest
  result for the bill was recorded after we last looked at the bill and reports the status
  and total Xero now holds. A synced bill we never looked at is compared with that result
  instead (its status and total: all a result reports), so a void or an edit of the total
  made in Xero before our first look is still reported.
"""

from __future__ import annotations

import uuid
from datetime import date as Day
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict

from shared.xero.client import xero_moment

SyncBackType = Literal[
    "BillCreatedInXero",
    "BillPaidInXero",
    "BillPartPaidInXero",
    "BillVoidedInXero",
    "BillDeletedInXero",
    "BillEditedInXero",
    "PaymentDeletedInXero",
    "ContactArchivedInXero",
    "ContactMergedInXero",
]
OUR_PAYMENT_PREFIX = "Roger payment "
_NAMESPACE = uuid.UUID("6f1f7e39-3b64-4c5e-9a56-1d1b7f0c2a11")
_EDITABLE = ("total", "date", "due_date", "contact_id", "currency")
_GONE = ("VOIDED", "DELETED")


def _day(value: Any) -> Day | None:
    moment = xero_moment(value)
    return moment.date() if moment else None


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class RogerDocument(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: str  # bill, ... (the Url's path segment, singular)
    roger_id: str


class PaymentView(BaseModel):
    model_config = ConfigDict(frozen=True)
    xero_id: str
    date: Day | None
    amount: Decimal
    reference: str
    status: str


class BillView(BaseModel):
    """A bill as Xero holds it: what Roger may need to know."""

    model_config = ConfigDict(frozen=True)
    xero_id: str
    number: str
    status: str
    contact_id: str | None
    currency: str | None
    date: Day | None
    due_date: Day | None
    total: Decimal | None
    amount_paid: Decimal | None
    amount_due: Decimal | None
    url: str | None
    updated_at: datetime | None
    payments: tuple[PaymentView, ...] = ()

    def fields(self) -> dict[str, str | None]:
        """The editable fields as text, for ``FieldChange``."""
        return {
            name: None if getattr(self, name) is None else str(getattr(self, name))
            for name in _EDITABLE
        }


class ContactView(BaseModel):
    model_config = ConfigDict(frozen=True)
    xero_id: str
    name: str
    status: str
    merged_into: str | None
    updated_at: datetime | None


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)
    field: str
    before: str | None
    after: str | None


class SyncBackEvent(BaseModel):
    """One record on ``roger.sync-back`` (schema: docs/contracts/roger-sync-back.schema.json)."""

    model_config = ConfigDict(frozen=True)
    id: str  # the same change always gets the same id: Roger dedupes on it
    type: SyncBackType
    company_id: str
    tenant_id: str
    xero_id: str
    occurred_at: datetime | None  # Xero's UpdatedDateUTC of what changed
    detected_at: datetime
    roger_document: RogerDocument | None = None
    bill: BillView | None = None
    payment: PaymentView | None = None
    contact: ContactView | None = None
    changes: tuple[FieldChange, ...] = ()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class OurWrite(BaseModel):
    """Our writer's latest result for one Xero document."""

    model_config = ConfigDict(frozen=True)
    status: str | None
    total: Decimal | None
    recorded_at: datetime


class Change(BaseModel):
    """A change found, before it is addressed to a company."""

    model_config = ConfigDict(frozen=True)
    type: SyncBackType
    xero_id: str
    occurred_at: datetime | None
    bill: BillView | None = None
    payment: PaymentView | None = None
    contact: ContactView | None = None
    changes: tuple[FieldChange, ...] = ()

    def addressed(
        self, company_id: str, tenant_id: str, app_url: str, detected_at: datetime
    ) -> SyncBackEvent:
        name = "|".join(
            [
                company_id,
                tenant_id,
                self.type,
                self.xero_id,
                self.payment.xero_id if self.payment else "",
                self.occurred_at.isoformat() if self.occurred_at else "",
            ]
        )
        return SyncBackEvent(
            id=str(uuid.uuid5(_NAMESPACE, name)),
            company_id=company_id,
            tenant_id=tenant_id,
            detected_at=detected_at,
            roger_document=roger_document(self.bill.url, app_url) if self.bill else None,
            **self.model_dump(exclude={"bill", "payment", "contact", "changes"}),
            bill=self.bill,
            payment=self.payment,
            contact=self.contact,
            changes=self.changes,
        )


def bill_view(invoice: dict[str, Any]) -> BillView:
    """Xero's Invoice (GET Invoices/{id}) as a ``BillView``."""
    payments = tuple(
        PaymentView(
            xero_id=str(p.get("PaymentID")),
            date=_day(p.get("Date")),
            amount=_money(p.get("Amount")) or Decimal("0"),
            reference=str(p.get("Reference") or ""),
            status=str(p.get("Status") or "AUTHORISED"),
        )
        for p in invoice.get("Payments") or []
    )
    contact = invoice.get("Contact") or {}
    return BillView(
        xero_id=str(invoice["InvoiceID"]),
        number=str(invoice.get("InvoiceNumber") or ""),
        status=str(invoice.get("Status") or ""),
        contact_id=contact.get("ContactID"),
        currency=invoice.get("CurrencyCode"),
        date=_day(invoice.get("DateString") or invoice.get("Date")),
        due_date=_day(invoice.get("DueDateString") or invoice.get("DueDate")),
        total=_money(invoice.get("Total")),
        amount_paid=_money(invoice.get("AmountPaid")),
        amount_due=_money(invoice.get("AmountDue")),
        url=invoice.get("Url") or None,
        updated_at=xero_moment(invoice.get("UpdatedDateUTC")),
        payments=payments,
    )


def contact_view(contact: dict[str, Any]) -> ContactView:
    """Xero's Contact (GET Contacts/{id}) as a ``ContactView``."""
    return ContactView(
        xero_id=str(contact["ContactID"]),
        name=str(contact.get("Name") or ""),
        status=str(contact.get("ContactStatus") or "ACTIVE"),
        merged_into=contact.get("MergedToContactID") or None,
        updated_at=xero_moment(contact.get("UpdatedDateUTC")),
    )


def roger_document(url: str | None, app_url: str) -> RogerDocument | None:
    """The Roger document a bill's Url names, if the Url is on Roger's app host."""
    if not url or urlsplit(url).netloc != urlsplit(app_url).netloc:
        return None
    parts = [unquote(p) for p in urlsplit(url).path.strip("/").split("/")]
    if len(parts) >= 4 and parts[-4] == "companies":
        return RogerDocument(kind=parts[-2].removesuffix("s"), roger_id=parts[-1])
    return None


def ours(write: OurWrite | None, now: BillView, looked_at: datetime | None) -> bool:
    """A bill-level change is ours: our latest write came after we last looked, and left
    the status and total Xero now holds (a field our result does not report matches)."""
    if write is None or (looked_at is not None and write.recorded_at < looked_at):
        return False
    return (write.status is None or write.status == now.status) and (
        write.total is None or now.total is None or write.total == now.total
    )


def written_fields(write: OurWrite, now: BillView) -> dict[str, str | None]:
    """The editable fields as our writer last left them, as far as its result tells: its
    total (when it reports one); every other field as Xero holds it now (unknown: no edit
    can be claimed for it)."""
    fields = now.fields()
    if write.total is not None and (now.total is None or write.total != now.total):
        fields["total"] = str(write.total)
    return fields


def bill_level_changes(
    now: BillView, status_before: str | None, fields_before: dict[str, str | None]
) -> list[Change]:
    """A synced bill voided or deleted (its status newly gone), else its edited fields."""
    if now.status in _GONE:
        if status_before is None or status_before == now.status:
            return []
        kind: SyncBackType = "BillVoidedInXero" if now.status == "VOIDED" else "BillDeletedInXero"
        return [Change(type=kind, xero_id=now.xero_id, occurred_at=now.updated_at, bill=now)]
    new = now.fields()
    edits = tuple(
        FieldChange(field=name, before=fields_before[name], after=new[name])
        for name in _EDITABLE
        if fields_before[name] != new[name]
    )
    if not edits:
        return []
    return [
        Change(
            type="BillEditedInXero",
            xero_id=now.xero_id,
            occurred_at=now.updated_at,
            bill=now,
            changes=edits,
        )
    ]


def deleted_payments(before: BillView | None, now: BillView) -> list[PaymentView]:
    """Payments the bill had when we last looked and no longer has (Xero's bill leaves a
    deleted payment out of ``Payments``; one still listed as ``DELETED`` counts too), with
    status ``DELETED``."""
    if before is None:
        return []
    live = {p.xero_id for p in now.payments if p.status != "DELETED"}
    return [
        p.model_copy(update={"status": "DELETED"})
        for p in before.payments
        if p.status != "DELETED" and p.xero_id not in live
    ]


def bill_changes(
    before: BillView | None,
    now: BillView,
    app_url: str,
    write: OurWrite | None,
    looked_at: datetime | None,
    our_deletions: frozenset[str] = frozenset(),
) -> list[Change]:
    """What Xero's change to a bill means for Roger. ``before``: the bill when we last
    looked (None: never); ``write``: our writer's latest result for it; ``looked_at``: when
    we last looked; ``our_deletions``: ids of the bill's payments our writer deleted. Only
    bills (ACCPAY) are passed here.

    With no ``before``, a synced bill is compared with ``write`` (its status and total): a
    status or total other than our last write's is Xero's change; the same is our echo.
    Neither known: nothing (we cannot tell Xero's change from our own)."""
    synced = roger_document(now.url, app_url) is not None
    if not synced:
        if before is None and now.status not in _GONE:
            return [
                Change(
                    type="BillCreatedInXero",
                    xero_id=now.xero_id,
                    occurred_at=now.updated_at,
                    bill=now,
                )
            ]
        return []
    found: list[Change] = []
    if not ours(write, now, looked_at):
        if before is not None:
            found += bill_level_changes(now, before.status, before.fields())
        elif write is not None:
            found += bill_level_changes(now, write.status, written_fields(write, now))
    known = {p.xero_id for p in before.payments} if before else set()
    for payment in now.payments:
        if payment.xero_id in known or payment.status == "DELETED":
            continue
        if payment.reference.startswith(OUR_PAYMENT_PREFIX):
            continue
        paid = now.amount_due is not None and now.amount_due == 0
        found.append(
            Change(
                type="BillPaidInXero" if paid else "BillPartPaidInXero",
                xero_id=now.xero_id,
                occurred_at=now.updated_at,
                bill=now,
                payment=payment,
            )
        )
    for gone in deleted_payments(before, now):
        if gone.xero_id in our_deletions:
            continue  # Roger reversed it: our writer deleted it
        found.append(
            Change(
                type="PaymentDeletedInXero",
                xero_id=now.xero_id,
                occurred_at=now.updated_at,
                bill=now,
                payment=gone,
            )
        )
    return found


def contact_changes(before: ContactView | None, now: ContactView) -> list[Change]:
    """A contact archived or merged in Xero (our writer never archives or merges)."""
    if now.status != "ARCHIVED" or (before is not None and before.status == "ARCHIVED"):
        return []
    kind: SyncBackType = "ContactMergedInXero" if now.merged_into else "ContactArchivedInXero"
    return [Change(type=kind, xero_id=now.xero_id, occurred_at=now.updated_at, contact=now)]
