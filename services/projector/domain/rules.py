"""The sync rules: how facts change a company's state and which Xero commands follow.

Pure functions over ``CompanyState``: no Kafka, no database, no clock of their
own. The contract's ordering rules live here: newer versions win by
``occurred_at``, deletions and reversals are final, and anything whose
prerequisite is not in Xero yet waits with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from services.projector.domain.state import (
    Allocation,
    AttachmentSync,
    CompanyState,
    Connection,
    DocKey,
    DocKind,
    Document,
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
    DeletePayment,
    EnsureContact,
    UpdateBill,
    UpdateContact,
    UploadAttachment,
    VoidBill,
    command_id,
)
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from shared.contracts.roger_events import Vendor

Command = AnyCommand
LINE_AMOUNT_TYPES: dict[str, Literal["Exclusive", "Inclusive", "NoTax"]] = {
    "exclusive": "Exclusive",
    "inclusive": "Inclusive",
    "no_tax": "NoTax",
}
DOC_TYPES: dict[str, tuple[DocKind, str]] = {
    "BillSubmitted": ("bill", "bill_id"),
    "BillUpdated": ("bill", "bill_id"),
    "ReceiptSubmitted": ("receipt", "receipt_id"),
    "CreditNoteSubmitted": ("credit_note", "credit_note_id"),
}
RECEIPT_PAYMENT = "receipt"  # a receipt's one payment, in full, on paid_on

NOT_CONNECTED = "not_connected: the company has no Xero connection yet"
WAITING_FOR_CONTACT = "waiting for the vendor's Xero contact"
WAITING_FOR_BILL = "waiting for the bill to be in Xero"
WAITING_FOR_BILL_EVENT = "waiting for bill.submitted of this bill"
UPDATING = "sending Roger's latest version to Xero"
VOIDING = "voiding the bill in Xero"
DELETING_PAYMENT = "deleting the payment in Xero"


@dataclass
class Effects:
    """What one fact touched, for the read model and the decisions that follow."""

    touched: set[DocKey] = field(default_factory=set)
    vendors: set[str] = field(default_factory=set)
    history: list[tuple[DocKey, dict[str, Any]]] = field(default_factory=list)

    def note(self, key: DocKey, entry: dict[str, Any]) -> None:
        self.touched.add(key)
        self.history.append((key, entry))


# ---- facts ----------------------------------------------------------------------------------


def _remember_vendor(state: CompanyState, vendor: dict[str, Any], at: str) -> VendorLink:
    link = state.vendors.get(vendor["id"])
    if link is None:
        link = VendorLink(vendor_id=vendor["id"], vendor=vendor, version_at=at)
        state.vendors[vendor["id"]] = link
    elif at > link.version_at:
        link.vendor, link.version_at = vendor, at
    return link


def _docs_of_vendor(state: CompanyState, vendor_id: str) -> list[Document]:
    return [d for d in state.docs.values() if d.data and d.data["vendor"]["id"] == vendor_id]


def _new_version(
    state: CompanyState,
    kind: DocKind,
    roger_id: str,
    data: dict[str, Any],
    at: str,
    entry: dict[str, Any],
) -> Document:
    doc = state.doc(kind, roger_id)
    _remember_vendor(state, data["vendor"], at)
    if doc.deleted:
        entry["note"] = "ignored: the document was deleted in Roger"
    elif doc.version_at is not None and at <= doc.version_at:
        entry["note"] = "ignored: older than the version already known"
    else:
        doc.data, doc.version_at = data, at
        if doc.state == "failed":
            # A new version from Roger is the company's fix: try again.
            doc.state, doc.reason, doc.attempt = "pending", None, doc.attempt + 1
        if kind == "receipt":
            payment = doc.payments.setdefault(RECEIPT_PAYMENT, Payment(RECEIPT_PAYMENT))
            payment.data = {
                "payment_id": RECEIPT_PAYMENT,
                "amount": None,
                "currency": data["currency"],
                "paid_on": data["paid_on"],
                "payment_account_code": data.get("payment_account_code"),
            }
        if kind == "credit_note" and data.get("applies_to_bill_id") and doc.allocation is None:
            doc.allocation = Allocation(bill_id=data["applies_to_bill_id"])
        for file in data.get("attachments") or ():
            known = doc.attachments.get(file["filename"])
            if known is None or known.sha256 != file["sha256"]:
                doc.attachments[file["filename"]] = AttachmentSync(file["filename"], file["sha256"])
    return doc


def apply_fact(state: CompanyState, fact: DomainEvent) -> Effects:
    effects = Effects()
    if fact.event_id in state.seen_events:
        return effects
    state.seen_events.add(fact.event_id)
    at = fact.occurred_at.isoformat()
    entry: dict[str, Any] = {
        "at": at,
        "source": "roger",
        "type": fact.type,
        "event_id": fact.event_id,
    }
    data = fact.data

    if fact.type == "XeroConnectionEstablished":
        state.connection = Connection(
            tenant_id=data["tenant_id"],
            default_account_code=data["default_account_code"],
            default_payment_account_code=data["default_payment_account_code"],
            organisation_name=data.get("organisation_name"),
        )
        effects.touched |= set(state.docs)  # everything that waited may go now
        effects.vendors |= set(state.vendors)
    elif fact.type == "XeroConnectionLost":
        state.connection = None
        effects.touched |= set(state.docs)
    elif fact.type in DOC_TYPES:
        kind, id_field = DOC_TYPES[fact.type]
        doc = _new_version(state, kind, data[id_field], data, at, entry)
        effects.note(doc.key, entry)
    elif fact.type == "BillDeleted":
        doc = state.doc("bill", data["bill_id"])
        doc.deleted = True
        if doc.state == "failed":
            doc.state, doc.reason = "pending", None
        effects.note(doc.key, entry)
    elif fact.type == "BillPaid":
        doc = state.doc("bill", data["bill_id"])
        payment = doc.payments.setdefault(data["payment_id"], Payment(data["payment_id"]))
        if payment.reversed:
            entry["note"] = "ignored: the payment was reversed in Roger"
        else:
            payment.data = data
        effects.note(doc.key, entry)
    elif fact.type == "PaymentReversed":
        doc = state.doc("bill", data["bill_id"])
        payment = doc.payments.setdefault(data["payment_id"], Payment(data["payment_id"]))
        payment.reversed = True
        payment.reason = data.get("reason")
        if payment.state == "failed":
            payment.state = "pending"
        effects.note(doc.key, entry)
    elif fact.type == "VendorUpdated":
        link = _remember_vendor(state, data["vendor"], at)
        if link.update_version_at is None or at > link.update_version_at:
            link.update_version_at = at
        effects.vendors.add(link.vendor_id)
        for doc in _docs_of_vendor(state, link.vendor_id):
            effects.note(doc.key, entry)
    elif fact.type == "DocumentRetryRequested":
        key: DocKey = (data["kind"], data["roger_id"])
        if key in state.docs:
            retry(state.docs[key])
            effects.note(key, entry)
    return effects


def retry(doc: Document) -> None:
    """A person asked to send a failed document again (after fixing the cause)."""
    if doc.state == "failed":
        doc.state, doc.reason, doc.attempt = "pending", None, doc.attempt + 1
    for payment in doc.payments.values():
        if payment.state == "failed":
            payment.state, payment.reason, payment.attempt = "pending", None, payment.attempt + 1
    if doc.allocation and doc.allocation.state == "failed":
        doc.allocation.state, doc.allocation.attempt = "pending", doc.allocation.attempt + 1
    for attachment in doc.attachments.values():
        if attachment.state == "failed":
            attachment.state, attachment.attempt = "pending", attachment.attempt + 1


# ---- Xero's answers -------------------------------------------------------------------------


def apply_result(state: CompanyState, result: XeroResult) -> Effects:
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
    entry: dict[str, Any] = {
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
        _vendor_answer(state, state.vendors[target.vendor_id], target, result, effects, entry)
        return effects
    assert target.doc is not None
    doc = state.docs[target.doc]
    effects.note(doc.key, entry)
    handler = _ANSWERS[target.command_kind]
    handler(state, doc, target, result, effects)
    return effects


def _waiting(
    state: CompanyState, target: Outstanding, reason: str, effects: Effects, entry: dict[str, Any]
) -> None:
    """Shows why a command cannot run now; it stays outstanding, so nothing is re-decided."""
    if target.vendor_id is not None:
        docs = [d for d in _docs_of_vendor(state, target.vendor_id) if d.xero_id is None]
    else:
        assert target.doc is not None
        docs = [state.docs[target.doc]]
    for doc in docs:
        effects.note(doc.key, entry)
        if target.command_kind in ("CreatePayment", "DeletePayment") and target.sub_id:
            payment = doc.payments[target.sub_id]
            payment.state, payment.reason = "waiting", reason
        elif target.command_kind == "AllocateCreditNote" and doc.allocation:
            doc.allocation.state, doc.allocation.reason = "waiting", reason
        elif target.command_kind != "UploadAttachment" and doc.state != "failed":
            doc.state, doc.reason = "waiting", reason


def _vendor_answer(
    state: CompanyState,
    link: VendorLink,
    target: Outstanding,
    result: XeroResult,
    effects: Effects,
    entry: dict[str, Any],
) -> None:
    link.outstanding = None
    docs = _docs_of_vendor(state, link.vendor_id)
    if target.command_kind == "EnsureContact":
        if result.type == "XeroContactLinked":
            link.contact_id, link.failure = result.xero_id, None
            link.synced_version_at = target.sub_id
        elif result.type == "XeroCommandFailed":
            link.failure = result.message
    elif result.type == "XeroContactUpdated":
        link.synced_version_at = target.sub_id
    elif result.type == "XeroCommandFailed":
        link.synced_version_at = target.sub_id  # not retried by itself: shown instead
        for doc in docs:
            doc.warn(f"vendor details not updated in Xero: {result.message}")
    effects.vendors.add(link.vendor_id)
    for doc in docs:
        effects.note(doc.key, entry)


def _refused(doc: Document, result: XeroResult) -> bool:
    if result.type == "XeroCommandFailed":
        doc.state, doc.reason = "failed", result.message
        return True
    return False


def _created(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    doc.outstanding = None
    if _refused(doc, result):
        return
    doc.xero_id, doc.xero_number = result.xero_id, result.xero_number
    doc.synced_version_at = target.sub_id
    doc.state, doc.reason = "synced", None
    _check_total(doc, result.xero_total)
    if doc.kind == "bill":
        for other in state.docs.values():
            if other.allocation and other.allocation.bill_id == doc.roger_id:
                effects.touched.add(other.key)


def _updated(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    doc.outstanding = None
    if _refused(doc, result):
        return
    doc.synced_version_at = target.sub_id
    doc.state, doc.reason = "synced", None
    _check_total(doc, result.xero_total)


def _voided(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    doc.outstanding = None
    if not _refused(doc, result):
        doc.state, doc.reason = "deleted", None


def _payment_answer(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    assert target.sub_id is not None
    payment = doc.payments[target.sub_id]
    payment.outstanding = None
    if result.type == "XeroPaymentCreated":
        payment.xero_id, payment.state, payment.reason = result.xero_id, "synced", None
    elif result.type == "XeroPaymentDeleted":
        payment.state = "deleted"
    elif result.type == "XeroCommandFailed":
        payment.state, payment.reason = "failed", result.message


def _allocation_answer(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    allocation = doc.allocation
    assert allocation is not None
    allocation.outstanding = None
    if result.type == "XeroCreditNoteAllocated":
        allocation.state, allocation.amount = "synced", result.amount
        if result.message:
            doc.warn(result.message)
    elif result.type == "XeroCommandFailed":
        allocation.state, allocation.reason = "failed", result.message
        doc.warn(f"not allocated to bill {allocation.bill_id}: {result.message}")


def _attachment_answer(
    state: CompanyState, doc: Document, target: Outstanding, result: XeroResult, effects: Effects
) -> None:
    assert target.sub_id is not None
    attachment = doc.attachments[target.sub_id]
    attachment.outstanding = None
    if result.type == "XeroAttachmentUploaded":
        attachment.state, attachment.xero_id = "synced", result.xero_id
    else:
        # A file that cannot be fetched or attached is a warning, never a lost document.
        attachment.state, attachment.reason = "failed", result.message
        doc.warn(f"attachment {attachment.filename}: {result.message}")


_ANSWERS = {
    "CreateBill": _created,
    "CreateCreditNote": _created,
    "UpdateBill": _updated,
    "VoidBill": _voided,
    "CreatePayment": _payment_answer,
    "DeletePayment": _payment_answer,
    "AllocateCreditNote": _allocation_answer,
    "UploadAttachment": _attachment_answer,
}


def _check_total(doc: Document, xero_total: Decimal | None) -> None:
    assert doc.data is not None
    doc.xero_total = xero_total
    if xero_total is None:
        return
    expected = Decimal(doc.data["total"])
    if abs(expected - xero_total) > Decimal("0.01"):
        doc.warn(f"Xero's total {xero_total:.2f} differs from Roger's total {expected:.2f}")


# ---- decisions ------------------------------------------------------------------------------


@dataclass
class _Decider:
    state: CompanyState
    at: datetime
    app_url: str
    commands: list[Command] = field(default_factory=list)

    def issue(self, command: Command, target: Outstanding) -> str:
        self.state.outstanding[command.command_id] = target
        self.commands.append(command)
        return command.command_id

    def base(self, doc_kind: str, doc_id: str, *parts: str) -> dict[str, Any]:
        conn = self.state.connection
        assert conn is not None
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
) -> list[Command]:
    """The commands the touched vendors and documents need now, marking what waits and why."""
    decider = _Decider(state, issued_at, app_url)
    if state.connection is not None:
        for vendor_id in sorted(effects.vendors):
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
        **d.base("vendor", link.vendor_id, "contact-update", link.vendor_id, wanted),
        contact_id=link.contact_id,
        vendor=Vendor.model_validate(link.vendor),
    )
    link.outstanding = d.issue(
        cmd, Outstanding("UpdateContact", vendor_id=link.vendor_id, sub_id=link.version_at)
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
        assert doc.version_at is not None
        if doc.kind == "bill" and (doc.synced_version_at or "") < doc.version_at:
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


def _decide_create(d: _Decider, doc: Document) -> None:
    if doc.outstanding or doc.state == "failed":
        return
    assert doc.data is not None
    link = d.state.vendors[doc.data["vendor"]["id"]]
    if link.contact_id is None:
        _wait_all(doc, WAITING_FOR_BILL)
        if link.failure:
            doc.state, doc.reason = "failed", f"vendor contact: {link.failure}"
            return
        doc.state, doc.reason = "waiting", WAITING_FOR_CONTACT
        if not link.outstanding:
            ensure = EnsureContact(
                **d.base("vendor", link.vendor_id, "contact", link.vendor_id, str(link.attempt)),
                vendor=Vendor.model_validate(link.vendor),
            )
            link.outstanding = d.issue(
                ensure,
                Outstanding("EnsureContact", vendor_id=link.vendor_id, sub_id=link.version_at),
            )
        return
    _wait_all(doc, WAITING_FOR_BILL)
    body = _body(d, doc, link.contact_id)
    parts = (doc.kind, doc.roger_id, "create", str(doc.attempt))
    cmd: Command
    if doc.kind == "credit_note":
        cmd = CreateCreditNote(**d.base(doc.kind, doc.roger_id, *parts), **body)
    else:
        cmd = CreateBill(**d.base(doc.kind, doc.roger_id, *parts), **body)
    doc.outstanding = d.issue(cmd, Outstanding(cmd.kind, doc=doc.key, sub_id=doc.version_at))
    doc.state, doc.reason = "pending", None


def _update(d: _Decider, doc: Document) -> None:
    assert doc.data is not None and doc.xero_id is not None and doc.version_at is not None
    link = d.state.vendors[doc.data["vendor"]["id"]]
    contact_id = link.contact_id
    assert contact_id is not None
    parts = (doc.kind, doc.roger_id, "update", doc.version_at, str(doc.attempt))
    cmd = UpdateBill(
        **d.base(doc.kind, doc.roger_id, *parts),
        invoice_id=doc.xero_id,
        **_body(d, doc, contact_id),
    )
    doc.outstanding = d.issue(cmd, Outstanding("UpdateBill", doc=doc.key, sub_id=doc.version_at))
    doc.state, doc.reason = "pending", UPDATING


def _body(d: _Decider, doc: Document, contact_id: str) -> dict[str, Any]:
    data = doc.data
    conn = d.state.connection
    assert data is not None and conn is not None
    number_field = {
        "bill": "invoice_number",
        "receipt": "receipt_number",
        "credit_note": "credit_note_number",
    }[doc.kind]
    return {
        "contact_id": contact_id,
        "number": data.get(number_field) or doc.roger_id,
        "issue_date": data.get("issue_date") or data["paid_on"],
        "due_date": data.get("due_date") or data.get("paid_on"),
        "currency": data["currency"],
        "line_amount_types": LINE_AMOUNT_TYPES[data["amount_type"]],
        "lines": tuple(
            BillLine(
                description=line["description"],
                quantity=Decimal(line["quantity"]),
                unit_amount=Decimal(line["unit_amount"]),
                account_code=line.get("category_code") or conn.default_account_code,
                tax_type=line.get("tax_type"),
                tracking=tuple(line.get("tracking") or ()),
            )
            for line in data["lines"]
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
        data = payment.data
        parts = ("payment", doc.kind, doc.roger_id, payment.payment_id, str(payment.attempt))
        cmd = CreatePayment(
            **d.base(doc.kind, doc.roger_id, *parts),
            payment_id=payment.payment_id,
            invoice_id=doc.xero_id,
            account_code=data.get("payment_account_code") or conn.default_payment_account_code,
            paid_on=data["paid_on"],
            amount=Decimal(data["amount"]) if data.get("amount") is not None else None,
            currency=data["currency"],
            reference=f"Roger payment {doc.roger_id}/{payment.payment_id}",
        )
        payment.outstanding = d.issue(
            cmd, Outstanding("CreatePayment", doc=doc.key, sub_id=payment.payment_id)
        )
        payment.state, payment.reason = "pending", None


def _decide_attachments(d: _Decider, doc: Document) -> None:
    assert doc.data is not None and doc.xero_id is not None
    files = {f["filename"]: f for f in doc.data.get("attachments") or ()}
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
            content_type=file["content_type"],
            size=file["size"],
            sha256=file["sha256"],
            url=file["url"],
        )
        attachment.outstanding = d.issue(
            cmd, Outstanding("UploadAttachment", doc=doc.key, sub_id=name)
        )


def _decide_allocation(d: _Decider, doc: Document) -> None:
    allocation = doc.allocation
    if allocation is None or allocation.outstanding or allocation.state in ("synced", "failed"):
        return
    assert doc.data is not None and doc.xero_id is not None
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
        amount=Decimal(doc.data["total"]),
        allocated_on=doc.data["issue_date"],
    )
    allocation.outstanding = d.issue(cmd, Outstanding("AllocateCreditNote", doc=doc.key))
    allocation.state, allocation.reason = "pending", None
