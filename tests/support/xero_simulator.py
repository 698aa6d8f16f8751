"""An in-memory Xero that answers the projector's commands as the writer and Xero would.

For the projector's order tests (no Kafka, no PostgreSQL, no writer): each command is
carried out on a small ledger by Xero's own rules, strictly (``docs/xero/xero-facts.md``,
as ``xero_sandbox`` keeps them): a payment only on an AUTHORISED bill and never over its
AmountDue, nor from an account that is not a bank account; no edit and no void of a bill
that has payments or credit allocated; an approved zero-total document PAID at once; an
allocation taken off is kept, ``IsDeleted``, and its credit given back.
The answer is the ``XeroResult`` the writer would publish. A command id carried out
before is answered as before (the writer looks up what an earlier attempt did).

``ledger()`` is in the shape ``tests/support/ledger_checker.py`` compares.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.projector.domain.state import CompanyState
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
)
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from tests.support.ledger_checker import Chart, same_name
from tests.support.projector_facts import step

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Xero's own words (xero_sandbox/accounting/invoices.py and payments.py).
LOCKED = "This document cannot be edited as it has a payment or credit note allocated to it."
NOT_VALID_STATUS = "Invoice not of valid status for modification"
NOT_AUTHORISED = "Payments can only be made against Authorised documents"
TOO_MUCH = "Payment amount exceeds the amount outstanding on this document"
NOT_POSITIVE = "Payment amount must be greater than zero."
BAD_ACCOUNT_TYPE = "Account type is invalid for making a payment to/from"
ALREADY_DELETED = "This payment has already been deleted."

# The organisation's chart: code -> (type, default tax type), and its tax rates.
ACCOUNTS: dict[str, tuple[str, str]] = {
    "090": ("BANK", "NONE"),
    "091": ("BANK", "NONE"),
    "400": ("EXPENSE", "INPUT2"),
    "408": ("EXPENSE", "INPUT2"),
    "429": ("EXPENSE", "INPUT2"),
    "493": ("EXPENSE", "INPUT2"),
}
RATES = {"INPUT2": Decimal("25"), "NONE": Decimal("0")}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Refused(Exception):
    """Xero refused the command, with its own message."""


@dataclass
class XeroSimulator:
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    attachments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    answered: dict[str, XeroResult] = field(default_factory=dict)
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (command kind, message)

    def chart(self) -> Chart:
        return Chart("429", "090", {code: tax for code, (_, tax) in ACCOUNTS.items()}, dict(RATES))

    def execute(self, cmd: AnyCommand) -> XeroResult:
        """Carries out ``cmd`` (once per command id) and returns the writer's answer."""
        if cmd.command_id in self.answered:
            return self.answered[cmd.command_id]
        try:
            answer = self._carry_out(cmd)
        except Refused as refusal:
            self.refusals.append((cmd.kind, str(refusal)))
            answer = _result(cmd, "XeroCommandFailed", message=str(refusal))
        self.answered[cmd.command_id] = answer
        return answer

    def _carry_out(self, cmd: AnyCommand) -> XeroResult:
        if isinstance(cmd, EnsureContact):
            return self._ensure_contact(cmd)
        if isinstance(cmd, UpdateContact):
            contact = self.contacts[cmd.contact_id]
            contact.update(Name=cmd.vendor.name.strip(), EmailAddress=cmd.vendor.email)
            return _result(cmd, "XeroContactUpdated", xero_id=cmd.contact_id)
        if isinstance(cmd, CreateBill):
            return self._create_bill(cmd)
        if isinstance(cmd, UpdateBill):
            return self._update_bill(cmd)
        if isinstance(cmd, VoidBill):
            return self._void(cmd)
        if isinstance(cmd, CreateCreditNote):
            return self._create_credit_note(cmd)
        if isinstance(cmd, AllocateCreditNote):
            return self._allocate(cmd)
        if isinstance(cmd, DeleteAllocation):
            return self._unallocate(cmd)
        if isinstance(cmd, CreatePayment):
            return self._pay(cmd)
        if isinstance(cmd, DeletePayment):
            return self._delete_payment(cmd)
        assert isinstance(cmd, UploadAttachment)
        self.attachments[(cmd.xero_document_id, cmd.filename)] = {
            "document_id": cmd.xero_document_id,
            "FileName": cmd.filename,
            "sha256": cmd.sha256,
        }
        return _result(cmd, "XeroAttachmentUploaded", xero_id=str(uuid.uuid4()))

    # ---- contacts -------------------------------------------------------------------------

    def _ensure_contact(self, cmd: EnsureContact) -> XeroResult:
        for contact in self.contacts.values():
            if same_name(contact["Name"], cmd.vendor.name):
                return _result(cmd, "XeroContactLinked", xero_id=contact["ContactID"])
        contact_id = str(uuid.uuid4())
        self.contacts[contact_id] = {
            "ContactID": contact_id,
            "Name": cmd.vendor.name.strip(),
            "EmailAddress": cmd.vendor.email,
            "ContactStatus": "ACTIVE",
        }
        return _result(cmd, "XeroContactLinked", xero_id=contact_id)

    # ---- bills and credit notes -----------------------------------------------------------

    def _lines(self, lines: tuple[BillLine, ...], amount_types: str) -> Decimal:
        total = ZERO
        for line in lines:
            if line.account_code not in ACCOUNTS:
                raise Refused(f"Account code '{line.account_code}' is not a valid code.")
            amount = cents(line.quantity * line.unit_amount)
            total += amount
            if amount_types == "Exclusive":
                tax_type = line.tax_type or ACCOUNTS[line.account_code][1]
                total += cents(amount * RATES[tax_type] / 100)
        return total

    def _body(self, cmd: CreateBill | UpdateBill | CreateCreditNote) -> dict[str, Any]:
        if cmd.contact_id not in self.contacts:
            raise Refused("The contact could not be found.")
        return {
            "Contact": {"ContactID": cmd.contact_id},
            "CurrencyCode": cmd.currency,
            "LineItems": [{"Description": line.description} for line in cmd.lines],
            "Total": self._lines(cmd.lines, cmd.line_amount_types),
        }

    def _create_bill(self, cmd: CreateBill) -> XeroResult:
        invoice_id = str(uuid.uuid4())
        invoice = {
            "InvoiceID": invoice_id,
            "Type": "ACCPAY",
            "Url": cmd.url,
            "InvoiceNumber": cmd.number,
            "Status": "AUTHORISED",
            **self._body(cmd),
        }
        self.invoices[invoice_id] = invoice
        self._settle(invoice)
        return _document_result(cmd, "XeroBillCreated", invoice, "InvoiceID", "InvoiceNumber")

    def _update_bill(self, cmd: UpdateBill) -> XeroResult:
        invoice = self.invoices[cmd.invoice_id]
        if invoice["Status"] in ("VOIDED", "DELETED"):
            raise Refused(NOT_VALID_STATUS)
        if invoice["AmountPaid"] or invoice["AmountCredited"]:
            raise Refused(LOCKED)
        invoice.update(self._body(cmd), InvoiceNumber=cmd.number, Url=cmd.url)
        self._settle(invoice)
        return _document_result(cmd, "XeroBillUpdated", invoice, "InvoiceID", "InvoiceNumber")

    def _void(self, cmd: VoidBill) -> XeroResult:
        invoice = self.invoices[cmd.invoice_id]
        if invoice["Status"] in ("VOIDED", "DELETED"):
            raise Refused(NOT_VALID_STATUS)
        if invoice["AmountPaid"] or invoice["AmountCredited"]:
            raise Refused(LOCKED)
        invoice.update(Status="VOIDED", AmountDue=ZERO)
        return _result(cmd, "XeroBillVoided", xero_id=cmd.invoice_id, xero_status="VOIDED")

    def _create_credit_note(self, cmd: CreateCreditNote) -> XeroResult:
        note_id = str(uuid.uuid4())
        body = self._body(cmd)
        note = {
            "CreditNoteID": note_id,
            "Type": "ACCPAYCREDIT",
            "CreditNoteNumber": cmd.number,
            "Status": "AUTHORISED" if body["Total"] else "PAID",
            "RemainingCredit": body["Total"],
            **body,
        }
        self.credit_notes[note_id] = note
        return _document_result(
            cmd, "XeroCreditNoteCreated", note, "CreditNoteID", "CreditNoteNumber"
        )

    def _allocate(self, cmd: AllocateCreditNote) -> XeroResult:
        """As the writer does: up to what is due on the bill and left on the credit note."""
        for allocation in self._live_allocations():
            if allocation["CreditNoteID"] == cmd.credit_note_id and (
                allocation["InvoiceID"] == cmd.invoice_id
            ):
                return _result(
                    cmd,
                    "XeroCreditNoteAllocated",
                    xero_id=allocation["AllocationID"],
                    amount=allocation["Amount"],
                )
        note, invoice = self.credit_notes[cmd.credit_note_id], self.invoices[cmd.invoice_id]
        amount = min(cmd.amount, note["RemainingCredit"], invoice["AmountDue"])
        if amount <= 0:
            return _result(
                cmd,
                "XeroCreditNoteAllocated",
                xero_id=cmd.credit_note_id,
                amount=ZERO,
                message="nothing is due on the bill: the credit stays open in Xero",
            )
        if invoice["Status"] != "AUTHORISED":
            raise Refused("The invoice you are trying to allocate to has already been paid off")
        allocation_id = str(uuid.uuid4())
        self.allocations.append(
            {
                "AllocationID": allocation_id,
                "CreditNoteID": cmd.credit_note_id,
                "InvoiceID": cmd.invoice_id,
                "Amount": amount,
                "IsDeleted": False,
            }
        )
        self._settle_note(note)
        self._settle(invoice)
        return _result(cmd, "XeroCreditNoteAllocated", xero_id=allocation_id, amount=amount)

    def _unallocate(self, cmd: DeleteAllocation) -> XeroResult:
        """As Xero: the allocation is kept, IsDeleted, and its credit given back; taking off
        one already taken off answers as before (the sandbox's ``delete_allocation``)."""
        [allocation] = [a for a in self.allocations if a["AllocationID"] == cmd.allocation_id]
        if allocation["CreditNoteID"] != cmd.credit_note_id:
            raise Refused("The allocation could not be found.")
        allocation["IsDeleted"] = True
        self._settle_note(self.credit_notes[cmd.credit_note_id])
        self._settle(self.invoices[allocation["InvoiceID"]])
        return _result(cmd, "XeroAllocationDeleted", xero_id=cmd.allocation_id)

    def _live_allocations(self) -> list[dict[str, Any]]:
        return [a for a in self.allocations if not a["IsDeleted"]]

    def _settle_note(self, note: dict[str, Any]) -> None:
        allocated = sum(
            (
                a["Amount"]
                for a in self._live_allocations()
                if a["CreditNoteID"] == note["CreditNoteID"]
            ),
            ZERO,
        )
        note["RemainingCredit"] = note["Total"] - allocated
        if note["Total"]:
            note["Status"] = "PAID" if note["RemainingCredit"] == 0 else "AUTHORISED"

    # ---- payments -------------------------------------------------------------------------

    def _pay(self, cmd: CreatePayment) -> XeroResult:
        invoice = self.invoices[cmd.invoice_id]
        # The writer pays a receipt (amount None) in full: what is due.
        amount = cents(cmd.amount if cmd.amount is not None else invoice["AmountDue"])
        if amount <= 0:
            raise Refused(NOT_POSITIVE)
        if invoice["Status"] != "AUTHORISED":
            raise Refused(NOT_AUTHORISED)
        if amount > invoice["AmountDue"]:
            raise Refused(TOO_MUCH)
        if ACCOUNTS.get(cmd.account_code, ("", ""))[0] != "BANK":
            raise Refused(BAD_ACCOUNT_TYPE)
        payment_id = str(uuid.uuid4())
        self.payments[payment_id] = {
            "PaymentID": payment_id,
            "Invoice": {"InvoiceID": cmd.invoice_id},
            "Account": {"Code": cmd.account_code},
            "Amount": amount,
            "Reference": cmd.reference,
            "Status": "AUTHORISED",
        }
        self._settle(invoice)
        return _result(cmd, "XeroPaymentCreated", xero_id=payment_id, amount=amount)

    def _delete_payment(self, cmd: DeletePayment) -> XeroResult:
        payment = self.payments[cmd.xero_payment_id]
        if payment["Status"] == "DELETED":
            raise Refused(ALREADY_DELETED)
        payment["Status"] = "DELETED"
        self._settle(self.invoices[payment["Invoice"]["InvoiceID"]])
        return _result(cmd, "XeroPaymentDeleted", xero_id=cmd.xero_payment_id)

    def _settle(self, invoice: dict[str, Any]) -> None:
        """AmountPaid, AmountCredited, AmountDue and PAID, as Xero derives them."""
        paid = sum(
            (
                p["Amount"]
                for p in self.payments.values()
                if p["Invoice"]["InvoiceID"] == invoice["InvoiceID"] and p["Status"] != "DELETED"
            ),
            ZERO,
        )
        credited = sum(
            (
                a["Amount"]
                for a in self._live_allocations()
                if a["InvoiceID"] == invoice["InvoiceID"]
            ),
            ZERO,
        )
        invoice.update(
            AmountPaid=paid, AmountCredited=credited, AmountDue=invoice["Total"] - paid - credited
        )
        if invoice["Status"] in ("AUTHORISED", "PAID"):
            settled = invoice["AmountDue"] == 0 and (paid or credited or invoice["Total"] == 0)
            invoice["Status"] = "PAID" if settled else "AUTHORISED"

    def ledger(self) -> dict[str, Any]:
        """What the organisation holds, in the shape of ``ledger_checker.compare``'s input."""
        return {
            "contacts": list(self.contacts.values()),
            "invoices": list(self.invoices.values()),
            "credit_notes": list(self.credit_notes.values()),
            "payments": list(self.payments.values()),
            "attachments": list(self.attachments.values()),
        }


def _result(cmd: AnyCommand, type_: str, **fields: Any) -> XeroResult:
    return XeroResult(
        result_id=cmd.command_id,
        type=type_,  # type: ignore[arg-type]
        command_id=cmd.command_id,
        command_kind=cmd.kind,
        company_id=cmd.company_id,
        document_kind=cmd.document_kind,
        document_id=cmd.document_id,
        **fields,
    )


def _document_result(
    cmd: AnyCommand, type_: str, doc: dict[str, Any], id_key: str, number_key: str
) -> XeroResult:
    return _result(
        cmd,
        type_,
        xero_id=doc[id_key],
        xero_number=doc[number_key],
        xero_total=doc["Total"],
        xero_status=doc["Status"],
    )


@dataclass
class Run:
    """One delivery order played through the projector's rules and the simulated Xero."""

    state: CompanyState
    xero: XeroSimulator
    commands: list[AnyCommand]  # every command the projector issued, in order
    order: list[str]  # the event ids in the order they were delivered


def deliver_in_any_order(
    company_id: str, facts: list[DomainEvent], rng: random.Random, most_copies: int = 3
) -> Run:
    """Delivers each fact 1..``most_copies`` times in a random order, interleaved at random
    with Xero carrying out the commands in flight (in any order: the writer batches and
    runs them as it can) and with the answers coming back (in the order Xero gave them, as
    on the company's partition of ``rx.xero-results.v1``); until nothing is left to do.
    The outbox sends a command again now and then: Xero answers it as before."""
    state = CompanyState(company_id)
    xero = XeroSimulator()
    stream = [f for f in facts for _ in range(rng.randint(1, most_copies))]
    rng.shuffle(stream)
    in_flight: list[AnyCommand] = []
    answers: list[XeroResult] = []
    issued: list[AnyCommand] = []

    def apply(event: DomainEvent | XeroResult) -> None:
        commands = step(state, event)
        issued.extend(commands)
        in_flight.extend(commands)

    order = []
    while stream or in_flight or answers:
        roll = rng.random()
        if stream and (roll < 0.4 or not (in_flight or answers)):
            fact = stream.pop()
            order.append(fact.event_id)
            apply(fact)
        elif in_flight and (roll < 0.75 or not answers):
            cmd = in_flight.pop(rng.randrange(len(in_flight)))
            answers.append(xero.execute(cmd))
            if rng.random() < 0.05:  # resent by the outbox: answered again, the same
                answers.append(xero.execute(cmd))
        else:
            apply(answers.pop(0))
    return Run(state, xero, issued, order)
