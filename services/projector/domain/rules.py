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

from services.projector.domain.state import Bill, CompanyState, Connection, Payment, VendorLink
from shared.commands import BillLine, CreateBill, CreatePayment, EnsureContact, command_id
from shared.domain_events import DomainEvent
from shared.results import XeroResult
from shared.roger_events import Vendor

DocKey = tuple[str, str]  # (kind, roger id)
LINE_AMOUNT_TYPES: dict[str, Literal["Exclusive", "Inclusive", "NoTax"]] = {
    "exclusive": "Exclusive",
    "inclusive": "Inclusive",
    "no_tax": "NoTax",
}
Command = EnsureContact | CreateBill | CreatePayment

NOT_CONNECTED = "not_connected: the company has no Xero connection yet"
WAITING_FOR_CONTACT = "waiting for the vendor's Xero contact"
WAITING_FOR_BILL = "waiting for the bill to be in Xero"
WAITING_FOR_BILL_EVENT = "waiting for bill.submitted of this bill"


@dataclass
class Effects:
    """What one fact touched, for the read model and the decisions that follow."""

    touched: set[DocKey] = field(default_factory=set)
    history: list[tuple[DocKey, dict[str, Any]]] = field(default_factory=list)

    def note(self, key: DocKey, entry: dict[str, Any]) -> None:
        self.touched.add(key)
        self.history.append((key, entry))


def _utc(ts: datetime) -> str:
    return ts.isoformat()


def _bill(state: CompanyState, bill_id: str) -> Bill:
    return state.bills.setdefault(bill_id, Bill(bill_id=bill_id))


def _payment(bill: Bill, payment_id: str) -> Payment:
    return bill.payments.setdefault(payment_id, Payment(payment_id=payment_id))


def _remember_vendor(state: CompanyState, vendor: dict[str, Any], at: str) -> VendorLink:
    link = state.vendors.get(vendor["id"])
    if link is None:
        link = VendorLink(vendor_id=vendor["id"], vendor=vendor, version_at=at)
        state.vendors[vendor["id"]] = link
    elif at > link.version_at:
        link.vendor, link.version_at = vendor, at
    return link


def apply_fact(state: CompanyState, fact: DomainEvent) -> Effects:
    effects = Effects()
    if fact.event_id in state.seen_events:
        return effects
    state.seen_events.add(fact.event_id)
    at = _utc(fact.occurred_at)
    entry = {"at": at, "source": "roger", "type": fact.type, "event_id": fact.event_id}
    data = fact.data

    if fact.type == "XeroConnectionEstablished":
        state.connection = Connection(
            tenant_id=data["tenant_id"],
            default_account_code=data["default_account_code"],
            default_payment_account_code=data["default_payment_account_code"],
            organisation_name=data.get("organisation_name"),
        )
        # Everything that waited for a connection may go now.
        for bill in state.bills.values():
            effects.touched.add(("bill", bill.bill_id))
    elif fact.type == "XeroConnectionLost":
        state.connection = None
    elif fact.type in ("BillSubmitted", "BillUpdated"):
        bill = _bill(state, data["bill_id"])
        _remember_vendor(state, data["vendor"], at)
        if bill.deleted:
            entry["note"] = "ignored: the bill was deleted in Roger"
        elif bill.version_at is not None and at <= bill.version_at:
            entry["note"] = "ignored: older than the version already known"
        else:
            is_edit = bill.data is not None and bill.xero_id is not None
            bill.data, bill.version_at = data, at
            if is_edit:
                # Updating a synced bill is its own command (not built yet): say so, never skip.
                bill.state, bill.reason = (
                    "failed",
                    "editing a bill already in Xero is not supported yet",
                )
        bill.updated_at = at
        effects.note(("bill", bill.bill_id), entry)
    elif fact.type == "BillDeleted":
        bill = _bill(state, data["bill_id"])
        bill.deleted = True
        bill.updated_at = at
        if bill.xero_id is None:
            bill.state, bill.reason = "deleted", None
        else:
            bill.state, bill.reason = (
                "failed",
                "deleting a bill already in Xero is not supported yet",
            )
        effects.note(("bill", bill.bill_id), entry)
    elif fact.type == "BillPaid":
        bill = _bill(state, data["bill_id"])
        payment = _payment(bill, data["payment_id"])
        if payment.reversed:
            entry["note"] = "ignored: the payment was reversed in Roger"
        else:
            payment.data = data
        bill.updated_at = at
        effects.note(("bill", bill.bill_id), entry)
    elif fact.type == "PaymentReversed":
        bill = _bill(state, data["bill_id"])
        payment = _payment(bill, data["payment_id"])
        payment.reversed = True
        if payment.xero_id is None:
            payment.state, payment.reason = "deleted", data.get("reason")
        else:
            payment.state = "failed"
            payment.reason = "reversing a payment already in Xero is not supported yet"
        bill.updated_at = at
        effects.note(("bill", bill.bill_id), entry)
    elif fact.type == "DocumentRetryRequested":
        retried = retry(state, data["roger_id"])
        for key, _ in retried.history:
            effects.note(key, entry)
    else:
        # Receipts, credit notes and vendor updates are the next issue: visible, not dropped.
        entry["note"] = f"{fact.type} is recorded but not synced to Xero yet"
        effects.history.append((("event", fact.event_id), entry))
    return effects


def apply_result(state: CompanyState, result: XeroResult) -> Effects:
    effects = Effects()
    if result.command_id in state.answered:
        return effects
    target = state.outstanding.pop(result.command_id, None)
    state.answered.add(result.command_id)
    entry = {
        "at": _utc(result.recorded_at),
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
    kind, doc_id = target
    if kind == "vendor":
        link = state.vendors[doc_id]
        link.outstanding = None
        if result.type == "XeroContactLinked":
            link.contact_id, link.failure = result.xero_id, None
        elif result.type == "XeroCommandFailed":
            link.failure = result.message
        for bill in state.bills.values():
            if bill.data and bill.data["vendor"]["id"] == doc_id:
                effects.note(("bill", bill.bill_id), entry)
        return effects
    if kind == "bill":
        bill = state.bills[doc_id]
        bill.outstanding = None
        if result.type == "XeroBillCreated":
            bill.xero_id, bill.xero_number = result.xero_id, result.xero_number
            bill.state, bill.reason = "synced", None
            _check_total(bill, result.xero_total)
        elif result.type == "XeroCommandFailed":
            bill.state, bill.reason = "failed", result.message
        elif result.type == "XeroCommandWaiting":
            bill.state, bill.reason = "waiting", result.message
        effects.note(("bill", doc_id), entry)
        return effects
    # kind == "payment": doc_id is "<bill_id>/<payment_id>"
    bill_id, _, payment_id = doc_id.partition("/")
    payment = state.bills[bill_id].payments[payment_id]
    payment.outstanding = None
    if result.type == "XeroPaymentCreated":
        payment.xero_id, payment.state, payment.reason = result.xero_id, "synced", None
    elif result.type == "XeroCommandFailed":
        payment.state, payment.reason = "failed", result.message
    elif result.type == "XeroCommandWaiting":
        payment.state, payment.reason = "waiting", result.message
    effects.note(("bill", bill_id), entry)
    return effects


def _check_total(bill: Bill, xero_total: Decimal | None) -> None:
    assert bill.data is not None
    if xero_total is None:
        return
    expected = Decimal(bill.data["total"])
    if abs(expected - xero_total) > Decimal("0.01"):
        bill.warnings.append(f"Xero's total {xero_total} differs from Roger's total {expected}")


def retry(state: CompanyState, bill_id: str) -> Effects:
    """A person asked to send a failed document again (after fixing the cause)."""
    effects = Effects()
    bill = state.bills.get(bill_id)
    if bill is None:
        return effects
    if bill.state == "failed" and bill.xero_id is None:
        bill.state, bill.reason = "pending", None
        bill.attempt += 1
        if bill.data and (link := state.vendors.get(bill.data["vendor"]["id"])) and link.failure:
            link.failure, link.attempt = None, link.attempt + 1
    for payment in bill.payments.values():
        if payment.state == "failed" and payment.xero_id is None and not payment.reversed:
            payment.state, payment.reason, payment.attempt = "pending", None, payment.attempt + 1
    effects.touched.add(("bill", bill_id))
    effects.history.append((("bill", bill_id), {"source": "person", "type": "RetryRequested"}))
    return effects


def decide(
    state: CompanyState, touched: set[DocKey], issued_at: datetime, app_url: str
) -> list[Command]:
    """The commands the touched documents need now, marking what waits and why."""
    commands: list[Command] = []
    for kind, doc_id in sorted(touched):
        if kind == "bill" and doc_id in state.bills:
            commands.extend(_decide_bill(state, state.bills[doc_id], issued_at, app_url))
    return commands


def _decide_bill(state: CompanyState, bill: Bill, at: datetime, app_url: str) -> list[Command]:
    if bill.deleted or bill.state == "failed":
        return []
    if bill.data is None:
        for p in bill.payments.values():
            _wait_payment(p, WAITING_FOR_BILL_EVENT)
        bill.state, bill.reason = "waiting", WAITING_FOR_BILL_EVENT
        return []
    conn = state.connection
    if conn is None:
        if bill.xero_id is None:
            bill.state, bill.reason = "waiting", NOT_CONNECTED
        for p in bill.payments.values():
            _wait_payment(p, NOT_CONNECTED)
        return []
    if bill.xero_id is not None:
        return _decide_payments(state, bill, conn, at)
    if bill.outstanding:
        return []
    link = state.vendors[bill.data["vendor"]["id"]]
    if link.contact_id is None:
        for p in bill.payments.values():
            _wait_payment(p, WAITING_FOR_BILL)
        if link.failure:
            bill.state, bill.reason = "failed", f"vendor contact: {link.failure}"
            return []
        bill.state, bill.reason = "waiting", WAITING_FOR_CONTACT
        if link.outstanding:
            return []
        cmd = EnsureContact(
            command_id=command_id(state.company_id, "contact", link.vendor_id, str(link.attempt)),
            company_id=state.company_id,
            tenant_id=conn.tenant_id,
            issued_at=at,
            document_kind="vendor",
            document_id=link.vendor_id,
            vendor=Vendor.model_validate(link.vendor),
        )
        link.outstanding = cmd.command_id
        state.outstanding[cmd.command_id] = ("vendor", link.vendor_id)
        return [cmd]
    bill.state, bill.reason = "pending", None
    for p in bill.payments.values():
        _wait_payment(p, WAITING_FOR_BILL)
    cmd_bill = _create_bill(state, bill, conn, link.contact_id, at, app_url)
    bill.outstanding = cmd_bill.command_id
    state.outstanding[cmd_bill.command_id] = ("bill", bill.bill_id)
    return [cmd_bill]


def _wait_payment(payment: Payment, reason: str) -> None:
    if payment.data is not None and not payment.reversed and payment.xero_id is None:
        if payment.state != "failed":
            payment.state, payment.reason = "waiting", reason


def _create_bill(
    state: CompanyState, bill: Bill, conn: Connection, contact_id: str, at: datetime, app_url: str
) -> CreateBill:
    data = bill.data
    assert data is not None
    lines = tuple(
        BillLine(
            description=line["description"],
            quantity=Decimal(line["quantity"]),
            unit_amount=Decimal(line["unit_amount"]),
            account_code=line.get("category_code") or conn.default_account_code,
            tax_type=line.get("tax_type"),
            tracking=tuple(line.get("tracking") or ()),
        )
        for line in data["lines"]
    )
    return CreateBill(
        command_id=command_id(
            state.company_id, "bill", bill.bill_id, bill.version_at or "", str(bill.attempt)
        ),
        company_id=state.company_id,
        tenant_id=conn.tenant_id,
        issued_at=at,
        document_kind="bill",
        document_id=bill.bill_id,
        contact_id=contact_id,
        invoice_number=data.get("invoice_number") or bill.bill_id,
        issue_date=data["issue_date"],
        due_date=data["due_date"],
        currency=data["currency"],
        line_amount_types=LINE_AMOUNT_TYPES[data["amount_type"]],
        lines=lines,
        url=f"{app_url}/companies/{state.company_id}/bills/{bill.bill_id}",
    )


def _decide_payments(
    state: CompanyState, bill: Bill, conn: Connection, at: datetime
) -> list[Command]:
    commands: list[Command] = []
    for payment in sorted(bill.payments.values(), key=lambda p: p.payment_id):
        if payment.data is None or payment.reversed or payment.xero_id or payment.outstanding:
            continue
        if payment.state == "failed":
            continue
        data = payment.data
        cmd = CreatePayment(
            command_id=command_id(
                state.company_id, "payment", payment.payment_id, str(payment.attempt)
            ),
            company_id=state.company_id,
            tenant_id=conn.tenant_id,
            issued_at=at,
            document_kind="payment",
            document_id=f"{bill.bill_id}/{payment.payment_id}",
            payment_id=payment.payment_id,
            invoice_id=bill.xero_id or "",
            account_code=data.get("payment_account_code") or conn.default_payment_account_code,
            paid_on=data["paid_on"],
            amount=Decimal(data["amount"]),
            currency=data["currency"],
            reference=f"Roger payment {payment.payment_id}",
        )
        payment.state, payment.reason, payment.outstanding = "pending", None, cmd.command_id
        state.outstanding[cmd.command_id] = ("payment", cmd.document_id)
        commands.append(cmd)
    return commands
