"""Bills (ACCPAY invoices) and vendor credit notes (ACCPAYCREDIT): create, update, void.

A bill is recognised in Xero by its ``Url`` and a credit note by its
``Reference``, both unique per Roger document, so a command attempted before
looks for what an earlier attempt may have made before creating it again.
"""

from __future__ import annotations

from typing import Any

from services.xero_writer.outcomes import Call, batch_key, failed, money, result
from shared.contracts.commands import CreateBill, CreateCreditNote, UpdateBill, VoidBill
from shared.contracts.results import XeroResult
from shared.xero.client import validation_messages

GONE = ("DELETED", "VOIDED")


def _lines(cmd: CreateBill | UpdateBill | CreateCreditNote) -> list[dict[str, Any]]:
    return [
        {
            "Description": line.description,
            "Quantity": line.quantity,
            "UnitAmount": line.unit_amount,
            "AccountCode": line.account_code,
            **({"TaxType": line.tax_type} if line.tax_type else {}),
            **(
                {"Tracking": [{"Name": t.name, "Option": t.option} for t in line.tracking]}
                if line.tracking
                else {}
            ),
        }
        for line in cmd.lines
    ]


def bill_payload(cmd: CreateBill | UpdateBill) -> dict[str, Any]:
    return {
        "Type": "ACCPAY",
        "Contact": {"ContactID": cmd.contact_id},
        "InvoiceNumber": cmd.number,
        "Date": cmd.issue_date.isoformat(),
        "DueDate": (cmd.due_date or cmd.issue_date).isoformat(),
        "CurrencyCode": cmd.currency,
        "LineAmountTypes": cmd.line_amount_types,
        "Status": "AUTHORISED",
        "Url": cmd.url,
        "LineItems": _lines(cmd),
    }


def credit_note_reference(cmd: CreateCreditNote) -> str:
    return f"Roger credit note {cmd.document_id}"


def credit_note_payload(cmd: CreateCreditNote) -> dict[str, Any]:
    return {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": cmd.contact_id},
        "CreditNoteNumber": cmd.number,
        "Reference": credit_note_reference(cmd),
        "Date": cmd.issue_date.isoformat(),
        "CurrencyCode": cmd.currency,
        "LineAmountTypes": cmd.line_amount_types,
        "Status": "AUTHORISED",
        "LineItems": _lines(cmd),
    }


def _answered(
    cmd: CreateBill | UpdateBill | CreateCreditNote,
    element: dict[str, Any],
    type_: str,
    id_field: str,
    number_field: str,
) -> XeroResult:
    messages = validation_messages(element)
    if messages or element.get("StatusAttributeString") == "ERROR" or not element.get(id_field):
        return failed(cmd, "; ".join(messages) or "Xero refused the document")
    return result(
        cmd,
        type_,
        xero_id=element[id_field],
        xero_number=element.get(number_field),
        xero_total=money(element.get("Total")),
        xero_status=element.get("Status"),
    )


async def _existing_bills(call: Call, commands: list[CreateBill]) -> dict[str, dict[str, Any]]:
    answer = await call(
        "GET",
        "/Invoices",
        params={
            "ContactIDs": ",".join(sorted({c.contact_id for c in commands})),
            "InvoiceNumbers": ",".join(sorted({c.number for c in commands})),
            "page": "1",
            "pageSize": "1000",
        },
    )
    return {
        inv["Url"]: inv
        for inv in answer.get("Invoices") or []
        if inv.get("Type") == "ACCPAY" and inv.get("Status") not in GONE and inv.get("Url")
    }


async def create_bills(
    call: Call, commands: list[CreateBill], earlier: set[str]
) -> list[XeroResult]:
    results: list[XeroResult] = []
    todo = commands
    if earlier & {c.command_id for c in commands}:
        found = await _existing_bills(call, commands)
        results += [
            _answered(c, found[c.url], "XeroBillCreated", "InvoiceID", "InvoiceNumber")
            for c in commands
            if c.url in found
        ]
        todo = [c for c in commands if c.url not in found]
    if not todo:
        return results
    answer = await call(
        "PUT",
        "/Invoices",
        params={"summarizeErrors": "false"},
        body={"Invoices": [bill_payload(c) for c in todo]},
        idempotency_key=batch_key(todo, "bills"),
    )
    return results + [
        _answered(cmd, element, "XeroBillCreated", "InvoiceID", "InvoiceNumber")
        for cmd, element in zip(todo, answer.get("Invoices") or [], strict=False)
    ]


async def create_credit_notes(
    call: Call, commands: list[CreateCreditNote], earlier: set[str]
) -> list[XeroResult]:
    results: list[XeroResult] = []
    todo = commands
    if earlier & {c.command_id for c in commands}:
        answer = await call(
            "GET", "/CreditNotes", params={"where": 'Type=="ACCPAYCREDIT"', "page": "1"}
        )
        found = {
            cn.get("Reference"): cn
            for cn in answer.get("CreditNotes") or []
            if cn.get("Status") not in GONE
        }
        results += [
            _answered(
                c,
                found[credit_note_reference(c)],
                "XeroCreditNoteCreated",
                "CreditNoteID",
                "CreditNoteNumber",
            )
            for c in commands
            if credit_note_reference(c) in found
        ]
        todo = [c for c in commands if credit_note_reference(c) not in found]
    if not todo:
        return results
    answer = await call(
        "PUT",
        "/CreditNotes",
        params={"summarizeErrors": "false"},
        body={"CreditNotes": [credit_note_payload(c) for c in todo]},
        idempotency_key=batch_key(todo, "credit-notes"),
    )
    return results + [
        _answered(cmd, element, "XeroCreditNoteCreated", "CreditNoteID", "CreditNoteNumber")
        for cmd, element in zip(todo, answer.get("CreditNotes") or [], strict=False)
    ]


async def update_bill(call: Call, cmd: UpdateBill, _earlier: bool) -> XeroResult:
    """Sending the same version twice changes nothing: no look-up needed."""
    answer = await call(
        "POST",
        f"/Invoices/{cmd.invoice_id}",
        params={"summarizeErrors": "false"},
        body={"Invoices": [{"InvoiceID": cmd.invoice_id, **bill_payload(cmd)}]},
        idempotency_key=f"rx-{cmd.command_id}",
    )
    [element] = answer.get("Invoices") or [{}]
    return _answered(cmd, element, "XeroBillUpdated", "InvoiceID", "InvoiceNumber")


async def void_bill(call: Call, cmd: VoidBill, earlier: bool) -> XeroResult:
    if earlier:
        answer = await call("GET", f"/Invoices/{cmd.invoice_id}")
        [invoice] = answer.get("Invoices") or [{}]
        if invoice.get("Status") in GONE:
            return result(
                cmd, "XeroBillVoided", xero_id=cmd.invoice_id, xero_status=invoice["Status"]
            )
    answer = await call(
        "POST",
        f"/Invoices/{cmd.invoice_id}",
        body={"Invoices": [{"InvoiceID": cmd.invoice_id, "Status": "VOIDED"}]},
        idempotency_key=f"rx-{cmd.command_id}",
    )
    [element] = answer.get("Invoices") or [{}]
    messages = validation_messages(element)
    if messages:
        return failed(cmd, "; ".join(messages))
    return result(cmd, "XeroBillVoided", xero_id=cmd.invoice_id, xero_status=element.get("Status"))
