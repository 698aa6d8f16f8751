"""Which Xero commands a company's state calls for now, and what waits (and why).

After each fact or answer, the touched vendors and documents are decided again:
a document needs its vendor's contact before it can be created (or moved to
another vendor), a payment, allocation or attachment needs its document in Xero,
and nothing goes out without a connection.

A bill's money moves one step at a time (issue 11, "order of operations"): Xero
carries out commands in the order they reach it, refuses to edit or void a bill
with payments or credit, and refuses a payment over what is due or on a bill that
is not AUTHORISED. So at most one command that changes what a bill is owed is in
flight (its create, update or void, a payment made or deleted, a credit allocated
to it or taken off it), and each step is chosen from Roger's latest truth once Xero
has answered the last: payments and credit allocations that must leave Xero first,
then the void or the update, then the payments that fit what is due, then the
credit; the others wait, with the reason shown.

Every command id is derived from what the command does (company, document,
attempt, version), so deciding the same thing twice gives the same command, and
the writer's idempotency key follows.

Pure: no Kafka, no database; the decision time is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from services.projector.domain.state import (
    CompanyState,
    Document,
    Effects,
    Outstanding,
    Payment,
    VendorLink,
)
from shared.contracts.commands import (
    AllocateCreditNote,
    AnyCommand,
    BillLine,
    CreateBill,
    CreateCreditNote,
    CreatePayment,
    DeleteAllocation,
    DeletePayment,
    EnsureContact,
    UpdateBill,
    UpdateContact,
    UploadAttachment,
    VoidBill,
    command_id,
)
from shared.contracts.roger_events import (
    AmountType,
    BillData,
    BillPaidData,
    CreditNoteData,
    ReceiptData,
)

LINE_AMOUNT_TYPES: dict[AmountType, Literal["Exclusive", "Inclusive", "NoTax"]] = {
    "exclusive": "Exclusive",
    "inclusive": "Inclusive",
    "no_tax": "NoTax",
}

NOT_CONNECTED = "not_connected: the company has no Xero connection yet"
WAITING_FOR_CONTACT = "waiting for the vendor's Xero contact"
WAITING_FOR_BILL = "waiting for the bill to be in Xero"
WAITING_FOR_BILL_EVENT = "waiting for bill.submitted of this bill"
UPDATING = "sending Roger's latest version to Xero"
VOIDING = "voiding the bill in Xero"
DELETING_PAYMENT = "deleting the payment in Xero"
WAITING_FOR_STEP = "waiting for Xero's answer to the step before it on this bill"
WAITING_FOR_UPDATE = "waiting for the bill's update in Xero"
WAITING_FOR_BILL_STEPS = "waiting for the bill's payments and updates in Xero"
SETTLED_BY_XERO = "nothing to pay: Xero settles a zero-total document itself (PAID)"
NOTHING_TO_PAY = "nothing to pay: the payment is 0.00"
ZERO = Decimal("0")
HELD = "held: the document is in a conflict with Xero, for a person to decide (retry)"


@dataclass
class _Decider:
    state: CompanyState
    at: datetime
    app_url: str
    effects: Effects
    commands: list[AnyCommand] = field(default_factory=list)

    def note(self, doc: Document, message: str) -> None:
        """A line in the document's history saying why the projector takes a step."""
        self.effects.history.append(
            (
                doc.key,
                {"at": self.at.isoformat(), "source": "projector", "type": "Note", "note": message},
            )
        )

    def issue(self, command: AnyCommand, target: Outstanding) -> str:
        self.state.outstanding[command.command_id] = target
        self.commands.append(command)
        return command.command_id

    def base(self, doc_kind: str, doc_id: str, *parts: str) -> dict[str, Any]:
        conn = self.state.connection
        assert conn is not None  # only called once connected
        return {
            "command_id": command_id(self.state.company_id, *parts),
            "company_id": self.state.company_id,
            "tenant_id": conn.tenant_id,
            "issued_at": self.at,
            "document_kind": doc_kind,
            "document_id": doc_id,
        }


def decide(
    state: CompanyState, effects: Effects, issued_at: datetime, app_url: str
) -> list[AnyCommand]:
    """The commands the touched vendors and documents need now, marking what waits and why.

    ``issued_at`` is the commands' issue time; ``app_url`` is Roger's web app, from which
    each document's ``Url`` in Xero is made. Updates ``state`` (outstanding commands,
    states and reasons) in place. Never raises on a state built from valid facts.
    """
    decider = _Decider(state, issued_at, app_url, effects)
    if state.connection is not None:
        for vendor_id in sorted(effects.vendors):
            if vendor_id in state.vendors:
                _decide_vendor(decider, state.vendors[vendor_id])
    for key in sorted(effects.touched):
        if key in state.docs:
            _decide_doc(decider, state.docs[key])
    return decider.commands


def _decide_vendor(d: _Decider, link: VendorLink) -> None:
    wanted = link.update_version_at
    if link.contact_id is None or link.outstanding or wanted is None:
        return
    if link.synced_version_at is not None and wanted <= link.synced_version_at:
        return
    cmd = UpdateContact(
        **d.base("vendor", link.vendor_id, "contact-update", link.vendor_id, wanted.isoformat()),
        contact_id=link.contact_id,
        vendor=link.vendor,
    )
    link.outstanding = d.issue(
        cmd, Outstanding("UpdateContact", vendor_id=link.vendor_id, version_at=link.version_at)
    )


def _wait_all(doc: Document, reason: str) -> None:
    if doc.xero_id is None and doc.state != "failed":
        doc.state, doc.reason = "waiting", reason
    for p in doc.payments.values():
        if p.data is not None and not p.reversed and p.xero_id is None and p.state != "failed":
            p.state, p.reason = "waiting", reason


def _decide_doc(d: _Decider, doc: Document) -> None:
    if doc.data is None:
        if doc.deleted:
            doc.state, doc.reason = "deleted", None
            _payments_gone(doc)
        else:
            _wait_all(
                doc,
                f"waiting for {doc.kind.replace('_', ' ')} submission from Roger"
                if doc.kind != "bill"
                else WAITING_FOR_BILL_EVENT,
            )
        return
    if d.state.connection is None:
        _wait_all(doc, NOT_CONNECTED)
        return
    if doc.conflict is not None:
        _held(doc)  # Roger and Xero changed it both: a person decides (xero_changes.py)
        return
    side = doc.in_xero
    if doc.deleted and side is not None and side.gone and doc.outstanding is None:
        # Voided or deleted in Xero, deleted in Roger: they agree, nothing is left to void.
        doc.state, doc.reason = "deleted", None
        _payments_gone(doc)
        return
    if doc.xero_id is None:
        if doc.deleted:
            if doc.outstanding is None:  # a create in flight is voided once it answers
                doc.state, doc.reason = "deleted", None
                _payments_gone(doc)
            return
        _decide_create(d, doc)
        return
    if doc.kind == "credit_note":
        if doc.outstanding is None:
            if doc.state != "failed":
                doc.state, doc.reason = "synced", None
            _decide_attachments(d, doc)
            _decide_allocation(d, doc)
        return
    _decide_bill(d, doc)


def _held(doc: Document) -> None:
    """A document held in a conflict with Xero takes no command: it shows ``failed`` with
    the conflict (once no command of it is in flight), and its payments not in Xero wait."""
    assert doc.conflict is not None
    if doc.outstanding is None:
        doc.state, doc.reason = "failed", doc.conflict.reason
    for p in doc.payments.values():
        if p.data is not None and not p.reversed and p.xero_id is None and not p.outstanding:
            if p.state in ("pending", "waiting"):
                p.state, p.reason = "waiting", HELD


def _lane_busy(state: CompanyState, bill: Document) -> bool:
    """Whether a command that moves the bill's money is in flight (issue 11, "order of
    operations"): its create, update or void, a payment made or deleted, or a credit note
    allocated to it. Xero orders such commands by arrival, so the next goes only once
    Xero has answered the last."""
    return (
        bill.outstanding is not None
        or any(p.outstanding for p in bill.payments.values())
        or any(
            other.allocation.outstanding
            for other in state.allocated_to(bill.roger_id)
            if other.allocation is not None
        )
    )


def _behind(doc: Document) -> bool:
    """Whether Xero holds an older version of the bill than Roger's latest (and may get it)."""
    assert doc.version_at is not None  # set together with data
    behind = doc.synced_version_at is None or doc.synced_version_at < doc.version_at
    return doc.kind == "bill" and behind and not doc.deleted and doc.state != "failed"


def _decide_bill(d: _Decider, doc: Document) -> None:
    """A bill (or receipt) in Xero, one step at a time towards Roger's latest truth.

    In order: its payments that must leave Xero are deleted (reversed in Roger, changed in
    Roger, the bill deleted, or the bill about to be edited: Xero refuses edits and voids
    of a bill with payments); then the bill is voided, or updated to Roger's latest
    version; then each payment is made that fits what is due.
    """
    behind = _behind(doc)
    contact_id = _contact(d, doc) if behind and doc.outstanding is None else None
    if behind and contact_id is None:
        _show_payments(d, doc, WAITING_FOR_BILL)
        return  # waits for the contact of the vendor it moves to (or shows its refusal)
    if _lane_busy(d.state, doc):
        _show_payments(d, doc, WAITING_FOR_STEP)
        if doc.outstanding is None and not doc.deleted:
            _decide_attachments(d, doc)
        return
    for payment in sorted(doc.payments.values(), key=lambda p: p.payment_id):
        why = _why_remove(doc, payment, behind)
        if why is not None:
            _delete_payment(d, doc, payment, why)
            _show_payments(d, doc, WAITING_FOR_STEP)
            return
    if _unallocate_first(d, doc, behind):
        _show_payments(d, doc, WAITING_FOR_STEP)
        return
    if doc.deleted:
        _payments_gone(doc)
        if doc.state not in ("deleted", "failed"):  # voided, or Xero refused (shown, retryable)
            _void(d, doc)
        return
    if behind:
        assert contact_id is not None
        _update(d, doc, contact_id)
        _show_payments(d, doc, WAITING_FOR_UPDATE)
        return
    if doc.state != "failed":
        doc.state, doc.reason = "synced", None
    _decide_payments(d, doc)
    _decide_attachments(d, doc)


def _why_remove(doc: Document, payment: Payment, behind: bool) -> str | None:
    """Why this payment must leave Xero now, or None if it stays (or is not there)."""
    if payment.xero_id is None or payment.state == "failed":
        return None  # not in Xero, or Xero refused to delete it (shown, retryable)
    if payment.reversed:
        return DELETING_PAYMENT
    if doc.deleted:
        return (
            "deleting the payment in Xero: the bill was deleted in Roger, and Xero voids "
            "only a bill without payments"
        )
    if behind:
        return (
            "removing the payment in Xero to update the bill (Xero refuses edits of a bill "
            "with payments); it is made again once the bill is updated"
        )
    if isinstance(payment.data, BillPaidData) and payment.made != payment.data:
        return "replacing the payment in Xero with Roger's newer version of it"
    return None


def _unallocate_first(d: _Decider, bill: Document, behind: bool) -> bool:
    """Takes one credit note's allocation off the bill in Xero when the bill is to be voided
    or updated (Xero refuses either while credit is allocated to it); True if the bill must
    wait for it (a removal sent, or one Xero refused: the bill then shows why).

    An allocation of nothing (nothing was due) is asked for again once the bill is updated:
    the new total may leave something due for the credit.
    """
    if not (bill.deleted or behind):
        return False
    if bill.deleted:
        why = (
            "taking the credit note's allocation off the bill in Xero: the bill was deleted "
            "in Roger, and Xero voids only a bill without credit allocated; the credit stays "
            "open"
        )
    else:
        why = (
            "taking the credit note's allocation off the bill in Xero to update the bill "
            "(Xero refuses edits of a bill with credit allocated); it is allocated again once "
            "the bill is updated"
        )
    for note in sorted(d.state.allocated_to(bill.roger_id), key=lambda n: n.roger_id):
        allocation = note.allocation
        assert allocation is not None  # allocated_to gives only notes with one
        if allocation.xero_id is None or allocation.outstanding:
            if behind and allocation.state == "synced" and allocation.xero_id is None:
                allocation.state, allocation.reason = "pending", None
                allocation.attempt += 1
            continue
        if allocation.state == "failed":
            bill.fail(
                f"credit note {note.roger_id} is still allocated to the bill in Xero "
                f"({allocation.reason}); retry once the cause is fixed"
            )
            return True
        assert note.xero_id is not None and bill.xero_id is not None
        parts = (
            "unallocate",
            note.roger_id,
            allocation.xero_id,
            str(allocation.attempt),
        )
        cmd = DeleteAllocation(
            **d.base(note.kind, note.roger_id, *parts),
            credit_note_id=note.xero_id,
            allocation_id=allocation.xero_id,
            invoice_id=bill.xero_id,
        )
        allocation.outstanding = d.issue(cmd, Outstanding("DeleteAllocation", doc=note.key))
        allocation.state, allocation.reason = "pending", why
        d.note(bill, f"credit note {note.roger_id}: {why}")
        return True
    return False


def _show_payments(d: _Decider, doc: Document, reason: str) -> None:
    """Payments still to be made wait, visibly, for the step in flight."""
    for p in doc.payments.values():
        if p.outstanding or p.xero_id or p.data is None or p.reversed:
            continue
        if p.state in ("pending", "waiting"):
            p.state, p.reason = "waiting", reason


def _payments_gone(doc: Document) -> None:
    """The bill is deleted: payments never made in Xero never will be."""
    for p in doc.payments.values():
        if p.xero_id is None and p.outstanding is None and p.state != "deleted":
            p.state = "deleted"
            p.reason = None if p.reversed else "the bill was deleted in Roger"


def _delete_payment(d: _Decider, doc: Document, payment: Payment, why: str) -> None:
    assert payment.xero_id is not None
    parts = (
        "payment-delete",
        doc.kind,
        doc.roger_id,
        payment.payment_id,
        payment.xero_id,
        str(payment.attempt),
    )
    cmd = DeletePayment(
        **d.base(doc.kind, doc.roger_id, *parts),
        payment_id=payment.payment_id,
        xero_payment_id=payment.xero_id,
    )
    payment.outstanding = d.issue(
        cmd, Outstanding("DeletePayment", doc=doc.key, sub_id=payment.payment_id)
    )
    payment.state, payment.reason = "pending", why
    if not payment.reversed:
        d.note(doc, f"payment {payment.payment_id}: {why}")


def _void(d: _Decider, doc: Document) -> None:
    assert doc.xero_id is not None
    cmd = VoidBill(
        **d.base(doc.kind, doc.roger_id, doc.kind, doc.roger_id, "void", str(doc.attempt)),
        invoice_id=doc.xero_id,
    )
    doc.outstanding = d.issue(cmd, Outstanding("VoidBill", doc=doc.key))
    doc.state, doc.reason = "pending", VOIDING


def _contact(d: _Decider, doc: Document) -> str | None:
    """The Xero contact of the document's vendor; else asks for it and marks the document.

    Returns None while the contact is not linked yet (the document waits for it), or when
    Xero refused to find or create it (the document is ``failed``, with Xero's reason).
    """
    assert doc.data is not None
    link = d.state.vendors[doc.data.vendor.id]
    if link.contact_id is not None:
        return link.contact_id
    if link.failure:
        doc.fail(f"vendor contact: {link.failure}")
        return None
    doc.state, doc.reason = "waiting", WAITING_FOR_CONTACT
    if not link.outstanding:
        ensure = EnsureContact(
            **d.base("vendor", link.vendor_id, "contact", link.vendor_id, str(link.attempt)),
            vendor=link.vendor,
        )
        link.outstanding = d.issue(
            ensure,
            Outstanding("EnsureContact", vendor_id=link.vendor_id, version_at=link.version_at),
        )
    return None


def _decide_create(d: _Decider, doc: Document) -> None:
    if doc.outstanding or doc.state == "failed":
        return
    _wait_all(doc, WAITING_FOR_BILL)
    contact_id = _contact(d, doc)
    if contact_id is None:
        return
    body = _body(d, doc, contact_id)
    parts = (doc.kind, doc.roger_id, "create", str(doc.attempt))
    cmd: AnyCommand
    if doc.kind == "credit_note":
        cmd = CreateCreditNote(**d.base(doc.kind, doc.roger_id, *parts), **body)
    else:
        cmd = CreateBill(
            **d.base(doc.kind, doc.roger_id, *parts), **body, remake_gone=doc.remake_gone
        )
    doc.outstanding = d.issue(cmd, Outstanding(cmd.kind, doc=doc.key, version_at=doc.version_at))
    doc.state, doc.reason = "pending", None


def _update(d: _Decider, doc: Document, contact_id: str) -> None:
    """Sends Roger's latest version, under ``contact_id`` (the contact of the vendor it names
    now: a bill may move to another vendor)."""
    assert doc.xero_id is not None and doc.version_at is not None
    parts = (doc.kind, doc.roger_id, "update", doc.version_at.isoformat(), str(doc.attempt))
    cmd = UpdateBill(
        **d.base(doc.kind, doc.roger_id, *parts),
        invoice_id=doc.xero_id,
        **_body(d, doc, contact_id),
    )
    doc.outstanding = d.issue(
        cmd, Outstanding("UpdateBill", doc=doc.key, version_at=doc.version_at)
    )
    doc.state, doc.reason = "pending", UPDATING


def _body(d: _Decider, doc: Document, contact_id: str) -> dict[str, Any]:
    """What Xero is told of a bill, receipt or credit note (``_DocumentBody``'s fields)."""
    data = doc.data
    conn = d.state.connection
    assert data is not None and conn is not None
    if isinstance(data, BillData):
        number, issue_date, due_date = data.invoice_number, data.issue_date, data.due_date
    elif isinstance(data, ReceiptData):
        number, issue_date, due_date = data.receipt_number, data.paid_on, data.paid_on
    else:
        assert isinstance(data, CreditNoteData)
        number, issue_date, due_date = data.credit_note_number, data.issue_date, None
    return {
        "contact_id": contact_id,
        "lock_date_policy": conn.lock_date_policy,
        "bill_status": conn.bill_status,
        "number": number or doc.roger_id,
        "issue_date": issue_date,
        "due_date": due_date,
        "currency": data.currency,
        "total": data.total,
        "line_amount_types": LINE_AMOUNT_TYPES[data.amount_type],
        "lines": tuple(
            BillLine(
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                account_code=line.category_code or conn.default_account_code,
                tax_type=line.tax_type,
                tracking=line.tracking,
            )
            for line in data.lines
        ),
        # Quoted: a Roger id may hold any character, and the Url is how the writer finds it.
        "url": f"{d.app_url}/companies/{quote(d.state.company_id, safe='')}/{doc.kind}s/"
        f"{quote(doc.roger_id, safe='')}",
    }


def amount_due(state: CompanyState, doc: Document) -> Decimal:
    """What Xero has due on the bill: its total (Xero's, else Roger's) less the payments
    made and the credit allocated to it, as Xero answered them."""
    assert doc.data is not None
    total = doc.xero_total if doc.xero_total is not None else doc.data.total
    paid = sum(
        (p.made_amount or ZERO for p in doc.payments.values() if p.xero_id is not None), ZERO
    )
    credited = sum(
        (
            other.allocation.amount or ZERO
            for other in state.allocated_to(doc.roger_id)
            if other.allocation is not None and other.allocation.state == "synced"
        ),
        ZERO,
    )
    return total - paid - credited


def _decide_payments(d: _Decider, doc: Document) -> None:
    """Makes the first payment that can be made now (one step at a time), and shows why
    each other waits. A payment Xero would refuse is not sent: in another currency than
    its bill's (refused, shown), or over what is due (waits for Roger's updated bill or a
    reversal). A zero-total document takes no payment: Xero settles it (PAID) itself."""
    conn = d.state.connection
    assert conn is not None and doc.xero_id is not None and doc.data is not None
    due = amount_due(d.state, doc)
    total = doc.xero_total if doc.xero_total is not None else doc.data.total
    issued = False
    for payment in sorted(doc.payments.values(), key=lambda p: p.payment_id):
        if payment.outstanding or payment.xero_id:
            continue
        if payment.reversed:
            payment.state = "deleted"  # never made, and never will be
            continue
        paid = payment.data
        if paid is None:
            continue
        if paid.currency != doc.data.currency:
            payment.state, payment.refused_by_rule = "failed", True
            payment.reason = (
                f"the payment is in {paid.currency} but the {doc.kind} is in "
                f"{doc.data.currency}: Xero would book {paid.currency} amounts as "
                f"{doc.data.currency}, and Roger gives no exchange rate"
            )
            continue
        if payment.refused_by_rule:  # the bill's currency changed: the payment may go now
            payment.state, payment.reason, payment.refused_by_rule = "pending", None, False
        if payment.state == "failed":
            continue
        amount = payment.amount
        if amount == 0 or (amount is None and total == 0):
            payment.state = "synced"  # nothing moves: Xero takes no payment of nothing
            payment.reason = SETTLED_BY_XERO if total == 0 else NOTHING_TO_PAY
            continue
        if amount is not None and amount <= 0:
            payment.state, payment.reason = "failed", f"Xero takes no payment of {amount}"
            payment.refused_by_rule = True
            continue
        needed = amount if amount is not None else total
        if needed > due:
            payment.state = "waiting"
            payment.reason = (
                f"waiting for the amount it pays: {needed} is more than the {due} due on the "
                f"{doc.kind} in Xero (Roger's updated bill or a reversal may follow)"
            )
            continue
        if issued:
            payment.state, payment.reason = "waiting", WAITING_FOR_STEP
            continue
        parts = ("payment", doc.kind, doc.roger_id, payment.payment_id, str(payment.attempt))
        cmd = CreatePayment(
            **d.base(doc.kind, doc.roger_id, *parts),
            payment_id=payment.payment_id,
            invoice_id=doc.xero_id,
            account_code=paid.payment_account_code or conn.default_payment_account_code,
            paid_on=paid.paid_on,
            amount=amount,
            currency=paid.currency,
            reference=f"Roger payment {doc.roger_id}/{payment.payment_id}",
        )
        payment.outstanding = d.issue(
            cmd, Outstanding("CreatePayment", doc=doc.key, sub_id=payment.payment_id)
        )
        payment.sent = paid
        payment.state, payment.reason = "pending", None
        issued = True


def _payments_to_make(bill: Document) -> bool:
    return any(
        p.data is not None
        and not p.reversed
        and p.xero_id is None
        and p.state not in ("failed", "synced", "deleted")
        for p in bill.payments.values()
    )


def _decide_attachments(d: _Decider, doc: Document) -> None:
    assert doc.data is not None and doc.xero_id is not None
    files = {f.filename: f for f in doc.data.attachments}
    for name, attachment in sorted(doc.attachments.items()):
        file = files.get(name)
        if attachment.state != "pending" or attachment.outstanding or file is None:
            continue
        parts = (
            "attachment",
            doc.kind,
            doc.roger_id,
            name,
            attachment.sha256,
            str(attachment.attempt),
        )
        cmd = UploadAttachment(
            **d.base(doc.kind, doc.roger_id, *parts),
            target="CreditNotes" if doc.kind == "credit_note" else "Invoices",
            xero_document_id=doc.xero_id,
            filename=name,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            url=file.url,
        )
        attachment.outstanding = d.issue(
            cmd, Outstanding("UploadAttachment", doc=doc.key, sub_id=name)
        )


def _decide_allocation(d: _Decider, doc: Document) -> None:
    allocation = doc.allocation
    if allocation is None or allocation.outstanding or allocation.state in ("synced", "failed"):
        return
    if allocation.xero_id is not None:
        return  # still in Xero (a removal to retry): the bill's decisions take it off
    assert isinstance(doc.data, CreditNoteData) and doc.xero_id is not None
    bill = d.state.docs.get(("bill", allocation.bill_id))
    if bill is not None and bill.deleted:
        allocation.state, allocation.reason = "deleted", "the bill was deleted in Roger"
        doc.warn(f"bill {allocation.bill_id} was deleted: the credit stays open in Xero")
        return
    if bill is None or bill.xero_id is None or bill.data is None:
        allocation.state, allocation.reason = "waiting", WAITING_FOR_BILL
        return
    # The bill's payments come first (the credit covers what they leave due), and its
    # update: Xero refuses edits of a bill with a credit allocated.
    if _lane_busy(d.state, bill) or _behind(bill) or _payments_to_make(bill):
        allocation.state, allocation.reason = "waiting", WAITING_FOR_BILL_STEPS
        return
    cmd = AllocateCreditNote(
        **d.base(doc.kind, doc.roger_id, "allocate", doc.roger_id, str(allocation.attempt)),
        credit_note_id=doc.xero_id,
        invoice_id=bill.xero_id,
        amount=doc.data.total,
        allocated_on=doc.data.issue_date,
    )
    allocation.outstanding = d.issue(cmd, Outstanding("AllocateCreditNote", doc=doc.key))
    allocation.state, allocation.reason = "pending", None
