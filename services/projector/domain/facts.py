"""What each fact (a Roger event, a connection change, a retry) does to a company's state.

One rule per fact type, registered with ``@rule`` under the type it handles and
the typed model its data is read as (as cosmicpython keys its handlers by
message class). The contract's ordering rules live here: a newer version wins by
``occurred_at`` compared as an instant (any UTC offset), deletions and reversals
are final, and a fact seen before (same event id) changes nothing.

Pure: no Kafka, no database, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from services.projector.domain import xero_changes
from services.projector.domain.state import (
    RECEIPT_PAYMENT,
    Allocation,
    AttachmentSync,
    CompanyState,
    DocKind,
    Document,
    DocumentData,
    Effects,
    HistoryEntry,
    Payment,
    VendorLink,
    instant,
)
from shared.contracts.domain_events import ConnectionData, DomainEvent
from shared.contracts.roger_events import (
    BillData,
    BillDeletedData,
    BillPaidData,
    CreditNoteData,
    PaymentReversedData,
    ReceiptData,
    Vendor,
    VendorUpdatedData,
)

Resend = Literal["document", "update", "payment"]


class RetryData(BaseModel):
    """Data of ``DocumentRetryRequested`` (published by the read API's ``POST .../retry``,
    or by ``POST .../resend`` for ``roger-xero reconcile --fix``: then ``resend`` says what
    Xero lacks: the ``document``, Roger's version of it (``update``), or the payment
    ``payment_id``; ``reason`` is the difference found)."""

    model_config = ConfigDict(frozen=True)

    kind: DocKind
    roger_id: str
    resend: Resend | None = None
    payment_id: str | None = None
    reason: str | None = None


class NoData(BaseModel):
    """A fact whose data the rules do not read."""

    model_config = ConfigDict(frozen=True, extra="ignore")


@dataclass(frozen=True)
class Applied:
    """The fact being applied, as its rule sees it."""

    event: DomainEvent
    at: datetime  # occurred_at, timezone-aware
    entry: HistoryEntry  # the history entry of this fact; a rule may add a "note"
    effects: Effects


M = TypeVar("M", bound=BaseModel)
Rule = Callable[[CompanyState, Any, Applied], None]
RULES: dict[str, tuple[type[BaseModel], Rule]] = {}


def rule(
    *fact_types: str, data: type[M]
) -> Callable[[Callable[[CompanyState, M, Applied], None]], Rule]:
    """Registers a rule for ``fact_types``, whose ``data`` it reads as the model ``data``."""

    def register(fn: Callable[[CompanyState, M, Applied], None]) -> Rule:
        for fact_type in fact_types:
            RULES[fact_type] = (data, fn)
        return fn

    return register


def apply_fact(state: CompanyState, fact: DomainEvent) -> Effects:
    """Applies one fact to ``state`` (in place); returns what it touched.

    A fact seen before changes nothing; a fact type with no rule (the connect flow's
    own history) is only remembered as seen. Raises pydantic's ``ValidationError`` only
    if the data does not match the contract (ingest lets no such Roger event through).
    """
    effects = Effects()
    if fact.event_id in state.seen_events:
        return effects
    state.seen_events.add(fact.event_id)
    registered = RULES.get(fact.type)
    if registered is None:
        return effects
    model, apply = registered
    entry: HistoryEntry = {
        "at": fact.occurred_at.isoformat(),
        "source": "roger",
        "type": fact.type,
        "event_id": fact.event_id,
    }
    apply(
        state,
        model.model_validate(fact.data),
        Applied(fact, instant(fact.occurred_at), entry, effects),
    )
    return effects


# ---- connection -----------------------------------------------------------------------------


@rule("XeroConnectionEstablished", data=ConnectionData)
def connection_established(state: CompanyState, data: ConnectionData, fact: Applied) -> None:
    state.connection = data
    fact.effects.touched |= set(state.docs)  # everything that waited may go now
    fact.effects.vendors |= set(state.vendors)


@rule("XeroConnectionLost", data=NoData)
def connection_lost(state: CompanyState, data: NoData, fact: Applied) -> None:
    state.connection = None
    fact.effects.touched |= set(state.docs)


# ---- documents ------------------------------------------------------------------------------


def remember_vendor(state: CompanyState, vendor: Vendor, at: datetime) -> VendorLink:
    """The vendor's link, holding the latest of the vendor records seen (by ``at``)."""
    link = state.vendors.get(vendor.id)
    if link is None:
        link = VendorLink(vendor_id=vendor.id, vendor=vendor, version_at=at)
        state.vendors[vendor.id] = link
    elif at > link.version_at:
        link.vendor, link.version_at = vendor, at
    return link


def _new_version(
    state: CompanyState, kind: DocKind, roger_id: str, data: DocumentData, fact: Applied
) -> None:
    doc = state.doc(kind, roger_id)
    remember_vendor(state, data.vendor, fact.at)
    if doc.deleted:
        fact.entry["note"] = "ignored: the document was deleted in Roger"
    elif doc.version_at is not None and fact.at <= doc.version_at:
        fact.entry["note"] = "ignored: older than the version already known"
    else:
        state.set_version(doc, data, fact.at)
        doc.reopen()  # a new version from Roger is the company's fix: try again
        _follow_version(doc, data)
        # Xero changed it since our last version (edited, voided): Roger's is held.
        conflict = doc.conflict or xero_changes.version_conflict(doc, fact.at)
        if conflict is not None:
            xero_changes.hold(doc, conflict, fact.entry)
    fact.effects.note(doc.key, fact.entry)


def _follow_version(doc: Document, data: DocumentData) -> None:
    """What a newer version brings: a receipt's payment, a credit note's allocation, files.

    Whatever of the document failed goes again under a new attempt (issue 11, "recovery"):
    the newer version is Roger's correction.
    """
    if isinstance(data, ReceiptData):
        payment = doc.payments.setdefault(RECEIPT_PAYMENT, Payment(RECEIPT_PAYMENT))
        payment.data = data
        if payment.state == "failed" and not payment.refused_by_rule:
            payment.again()
    if isinstance(data, CreditNoteData) and data.applies_to_bill_id and doc.allocation is None:
        doc.allocation = Allocation(bill_id=data.applies_to_bill_id)
    allocation = doc.allocation
    if allocation is not None and allocation.state == "failed":
        allocation.state, allocation.reason = "pending", None
        allocation.attempt += 1
    for file in data.attachments:
        known = doc.attachments.get(file.filename)
        if known is None or known.sha256 != file.sha256:
            doc.attachments[file.filename] = AttachmentSync(file.filename, file.sha256)
        elif known.state == "failed":
            known.state, known.reason, known.attempt = "pending", None, known.attempt + 1


@rule("BillSubmitted", "BillUpdated", data=BillData)
def bill_version(state: CompanyState, data: BillData, fact: Applied) -> None:
    _new_version(state, "bill", data.bill_id, data, fact)


@rule("ReceiptSubmitted", data=ReceiptData)
def receipt_version(state: CompanyState, data: ReceiptData, fact: Applied) -> None:
    _new_version(state, "receipt", data.receipt_id, data, fact)


@rule("CreditNoteSubmitted", data=CreditNoteData)
def credit_note_version(state: CompanyState, data: CreditNoteData, fact: Applied) -> None:
    _new_version(state, "credit_note", data.credit_note_id, data, fact)


@rule("BillDeleted", data=BillDeletedData)
def bill_deleted(state: CompanyState, data: BillDeletedData, fact: Applied) -> None:
    doc = state.doc("bill", data.bill_id)
    doc.deleted = True
    if doc.conflict is not None and doc.in_xero is not None and doc.in_xero.gone:
        # Roger deletes what Xero voided or deleted: they agree, nothing is held.
        doc.conflict = None
        fact.entry["note"] = f"agrees with Xero: {doc.in_xero.summary}"
    if doc.state == "failed":
        # Same attempt: voiding is a new command of its own, not a retry of the refused one.
        doc.state, doc.reason = "pending", None
    fact.effects.note(doc.key, fact.entry)
    # A credit note waiting to be allocated to it will never be: it shows so now.
    fact.effects.touched |= {note.key for note in state.allocated_to(doc.roger_id)}


@rule("BillPaid", data=BillPaidData)
def bill_paid(state: CompanyState, data: BillPaidData, fact: Applied) -> None:
    """A version of a payment: the latest by ``occurred_at`` wins, as for documents.

    A failed payment goes again with Roger's newer version (the company's correction);
    one already made in Xero from another version is replaced by ``decisions``.
    """
    doc = state.doc("bill", data.bill_id)
    payment = doc.payments.setdefault(data.payment_id, Payment(data.payment_id))
    if payment.reversed:
        fact.entry["note"] = "ignored: the payment was reversed in Roger"
    elif payment.version_at is not None and fact.at <= payment.version_at:
        fact.entry["note"] = "ignored: older than the version of this payment already known"
    else:
        payment.data, payment.version_at = data, fact.at
        if payment.state == "failed":
            payment.again()
        # The bill was voided in Xero, or paid there: Roger's payment is held.
        conflict = doc.conflict or xero_changes.payment_conflict(doc, data.payment_id, fact.at)
        if conflict is not None:
            xero_changes.hold(doc, conflict, fact.entry)
    fact.effects.note(doc.key, fact.entry)


@rule("PaymentReversed", data=PaymentReversedData)
def payment_reversed(state: CompanyState, data: PaymentReversedData, fact: Applied) -> None:
    doc = state.doc("bill", data.bill_id)
    payment = doc.payments.setdefault(data.payment_id, Payment(data.payment_id))
    payment.reversed = True
    if payment.state == "failed":
        payment.again()
    payment.reason = data.reason
    fact.effects.note(doc.key, fact.entry)


@rule("VendorUpdated", data=VendorUpdatedData)
def vendor_updated(state: CompanyState, data: VendorUpdatedData, fact: Applied) -> None:
    link = remember_vendor(state, data.vendor, fact.at)
    if link.update_version_at is None or fact.at > link.update_version_at:
        link.update_version_at = fact.at
    fact.effects.vendors.add(link.vendor_id)
    for doc in state.docs_of_vendor(link.vendor_id):
        fact.effects.note(doc.key, fact.entry)


# ---- people ---------------------------------------------------------------------------------


@rule("DocumentRetryRequested", data=RetryData)
def retry_requested(state: CompanyState, data: RetryData, fact: Applied) -> None:
    key = (data.kind, data.roger_id)
    if key in state.docs:
        doc = state.docs[key]
        if data.resend is not None:
            resend(doc, data.resend, data.payment_id, data.reason, fact.entry)
        else:
            retry(doc, fact.entry)
        # A bill waits for credit to come off it in Xero, and a credit note's allocation for
        # its bill: each is decided again, and a bill's retry retries those allocations too.
        if doc.allocation is not None:
            fact.effects.touched.add(("bill", doc.allocation.bill_id))
        if doc.kind == "bill":
            for note in state.allocated_to(doc.roger_id):
                _retry_allocation(note)
                fact.effects.touched.add(note.key)
        link = state.vendors.get(doc.vendor_id or "")
        if link is not None and link.failure:
            # Xero refused the vendor's contact: the retry asks for it again, as a new command.
            link.failure, link.attempt = None, link.attempt + 1
        fact.effects.note(key, fact.entry)


def retry(doc: Document, entry: HistoryEntry | None = None) -> None:
    """A person asked to send a failed document again (after fixing the cause).

    The document and each failed payment, allocation and attachment go again under a new
    attempt number, so each gets a new command id. A document held in a conflict with
    Xero (``xero_changes``) is the person's choice of Roger's version: it goes to Xero,
    over the accountant's edit; a bill voided or deleted in Xero is made again.
    """
    if doc.conflict is not None:
        if entry is not None:
            entry["note"] = (
                "conflict resolved by a person, Roger's version goes to Xero: "
                f"{doc.conflict.reason}"
            )
        doc.conflict = None
        side = doc.in_xero
        if side is not None:
            side.edited_since_sync = False
            if side.gone:
                _forget_xero(doc)
                side.gone = None
    doc.reopen()
    for payment in doc.payments.values():
        if payment.state == "failed":
            payment.again()
    _retry_allocation(doc)
    for attachment in doc.attachments.values():
        if attachment.state == "failed":
            attachment.state, attachment.reason = "pending", None
            attachment.attempt += 1


def _forget_xero(doc: Document) -> None:
    """Xero no longer holds the document (voided or deleted there, or missing): it is made
    again from Roger's latest version, its payments with it."""
    doc.xero_id = doc.xero_number = None
    doc.xero_total = None
    doc.synced_version_at = None
    doc.remake_gone = True  # the gone bill still has our Url: the writer must not take it
    for payment in doc.payments.values():
        if payment.xero_id is not None:
            payment.xero_id, payment.made, payment.made_amount = None, None, None
            payment.again()


def resend(
    doc: Document, what: str, payment_id: str | None, reason: str | None, entry: HistoryEntry
) -> None:
    """``roger-xero reconcile --fix``: Xero lacks what Roger holds, with no conflict; it is
    sent again under a new attempt (new command ids; the writer's answers for the old ones
    would otherwise be replayed without calling Xero).

    ``document``: Xero lacks the document; it is made again. ``update``: a person chose
    Roger's amounts or dates over Xero's; Roger's version is sent again. ``payment``: Xero
    never got the payment ``payment_id`` (Roger has no Xero id for it); it is made again. A
    payment Roger has as made in Xero is never touched (it would be paid twice), and a
    document held in a conflict is left to a person.
    """
    entry["note"] = f"reconcile: {reason or what}; sending Roger's {what} again"
    if doc.conflict is not None:
        entry["note"] = f"reconcile: not sent, the document is held in a conflict ({reason})"
        return
    if what == "document":
        if doc.xero_id is not None:
            _forget_xero(doc)
        if doc.outstanding is not None:
            return  # its command is in flight: its answer says what Xero holds
        if doc.state != "failed":
            doc.fail("not in Xero")  # reopened at once, as a new attempt
        retry(doc)
    elif what == "update":
        doc.synced_version_at = None
        doc.attempt += 1
        if doc.in_xero is not None:
            doc.in_xero.edited_since_sync = False
        doc.reopen()
    elif what == "payment":
        payment = doc.payments.get(payment_id or "")
        if payment is None or payment.data is None or payment.reversed:
            entry["note"] = f"reconcile: not sent, Roger has no payment {payment_id} to send"
        elif payment.xero_id is not None or payment.outstanding is not None:
            # Made in Xero (or being made): sending it again would pay the bill twice. The
            # read API refuses this too; a fact published before it did is left here.
            entry["note"] = (
                f"reconcile: not sent, payment {payment_id} is in Xero as {payment.xero_id}"
                if payment.xero_id is not None
                else f"reconcile: not sent, payment {payment_id} is being made in Xero"
            )
        else:
            payment.again("not in Xero (reconcile): made again")


def _retry_allocation(note: Document) -> None:
    allocation = note.allocation
    if allocation is not None and allocation.state == "failed":
        allocation.state, allocation.reason = "pending", None
        allocation.attempt += 1


# ---- facts that could not be applied --------------------------------------------------------

# The document each fact names, for showing a fact that failed on the document it is about.
_NAMED: dict[str, tuple[DocKind, str]] = {
    "BillSubmitted": ("bill", "bill_id"),
    "BillUpdated": ("bill", "bill_id"),
    "BillDeleted": ("bill", "bill_id"),
    "BillPaid": ("bill", "bill_id"),
    "PaymentReversed": ("bill", "bill_id"),
    "ReceiptSubmitted": ("receipt", "receipt_id"),
    "CreditNoteSubmitted": ("credit_note", "credit_note_id"),
}


def named_document(fact: DomainEvent) -> tuple[DocKind, str] | None:
    """The (kind, Roger id) of the document a fact is about, if it names one; never raises."""
    if fact.type == "DocumentRetryRequested":
        try:
            retry_data = RetryData.model_validate(fact.data)
        except ValueError:
            return None
        return retry_data.kind, retry_data.roger_id
    named = _NAMED.get(fact.type)
    if named is None:
        return None
    roger_id = fact.data.get(named[1])
    return (named[0], roger_id) if isinstance(roger_id, str) else None


def fact_failed(
    state: CompanyState, event_id: str, kind: DocKind, roger_id: str, reason: str, at: datetime
) -> Effects:
    """A fact about this document could not be applied (it was dead-lettered): show it failed.

    The fact is not marked seen, so the dead letter, replayed, is applied as new; a retry
    sends the document again as the state knows it.
    """
    effects = Effects()
    doc = state.doc(kind, roger_id)
    doc.fail(reason)
    effects.note(
        doc.key,
        {
            "at": at.isoformat(),
            "source": "projector",
            "type": "FactDeadLettered",
            "event_id": event_id,
            "message": reason,
        },
    )
    return effects
