"""One batch of one company's commands, of one kind, carried out in Xero.

Exactly-once in Xero rests on three things here: an Idempotency-Key derived
from the batch's command ids (a retried call replays), a record of every
attempt (a command tried before is looked up before it is created again), and
Xero-side markers we can find (a bill's Url, a payment's Reference).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.xero_writer.contacts import contact_payload, find_contact
from services.xero_writer.xero_client import Refused, validation_messages
from shared.commands import CreateBill, CreatePayment, EnsureContact
from shared.results import XeroResult

Command = EnsureContact | CreateBill | CreatePayment
# call(method, path, params=..., body=..., idempotency_key=...) bound to one organisation.
Call = Callable[..., Awaitable[dict[str, Any]]]

DUPLICATE_NAME = "already assigned to another contact"


def batch_key(commands: Sequence[Command], step: str) -> str:
    digest = hashlib.sha256("|".join([step, *sorted(c.command_id for c in commands)]).encode())
    return f"rx-{step}-{digest.hexdigest()[:48]}"


def result(cmd: Command, type_: str, **fields: Any) -> XeroResult:
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


def failed(cmd: Command, message: str) -> XeroResult:
    return result(cmd, "XeroCommandFailed", message=message)


def _decimal_json(value: Any) -> Any:
    from decimal import Decimal

    return None if value is None else Decimal(str(value))


async def _all_contacts(call: Call) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = await call(
            "GET",
            "/Contacts",
            params={
                "where": 'ContactStatus=="ACTIVE"',
                "page": str(page),
                "pageSize": "1000",
            },
        )
        batch = answer.get("Contacts") or []
        contacts += batch
        pagination = answer.get("pagination") or {}
        if not batch or page >= int(pagination.get("pageCount", page)):
            return contacts
        page += 1


async def ensure_contacts(
    call: Call, commands: list[EnsureContact], _earlier: set[str]
) -> list[XeroResult]:
    # Always look first: the contact may exist already (made by a person or an earlier attempt).
    existing = await _all_contacts(call)
    results: list[XeroResult] = []
    to_create: list[EnsureContact] = []
    for cmd in commands:
        match = find_contact(cmd.vendor, existing)
        if match:
            results.append(
                result(
                    cmd,
                    "XeroContactLinked",
                    xero_id=match["ContactID"],
                    xero_number=match.get("Name"),
                )
            )
        else:
            to_create.append(cmd)
    # Two vendors in one batch that are one contact to Xero: create it once.
    unique: dict[str, EnsureContact] = {}
    from services.xero_writer.contacts import normalise_name

    for cmd in to_create:
        unique.setdefault(normalise_name(cmd.vendor.name), cmd)
    if unique:
        created = await call(
            "PUT",
            "/Contacts",
            params={"summarizeErrors": "false"},
            body={"Contacts": [contact_payload(c.vendor) for c in unique.values()]},
            idempotency_key=batch_key(list(unique.values()), "contacts"),
        )
        by_name: dict[str, dict[str, Any]] = {}
        retry_lookup = False
        for cmd, element in zip(unique.values(), created.get("Contacts") or [], strict=False):
            messages = validation_messages(element)
            if not messages and element.get("ContactID"):
                by_name[normalise_name(cmd.vendor.name)] = element
            elif any(DUPLICATE_NAME in m for m in messages):
                retry_lookup = True  # someone holds the name: link to that contact
            else:
                by_name[normalise_name(cmd.vendor.name)] = {
                    "_error": "; ".join(messages) or "refused"
                }
        if retry_lookup:
            existing = await _all_contacts(call)
        for cmd in to_create:
            key = normalise_name(cmd.vendor.name)
            element = by_name.get(key) or find_contact(cmd.vendor, existing)
            if element is None:
                results.append(failed(cmd, "Xero did not create the contact and none matches it"))
            elif "_error" in element:
                results.append(failed(cmd, element["_error"]))
            else:
                results.append(
                    result(
                        cmd,
                        "XeroContactLinked",
                        xero_id=element["ContactID"],
                        xero_number=element.get("Name"),
                    )
                )
    return results


def bill_payload(cmd: CreateBill) -> dict[str, Any]:
    return {
        "Type": "ACCPAY",
        "Contact": {"ContactID": cmd.contact_id},
        "InvoiceNumber": cmd.invoice_number,
        "Date": cmd.issue_date.isoformat(),
        "DueDate": cmd.due_date.isoformat(),
        "CurrencyCode": cmd.currency,
        "LineAmountTypes": cmd.line_amount_types,
        "Status": "AUTHORISED",
        "Url": cmd.url,
        "LineItems": [
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
        ],
    }


def _bill_created(cmd: CreateBill, invoice: dict[str, Any]) -> XeroResult:
    return result(
        cmd,
        "XeroBillCreated",
        xero_id=invoice["InvoiceID"],
        xero_number=invoice.get("InvoiceNumber"),
        xero_total=_decimal_json(invoice.get("Total")),
        xero_status=invoice.get("Status"),
    )


async def _existing_bills(call: Call, commands: list[CreateBill]) -> dict[str, dict[str, Any]]:
    """Bills an earlier attempt may have made, found by their Url (unique per Roger bill)."""
    answer = await call(
        "GET",
        "/Invoices",
        params={
            "ContactIDs": ",".join(sorted({c.contact_id for c in commands})),
            "InvoiceNumbers": ",".join(sorted({c.invoice_number for c in commands})),
            "page": "1",
            "pageSize": "1000",
        },
    )
    return {
        inv.get("Url"): inv
        for inv in answer.get("Invoices") or []
        if inv.get("Type") == "ACCPAY"
        and inv.get("Status") not in ("DELETED", "VOIDED")
        and inv.get("Url")
    }


async def create_bills(
    call: Call, commands: list[CreateBill], earlier: set[str]
) -> list[XeroResult]:
    results: list[XeroResult] = []
    todo = commands
    if earlier & {c.command_id for c in commands}:
        found = await _existing_bills(call, commands)
        results += [_bill_created(c, found[c.url]) for c in commands if c.url in found]
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
    for cmd, invoice in zip(todo, answer.get("Invoices") or [], strict=False):
        messages = validation_messages(invoice)
        if (
            messages
            or invoice.get("StatusAttributeString") == "ERROR"
            or not invoice.get("InvoiceID")
        ):
            results.append(failed(cmd, "; ".join(messages) or "Xero refused the bill"))
        else:
            results.append(_bill_created(cmd, invoice))
    return results


def payment_payload(cmd: CreatePayment) -> dict[str, Any]:
    return {
        "Invoice": {"InvoiceID": cmd.invoice_id},
        "Account": {"Code": cmd.account_code},
        "Date": cmd.paid_on.isoformat(),
        "Amount": cmd.amount,
        "Reference": cmd.reference,
    }


async def _existing_payments(
    call: Call, commands: list[CreatePayment]
) -> dict[str, dict[str, Any]]:
    answer = await call(
        "GET",
        "/Invoices",
        params={
            "IDs": ",".join(sorted({c.invoice_id for c in commands})),
            "page": "1",
        },
    )
    found: dict[str, dict[str, Any]] = {}
    for invoice in answer.get("Invoices") or []:
        for payment in invoice.get("Payments") or []:
            if payment.get("Reference") and payment.get("Status", "AUTHORISED") != "DELETED":
                found[payment["Reference"]] = payment
    return found


async def create_payments(
    call: Call, commands: list[CreatePayment], earlier: set[str]
) -> list[XeroResult]:
    results: list[XeroResult] = []
    todo = commands
    if earlier & {c.command_id for c in commands}:
        found = await _existing_payments(call, commands)
        results += [
            result(c, "XeroPaymentCreated", xero_id=found[c.reference]["PaymentID"])
            for c in commands
            if c.reference in found
        ]
        todo = [c for c in commands if c.reference not in found]
    if not todo:
        return results
    answer = await call(
        "PUT",
        "/Payments",
        params={"summarizeErrors": "false"},
        body={"Payments": [payment_payload(c) for c in todo]},
        idempotency_key=batch_key(todo, "payments"),
    )
    for cmd, payment in zip(todo, answer.get("Payments") or [], strict=False):
        messages = validation_messages(payment)
        if (
            messages
            or payment.get("StatusAttributeString") == "ERROR"
            or not payment.get("PaymentID")
        ):
            results.append(failed(cmd, "; ".join(messages) or "Xero refused the payment"))
        else:
            results.append(
                result(
                    cmd,
                    "XeroPaymentCreated",
                    xero_id=payment["PaymentID"],
                    xero_status=payment.get("Status"),
                )
            )
    return results


async def execute(call: Call, commands: list[Command], earlier: set[str]) -> list[XeroResult]:
    """Runs one batch of one kind; a lone command Xero refuses whole fails with its message."""
    kind = commands[0].kind
    try:
        if kind == "EnsureContact":
            return await ensure_contacts(call, commands, earlier)  # type: ignore[arg-type]
        if kind == "CreateBill":
            return await create_bills(call, commands, earlier)  # type: ignore[arg-type]
        return await create_payments(call, commands, earlier)  # type: ignore[arg-type]
    except Refused as exc:
        if len(commands) == 1:
            return [failed(commands[0], exc.message)]
        raise
