"""What a change made in Xero (one ``roger.sync-back`` record) does to a company's state.

Xero's word is recorded, never acted on: these rules decide no command (the aggregate
does not call ``decisions`` after them), so a change in Xero never writes back to Xero on
its own. Each record lands on the document its ``roger_document`` names
(``docs/contracts/roger-sync-back.md``) as ``Document.in_xero`` and a history entry
(``source: "xero"``, with ``sync_back_id``); bills made in Xero land on the company's list
(``CompanyState.xero_bills``); a contact's archive or merge on the vendor linked to it
and on that vendor's documents. A record seen before (same ``id``) changes nothing.

Conflicts (Roger and Xero changed the same document; ``Conflict``): Xero's change stands
in Xero and Roger's is held, never pushed and never dropped, until a person decides
(``POST .../retry`` sends Roger's version; see ``facts.retry``):

- Xero edited the bill (total, dates, contact, currency) after the version we last sent,
  and Roger has a newer version we have not sent: held (whichever came first). A bill
  moved only by a merge of its contact (to the survivor) is not an edit: the writer
  follows merges itself.
- Xero voided or deleted the bill, and Roger has a newer version or a payment not made in
  Xero: held. Roger deleting it too is agreement: the document is ``deleted``, no void.
- Xero was paid outside Roger, and a Roger payment not yet made in Xero asks for more
  than Xero has due: held (paying it would pay the vendor twice).

A held document shows ``failed`` (retryable) with the reason, and takes no command
(``decisions``) until the retry; its ``conflict`` shows both versions.

Pure: no Kafka, no database, no clock of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as Day
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.projector.domain.state import (
    CompanyState,
    Conflict,
    DocKey,
    Document,
    Effects,
    HistoryEntry,
    VendorLink,
    XeroSide,
    instant,
)

GONE = {"BillVoidedInXero": "voided", "BillDeletedInXero": "deleted"}


class _Seen(BaseModel):
    # A tolerant reader of the contract: fields we do not read are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore")


class PaymentSeen(_Seen):
    xero_id: str
    date: Day | None = None
    amount: Decimal
    reference: str = ""
    status: str = "AUTHORISED"


class BillSeen(_Seen):
    xero_id: str
    number: str = ""
    status: str = ""
    contact_id: str | None = None
    currency: str | None = None
    date: Day | None = None
    due_date: Day | None = None
    total: Decimal | None = None
    amount_paid: Decimal | None = None
    amount_due: Decimal | None = None
    url: str | None = None
    updated_at: datetime | None = None


class ContactSeen(_Seen):
    xero_id: str
    name: str = ""
    status: str = ""
    merged_into: str | None = None


class FieldChangeSeen(_Seen):
    field: str
    before: str | None = None
    after: str | None = None


class RogerDocumentSeen(_Seen):
    kind: str
    roger_id: str


class SyncBackRecord(_Seen):
    """One ``roger.sync-back`` record as the projector reads it."""

    id: str
    type: str
    company_id: str
    tenant_id: str
    xero_id: str
    occurred_at: datetime | None = None
    detected_at: datetime
    roger_document: RogerDocumentSeen | None = None
    bill: BillSeen | None = None
    payment: PaymentSeen | None = None
    contact: ContactSeen | None = None
    changes: tuple[FieldChangeSeen, ...] = ()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SyncBackRecord:
        return cls.model_validate_json(raw)

    @property
    def when(self) -> datetime:
        """When it happened in Xero (UpdatedDateUTC), else when it was noticed."""
        return instant(self.occurred_at or self.detected_at)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def apply_change(state: CompanyState, record: SyncBackRecord) -> Effects:
    """Records one change made in Xero (in place); returns what it touched. Never decides
    a command. A record seen before, or about a document this company does not have,
    changes nothing. Raises pydantic's ``ValidationError`` only on a record that does not
    match the contract."""
    effects = Effects()
    seen = f"sync-back:{record.id}"
    if seen in state.seen_events:
        return effects
    state.seen_events.add(seen)
    entry: HistoryEntry = {
        "at": record.when.isoformat(),
        "source": "xero",
        "type": record.type,
        "sync_back_id": record.id,
        "xero_id": record.xero_id,
    }
    if record.type == "BillCreatedInXero":
        _created_in_xero(state, record)
        return effects
    if record.type in ("ContactArchivedInXero", "ContactMergedInXero"):
        _contact(state, record, entry, effects)
        return effects
    named = record.roger_document
    key: DocKey | None = (named.kind, named.roger_id) if named else None
    doc = state.docs.get(key) if key is not None else None  # type: ignore[arg-type]
    if doc is None or record.bill is None:
        return effects
    side = doc.in_xero or XeroSide()
    doc.in_xero = side
    _bill_seen(side, record.bill, record.when)
    if record.type in ("BillPaidInXero", "BillPartPaidInXero"):
        _paid(state, doc, side, record, entry)
    elif record.type in GONE:
        _gone(doc, side, GONE[record.type], record, entry)
    elif record.type == "BillEditedInXero":
        _edited(state, doc, side, record, entry)
    elif record.type == "PaymentDeletedInXero":
        _payment_deleted(doc, side, record, entry)
    else:
        entry["note"] = f"a change of a kind the projector does not know: {record.type}"
    effects.note(doc.key, entry)
    return effects


def _bill_seen(side: XeroSide, bill: BillSeen, at: datetime) -> None:
    side.status, side.at = bill.status or side.status, at
    side.total, side.currency = bill.total, bill.currency
    side.amount_paid, side.amount_due = bill.amount_paid, bill.amount_due
    side.date, side.due_date = _text(bill.date), _text(bill.due_date)
    side.contact_id = bill.contact_id


def _created_in_xero(state: CompanyState, record: SyncBackRecord) -> None:
    if state.xero_bills is None:
        state.xero_bills = {}
    bill = record.bill
    state.xero_bills[record.xero_id] = {
        "xero_id": record.xero_id,
        "number": bill.number if bill else None,
        "status": bill.status if bill else None,
        "contact_id": bill.contact_id if bill else None,
        "currency": bill.currency if bill else None,
        "date": _text(bill.date) if bill else None,
        "due_date": _text(bill.due_date) if bill else None,
        "total": _text(bill.total) if bill else None,
        "amount_due": _text(bill.amount_due) if bill else None,
        "created_at": record.when.astimezone(UTC).isoformat(),
    }


def _contact(
    state: CompanyState, record: SyncBackRecord, entry: HistoryEntry, effects: Effects
) -> None:
    merged_into = record.contact.merged_into if record.contact else None
    for link in state.vendors.values():
        if link.contact_id != record.xero_id:
            continue
        if record.type == "ContactMergedInXero":
            link.contact_status, link.merged_into = "merged", merged_into
            summary = f"contact merged in Xero into {merged_into} on {record.when.date()}"
        else:
            link.contact_status, link.merged_into = "archived", None
            summary = f"contact archived in Xero on {record.when.date()}"
        for doc in state.docs_of_vendor(link.vendor_id):
            side = doc.in_xero or XeroSide()
            doc.in_xero = side
            side.summary = summary
            if side.edited_since_sync and _merge_moved(link, side):
                side.edited_since_sync = False  # the bill's contact edit was this merge
            effects.note(doc.key, dict(entry, note=summary))


def _unpaid_in_xero(doc: Document) -> list[str]:
    """Roger payments of the document not (yet) made in Xero."""
    return sorted(
        p.payment_id
        for p in doc.payments.values()
        if p.data is not None and not p.reversed and p.xero_id is None and p.state != "deleted"
    )


def _behind(doc: Document) -> bool:
    """Roger has a newer version than the one Xero was last given by us."""
    if doc.version_at is None or doc.deleted:
        return False
    return doc.synced_version_at is None or doc.synced_version_at < doc.version_at


def _paid(
    state: CompanyState, doc: Document, side: XeroSide, record: SyncBackRecord, entry: HistoryEntry
) -> None:
    payment = record.payment
    if payment is not None and all(p.get("xero_id") != payment.xero_id for p in side.payments):
        side.payments.append(
            {
                "xero_id": payment.xero_id,
                "date": _text(payment.date),
                "amount": _text(payment.amount),
                "reference": payment.reference,
            }
        )
    on = _text(payment.date) if payment else str(record.when.date())
    amount = _text(payment.amount) if payment else None
    if record.type == "BillPaidInXero":
        side.summary = f"paid in Xero on {on} ({amount})"
    else:
        side.summary = f"part-paid in Xero on {on}: {amount} paid, {side.amount_due} due"
    entry["note"] = side.summary
    due = side.amount_due
    if due is None:
        return
    over = []
    for payment_id in _unpaid_in_xero(doc):
        roger = doc.payments[payment_id]
        asked = roger.amount if roger.amount is not None else (doc.data.total if doc.data else None)
        if asked is not None and asked > due:
            over.append((payment_id, asked))
    if over:
        payment_id, asked = over[0]
        hold(
            doc,
            Conflict(
                reason=(
                    f"conflict: Roger's payment {payment_id} of {asked} is more than the {due} "
                    f"Xero has due: the bill was {side.summary}; Roger's payment is held, "
                    "not sent (retry sends it anyway)"
                ),
                at=record.when,
                roger={"payment_id": payment_id, "amount": str(asked)},
                xero={"amount_paid": _text(side.amount_paid), "amount_due": str(due)},
            ),
            entry,
        )


def _payment_deleted(
    doc: Document, side: XeroSide, record: SyncBackRecord, entry: HistoryEntry
) -> None:
    """A payment deleted in Xero by a person. One of Roger's (ours by its Xero id) is shown
    failed with the reason and left for a person: never made again on its own, since the
    accountant removed it on purpose (a retry sends it again)."""
    payment = record.payment
    if payment is None:
        return
    side.payments = [p for p in side.payments if p.get("xero_id") != payment.xero_id]
    on = _text(payment.date) or str(record.when.date())
    side.summary = (
        f"payment of {_text(payment.amount)} deleted in Xero on {record.when.date()} "
        f"(it was dated {on})"
    )
    entry["note"] = side.summary
    for roger in doc.payments.values():
        if roger.xero_id == payment.xero_id and not roger.reversed:
            roger.state = "failed"
            roger.reason = (
                f"Roger's payment {roger.payment_id} was deleted in Xero by a person on "
                f"{record.when.date()}: not made again on its own (retry sends it again)"
            )
            entry["note"] = f"{side.summary}; it was Roger's payment {roger.payment_id}"


def _gone(
    doc: Document, side: XeroSide, how: str, record: SyncBackRecord, entry: HistoryEntry
) -> None:
    side.gone = how
    side.summary = f"{how} in Xero on {record.when.date()}"
    entry["note"] = side.summary
    if doc.deleted:
        # Roger deleted it too: both agree, and there is nothing left to void.
        if doc.outstanding is None:
            doc.state, doc.reason = "deleted", None
        return
    pending = _unpaid_in_xero(doc)
    if _behind(doc) or pending:
        what = "Roger's newer version" if _behind(doc) else f"Roger's payment {pending[0]}"
        hold(doc, _gone_conflict(doc, side, what, record.when), entry)


def _gone_conflict(doc: Document, side: XeroSide, what: str, at: datetime) -> Conflict:
    return Conflict(
        reason=(
            f"conflict: the bill was {side.summary}, and {what} is not in Xero; held, not "
            "sent (retry makes the bill again in Xero from Roger's version)"
        ),
        at=at,
        roger=roger_fields(doc),
        xero={"status": side.status},
    )


def _merge_moved(link: VendorLink | None, side: XeroSide) -> bool:
    """Whether every edit since our last version only moved the bill to the contact the
    vendor's contact was merged into: Xero's merge, not a person's edit of this bill (the
    writer follows a merge by itself, so Roger's next version is no conflict)."""
    if link is None or link.contact_status != "merged" or not side.edits:
        return False
    return all(e["field"] == "contact_id" and e["after"] == link.merged_into for e in side.edits)


def _edited(
    state: CompanyState,
    doc: Document,
    side: XeroSide,
    record: SyncBackRecord,
    entry: HistoryEntry,
) -> None:
    at = record.when.isoformat()
    for change in record.changes:
        side.edits.append(
            {"field": change.field, "before": change.before, "after": change.after, "at": at}
        )
    described = ", ".join(f"{c.field} {c.before} -> {c.after}" for c in record.changes)
    side.summary = f"edited in Xero on {record.when.date()}: {described}"
    entry["note"] = side.summary
    entry["changes"] = [c.model_dump() for c in record.changes]
    link = state.vendors.get(doc.vendor_id or "")
    side.edited_since_sync = side.edited_since_sync or not _merge_moved(link, side)
    if side.edited_since_sync and _behind(doc) and doc.outstanding is None:
        hold(doc, edit_conflict(doc, side, record.when), entry)


def edit_conflict(doc: Document, side: XeroSide, at: datetime) -> Conflict:
    """Roger's newer version against an edit made in Xero since the version we sent."""
    edited = sorted({e["field"] or "" for e in side.edits})
    return Conflict(
        reason=(
            "conflict: the bill was edited in Xero (" + ", ".join(edited) + ") after the "
            "version we sent, and Roger has a newer version; Roger's is held, not sent, so "
            "the accountant's edit is not overwritten (retry sends Roger's version)"
        ),
        at=at,
        roger=roger_fields(doc),
        xero={
            "total": _text(side.total),
            "currency": side.currency,
            "date": side.date,
            "due_date": side.due_date,
            "contact_id": side.contact_id,
        },
    )


def roger_fields(doc: Document) -> dict[str, str | None]:
    """Roger's latest version of the fields Xero reports, as text."""
    data = doc.data
    if data is None:
        return {}
    issue = getattr(data, "issue_date", None) or getattr(data, "paid_on", None)
    return {
        "total": str(data.total),
        "currency": data.currency,
        "date": _text(issue),
        "due_date": _text(getattr(data, "due_date", None)),
    }


def hold(doc: Document, conflict: Conflict, entry: HistoryEntry | None = None) -> None:
    """The document is held for a person: ``failed`` (retryable) with the conflict's reason."""
    doc.conflict = conflict
    doc.fail(conflict.reason)
    if entry is not None:
        entry["conflict"] = conflict.reason


def version_conflict(doc: Document, at: datetime) -> Conflict | None:
    """The conflict a newer Roger version (already set on ``doc``) meets in Xero's last
    word, or None: Xero edited the bill since our last version, or voided or deleted it."""
    side = doc.in_xero
    if side is None or doc.deleted or doc.xero_id is None:
        return None
    if side.gone:
        return _gone_conflict(doc, side, "Roger's newer version", at)
    if side.edited_since_sync:
        return edit_conflict(doc, side, at)
    return None


def payment_conflict(doc: Document, payment_id: str, at: datetime) -> Conflict | None:
    """The conflict a Roger payment meets: the bill voided or deleted in Xero, or paid
    there so that it asks for more than Xero has due."""
    side = doc.in_xero
    payment = doc.payments.get(payment_id)
    if side is None or doc.deleted or payment is None or payment.xero_id is not None:
        return None
    if side.gone:
        return _gone_conflict(doc, side, f"Roger's payment {payment_id}", at)
    asked = payment.amount
    if side.payments and side.amount_due is not None and asked is not None:
        if asked > side.amount_due:
            return Conflict(
                reason=(
                    f"conflict: Roger's payment {payment_id} of {asked} is more than the "
                    f"{side.amount_due} Xero has due: the bill was {side.summary}; Roger's "
                    "payment is held, not sent (retry sends it anyway)"
                ),
                at=at,
                roger={"payment_id": payment_id, "amount": str(asked)},
                xero={"amount_paid": _text(side.amount_paid), "amount_due": str(side.amount_due)},
            )
    return None
