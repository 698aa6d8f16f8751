"""Which Xero commands a company's state calls for now, and what waits (and why).

After each fact or answer, the touched vendors and documents are decided again:
a document needs its vendor's contact before it can be created (or moved to
another vendor), a payment, allocation or attachment needs its document in Xero,
and nothing goes out without a connection. Every command id is derived from what
the command does (company, document, attempt, version), so deciding the same
thing twice gives the same command, and the writer's idempotency key follows.

Pure: no Kafka, no database; the decision time is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.projector.domain.state import (
    CompanyState,
    Document,
    Effects,
    Outstanding,
    VendorLink,
)
from shared.contracts.commands import (
    AllocateCreditNote,
    AnyCommand,
    BillLine,
    CreateBill,
    CreateCreditNote,
    CreatePayment,
    DeletePayment,
    EnsureContact,
    UpdateBill,
    UpdateContact,
    UploadAttachment,
    VoidBill,
    command_id,
)
from shared.contracts.roger_events import AmountType, BillData, CreditNoteData, ReceiptData

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


@dataclass
class _Decider:
    state: CompanyState
    at: datetime
    app_url: str
    commands: list[AnyCommand] = field(default_factory=list)

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
    decider = _Decider(state, issued_at, app_url)
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
    if doc.deleted:
        _decide_deleted(d, doc)
        return
    if doc.xero_id is None:
        _decide_create(d, doc)
        return
    if doc.outstanding is None and doc.state != "failed":
        assert doc.version_at is not None  # set together with data
        behind = doc.synced_version_at is None or doc.synced_version_at < doc.version_at
        if doc.kind == "bill" and behind:
            _update(d, doc)
            return  # payments wait: Xero refuses edits once a bill has payments
        doc.state, doc.reason = "synced", None
    if doc.outstanding is None:
        _decide_payments(d, doc)
        _decide_attachments(d, doc)
        _decide_allocation(d, doc)


def _decide_deleted(d: _Decider, doc: Document) -> None:
    if doc.outstanding:
        return  # a create in flight is voided once it answers
    if doc.xero_id is None:
        doc.state, doc.reason = "deleted", None
        return
    if doc.state in ("deleted", "failed"):  # voided, or Xero refused to (shown, retryable)
        return
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
        cmd = CreateBill(**d.base(doc.kind, doc.roger_id, *parts), **body)
    doc.outstanding = d.issue(cmd, Outstanding(cmd.kind, doc=doc.key, version_at=doc.version_at))
    doc.state, doc.reason = "pending", None


def _update(d: _Decider, doc: Document) -> None:
    """Sends Roger's latest version; a bill moved to another vendor first gets its contact."""
    assert doc.xero_id is not None and doc.version_at is not None
    contact_id = _contact(d, doc)
    if contact_id is None:
        return
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
        "number": number or doc.roger_id,
        "issue_date": issue_date,
        "due_date": due_date,
        "currency": data.currency,
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
        "url": f"{d.app_url}/companies/{d.state.company_id}/{doc.kind}s/{doc.roger_id}",
    }


def _decide_payments(d: _Decider, doc: Document) -> None:
    conn = d.state.connection
    assert conn is not None and doc.xero_id is not None
    for payment in sorted(doc.payments.values(), key=lambda p: p.payment_id):
        if payment.outstanding or payment.state == "failed":
            continue
        if payment.reversed:
            if payment.xero_id is None:
                payment.state = "deleted"
            elif payment.state != "deleted":
                parts = (
                    "payment-delete",
                    doc.kind,
                    doc.roger_id,
                    payment.payment_id,
                    str(payment.attempt),
                )
                cmd_del = DeletePayment(
                    **d.base(doc.kind, doc.roger_id, *parts),
                    payment_id=payment.payment_id,
                    xero_payment_id=payment.xero_id,
                )
                payment.outstanding = d.issue(
                    cmd_del, Outstanding("DeletePayment", doc=doc.key, sub_id=payment.payment_id)
                )
                payment.state, payment.reason = "pending", DELETING_PAYMENT
            continue
        if payment.data is None or payment.xero_id:
            continue
        paid = payment.data
        parts = ("payment", doc.kind, doc.roger_id, payment.payment_id, str(payment.attempt))
        cmd = CreatePayment(
            **d.base(doc.kind, doc.roger_id, *parts),
            payment_id=payment.payment_id,
            invoice_id=doc.xero_id,
            account_code=paid.payment_account_code or conn.default_payment_account_code,
            paid_on=paid.paid_on,
            amount=payment.amount,
            currency=paid.currency,
            reference=f"Roger payment {doc.roger_id}/{payment.payment_id}",
        )
        payment.outstanding = d.issue(
            cmd, Outstanding("CreatePayment", doc=doc.key, sub_id=payment.payment_id)
        )
        payment.state, payment.reason = "pending", None


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
    assert isinstance(doc.data, CreditNoteData) and doc.xero_id is not None
    bill = d.state.docs.get(("bill", allocation.bill_id))
    if bill is None or bill.xero_id is None:
        if bill is not None and bill.deleted:
            allocation.state, allocation.reason = "deleted", "the bill was deleted in Roger"
            doc.warn(f"bill {allocation.bill_id} was deleted: the credit stays open in Xero")
            return
        allocation.state, allocation.reason = "waiting", WAITING_FOR_BILL
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
