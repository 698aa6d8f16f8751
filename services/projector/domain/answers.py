"""What each Xero answer (a result on ``rx.xero-results.v1``) does to a company's state.

An answer lands on what its command was for (``state.outstanding``): a vendor's
contact, a document, or one of a document's payments, allocation or attachments.
One answer per command counts; ``XeroCommandWaiting`` is not final (the command
stays outstanding and the outbox sends it again). Answers are handled by the
kind of command they answer, one function per kind (``ANSWERS``).

Pure: no Kafka, no database, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from services.projector.domain.state import (
    CompanyState,
    Document,
    Effects,
    HistoryEntry,
    Outstanding,
    VendorLink,
)
from shared.contracts.results import XeroResult

MAKING_AGAIN = "removed in Xero to bring the bill up to date; made again next"
ALLOCATING_AGAIN = "taken off the bill in Xero to bring the bill up to date; allocated again next"
_ALLOCATIONS = ("AllocateCreditNote", "DeleteAllocation")

AnswerRule = Callable[[CompanyState, Document, Outstanding, XeroResult, Effects], None]


def apply_result(state: CompanyState, result: XeroResult) -> Effects:
    """Applies one Xero answer to ``state`` (in place); returns what it touched.

    An answer heard before, or to a command this state did not send, changes nothing
    (the latter is noted in the document's history). Never raises on a valid result.
    """
    effects = Effects()
    if result.command_id in state.answered:
        return effects
    if result.type == "XeroCommandWaiting":
        # Not a final answer: the command stays outstanding, and the projector's outbox sends
        # it again (at once after a reconnect, else after a while), so the document resumes
        # under the same command id, and a dead letter replayed by an SRE is still heard.
        target = state.outstanding.get(result.command_id)
    else:
        state.answered.add(result.command_id)
        target = state.outstanding.pop(result.command_id, None)
    entry: HistoryEntry = {
        "at": result.recorded_at.isoformat(),
        "source": "xero",
        "type": result.type,
        "command_id": result.command_id,
        "xero_id": result.xero_id,
        "message": result.message,
    }
    if target is None:
        entry["note"] = "answer to a command this state did not send"
        effects.history.append(((result.document_kind, result.document_id), entry))
        return effects
    if result.type == "XeroCommandWaiting":
        _waiting(state, target, result.message or "waiting", effects, entry)
        return effects
    if target.vendor_id is not None:
        link = state.vendors.get(target.vendor_id)
        if link is not None:
            _vendor_answer(state, link, target, result, effects, entry)
        return effects
    doc = state.docs.get(target.doc) if target.doc is not None else None
    answer = ANSWERS.get(target.command_kind)
    if doc is None or answer is None:
        entry["note"] = f"answer to a {target.command_kind} this state cannot place"
        effects.history.append(((result.document_kind, result.document_id), entry))
        return effects
    effects.note(doc.key, entry)
    answer(state, doc, target, result, effects)
    # One bill's money moves one step at a time (decisions.py): the answer frees the bill's
    # next step, and that of a credit note waiting to be allocated to it, and vice versa.
    # An allocation's answer frees the bill and every other credit note waiting on it (two
    # credit notes for one bill: the second waits while the first is allocated).
    bill_id = doc.roger_id if doc.kind == "bill" else None
    if target.command_kind in _ALLOCATIONS and doc.allocation is not None:
        bill_id = doc.allocation.bill_id
    if bill_id is not None:
        effects.touched.add(("bill", bill_id))
        effects.touched |= {other.key for other in state.allocated_to(bill_id)}
    return effects


def _waiting(
    state: CompanyState, target: Outstanding, reason: str, effects: Effects, entry: HistoryEntry
) -> None:
    """Shows why a command cannot run now; it stays outstanding, so nothing is re-decided."""
    if target.vendor_id is not None:
        docs = [d for d in state.docs_of_vendor(target.vendor_id) if d.xero_id is None]
    elif target.doc is not None and target.doc in state.docs:
        docs = [state.docs[target.doc]]
    else:
        docs = []
    for doc in docs:
        effects.note(doc.key, entry)
        if target.command_kind in ("CreatePayment", "DeletePayment") and target.sub_id:
            payment = doc.payments[target.sub_id]
            payment.state, payment.reason = "waiting", reason
        elif target.command_kind in _ALLOCATIONS and doc.allocation:
            doc.allocation.state, doc.allocation.reason = "waiting", reason
        elif target.command_kind != "UploadAttachment" and doc.state != "failed":
            doc.state, doc.reason = "waiting", reason


def _vendor_answer(
    state: CompanyState,
    link: VendorLink,
    target: Outstanding,
    result: XeroResult,
    effects: Effects,
    entry: HistoryEntry,
) -> None:
    link.outstanding = None
    docs = state.docs_of_vendor(link.vendor_id)
    if target.command_kind == "EnsureContact":
        if result.type == "XeroContactLinked":
            link.contact_id, link.failure = result.xero_id, None
            link.synced_version_at = target.version_at
        elif result.type == "XeroCommandFailed":
            link.failure = result.message
    elif result.type == "XeroContactUpdated":
        link.synced_version_at = target.version_at
    elif result.type == "XeroCommandFailed":
        link.synced_version_at = target.version_at  # not retried by itself: shown instead
        for doc in docs:
            doc.warn(f"vendor details not updated in Xero: {result.message}")
    effects.vendors.add(link.vendor_id)
    for doc in docs:
        effects.note(doc.key, entry)


def _refused(doc: Document, result: XeroResult, target: Outstanding | None = None) -> bool:
    """Whether Xero refused; shows it, unless Roger sent a newer version meanwhile (that one
    goes next, under a new attempt: it is the company's correction)."""
    if result.type != "XeroCommandFailed":
        return False
    sent = target.version_at if target is not None else None
    if sent is not None and doc.version_at is not None and sent < doc.version_at:
        doc.attempt += 1
        doc.state, doc.reason = "pending", None
    else:
        doc.fail(result.message or "Xero refused the document")
    return True


def _created(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    doc.outstanding = None
    if _refused(doc, result, target):
        return
    doc.xero_id, doc.xero_number = result.xero_id, result.xero_number
    doc.remake_gone = False
    doc.synced_version_at = target.version_at
    doc.state, doc.reason = "synced", None
    _xero_holds_ours(doc)
    _note(doc, result)
    _check_total(doc, result.xero_total)
    _moved_contact(state, doc, result, effects)


def _updated(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    doc.outstanding = None
    if _refused(doc, result, target):
        return
    doc.synced_version_at = target.version_at
    doc.state, doc.reason = "synced", None
    # The number Xero now holds (ours, sent with the update): reconcile compares with it.
    doc.xero_number = result.xero_number or doc.xero_number
    _xero_holds_ours(doc)
    _note(doc, result)
    _check_total(doc, result.xero_total)
    _moved_contact(state, doc, result, effects)


def _xero_holds_ours(doc: Document) -> None:
    """Xero took our version: an edit made there before it is no longer Xero's word (what
    Xero said stays shown in ``in_xero``, and in the history)."""
    if doc.in_xero is not None:
        doc.in_xero.edited_since_sync = False
        doc.in_xero.gone = None


def _moved_contact(
    state: CompanyState, doc: Document, result: XeroResult, effects: Effects
) -> None:
    """The writer found the vendor's contact merged into another in Xero (MergedToContactID)
    and posted to the survivor: the vendor is linked to the survivor from now on (the
    result's warning, shown by ``_note``, says so)."""
    link = state.vendors.get(doc.vendor_id or "")
    if result.contact_id and link is not None and link.contact_id != result.contact_id:
        link.contact_id = result.contact_id
        effects.vendors.add(link.vendor_id)


def _note(doc: Document, result: XeroResult) -> None:
    """What the writer said with a success (an adopted bill, a near miss, a total that
    differs) is shown on the document as a warning."""
    if result.message:
        doc.warn(result.message)


def _voided(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    doc.outstanding = None
    if not _refused(doc, result):
        doc.state, doc.reason = "deleted", None


def _payment_answer(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    """A payment made, deleted or refused.

    Deleted: a reversed payment, or any payment of a bill deleted in Roger, is done; any
    other was removed so that the bill could be edited or the payment replaced, and is made
    again (a new attempt). Refused while Roger sent a newer version: the newer one goes.
    """
    payment = doc.payments.get(target.sub_id or "")
    if payment is None:
        return
    payment.outstanding = None
    sent, payment.sent = payment.sent, None
    if result.type == "XeroPaymentCreated":
        payment.xero_id, payment.made = result.xero_id, sent
        payment.made_amount = result.amount if result.amount is not None else payment.amount
        payment.state, payment.reason = "synced", None
        payment.currency_rate = result.currency_rate
        payment.currency_rate_source = result.currency_rate_source
    elif result.type == "XeroPaymentDeleted":
        payment.xero_id, payment.made, payment.made_amount = None, None, None
        payment.currency_rate = payment.currency_rate_source = None
        if payment.reversed:
            payment.state, payment.reason = "deleted", None
        elif doc.deleted:
            payment.state, payment.reason = "deleted", "deleted in Xero with its bill"
        else:
            payment.again(MAKING_AGAIN)
    elif result.type == "XeroCommandFailed":
        if target.command_kind == "CreatePayment" and sent is not None and sent != payment.data:
            # Refused, but Roger has corrected the payment meanwhile: the correction goes.
            payment.again()
        else:
            payment.state, payment.reason = "failed", result.message


def _allocation_answer(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    allocation = doc.allocation
    if allocation is None:
        return
    allocation.outstanding = None
    if result.type == "XeroCreditNoteAllocated":
        allocation.state, allocation.amount = "synced", result.amount
        # The AllocationID, to take it off again; an allocation of nothing has none.
        allocation.xero_id = result.xero_id if result.amount else None
        if result.message:
            doc.warn(result.message)
    elif result.type == "XeroAllocationDeleted":
        allocation.xero_id, allocation.amount = None, None
        bill = state.docs.get(("bill", allocation.bill_id))
        if bill is not None and bill.deleted:
            allocation.state, allocation.reason = "deleted", "the bill was deleted in Roger"
            doc.warn(f"bill {allocation.bill_id} was deleted: the credit stays open in Xero")
        else:
            allocation.state, allocation.reason = "pending", ALLOCATING_AGAIN
            allocation.attempt += 1
    elif result.type == "XeroCommandFailed":
        allocation.state, allocation.reason = "failed", result.message
        if target.command_kind == "DeleteAllocation":
            doc.warn(f"allocation to bill {allocation.bill_id} not taken off: {result.message}")
        else:
            doc.warn(f"not allocated to bill {allocation.bill_id}: {result.message}")


def _attachment_answer(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    attachment = doc.attachments.get(target.sub_id or "")
    if attachment is None:
        return
    attachment.outstanding = None
    if result.type == "XeroAttachmentUploaded":
        attachment.state, attachment.xero_id = "synced", result.xero_id
        if result.message:  # e.g. renamed to keep names distinct in Xero
            doc.warn(f"attachment {attachment.filename}: {result.message}")
    else:
        # A file that cannot be fetched or attached is a warning, never a lost document.
        attachment.state, attachment.reason = "failed", result.message
        doc.warn(f"attachment {attachment.filename}: {result.message}")


# What an answer does, by the kind of command it answers (contact commands: ``_vendor_answer``).
ANSWERS: dict[str, AnswerRule] = {
    "CreateBill": _created,
    "CreateCreditNote": _created,
    "UpdateBill": _updated,
    "VoidBill": _voided,
    "CreatePayment": _payment_answer,
    "DeletePayment": _payment_answer,
    "AllocateCreditNote": _allocation_answer,
    "DeleteAllocation": _allocation_answer,
    "UploadAttachment": _attachment_answer,
}


def _check_total(doc: Document, xero_total: Decimal | None) -> None:
    """Keeps Xero's total (what is due is reckoned from it). Whether it matches Roger's is
    the writer's check, to the cent, against the ``total`` the command carried: its warning
    comes with the answer (``_note``)."""
    doc.xero_total = xero_total
