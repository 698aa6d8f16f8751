"""Building Roger events for tests, in the contract's shape (``roger-events.md``)."""

from __future__ import annotations

import uuid
from typing import Any


def event(
    type_: str, company_id: str, data: dict[str, Any], *, day: int = 20, minute: int = 0
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "version": 1,
        "company_id": company_id,
        "occurred_at": f"2026-11-{day:02d}T09:{minute:02d}:00+01:00",
        "data": data,
    }


def vendor(
    vendor_id: str = "ven_1", name: str = "Nordic Paper Supply ApS", **extra: Any
) -> dict[str, Any]:
    return {
        "id": vendor_id,
        "name": name,
        "email": None,
        "tax_number": None,
        "country": "DK",
        "address": None,
        "bank_account": None,
        **extra,
    }


def line(
    description: str,
    quantity: str,
    unit_amount: str,
    category: str | None = "429",
    tax_type: str | None = None,
) -> dict[str, Any]:
    return {
        "description": description,
        "quantity": quantity,
        "unit_amount": unit_amount,
        "category_code": category,
        "tax_type": tax_type,
        "tracking": [],
    }


def document_data(
    lines: list[dict[str, Any]],
    total: str,
    *,
    amount_type: str = "inclusive",
    currency: str = "DKK",
    ven: dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "vendor": ven or vendor(),
        "currency": currency,
        "amount_type": amount_type,
        "lines": lines,
        "total": total,
        "attachments": attachments or [],
    }


def bill(
    company_id: str,
    bill_id: str,
    lines: list[dict[str, Any]],
    total: str,
    *,
    type_: str = "bill.submitted",
    number: str | None = "INV-1",
    day: int = 20,
    minute: int = 0,
    **kw: Any,
) -> dict[str, Any]:
    data = {
        "bill_id": bill_id,
        "invoice_number": number,
        "issue_date": "2026-11-02",
        "due_date": "2026-12-02",
        **document_data(lines, total, **kw),
    }
    return event(type_, company_id, data, day=day, minute=minute)


def paid(
    company_id: str,
    bill_id: str,
    payment_id: str,
    amount: str,
    *,
    currency: str = "DKK",
    day: int = 24,
    account: str | None = "090",
) -> dict[str, Any]:
    return event(
        "bill.paid",
        company_id,
        {
            "bill_id": bill_id,
            "payment_id": payment_id,
            "amount": amount,
            "currency": currency,
            "paid_on": "2026-11-24",
            "payment_account_code": account,
        },
        day=day,
    )


def reversed_(company_id: str, bill_id: str, payment_id: str, *, day: int = 25) -> dict[str, Any]:
    return event(
        "payment.reversed",
        company_id,
        {"bill_id": bill_id, "payment_id": payment_id, "reason": "returned by the bank"},
        day=day,
    )


def deleted(company_id: str, bill_id: str, *, day: int = 26) -> dict[str, Any]:
    return event("bill.deleted", company_id, {"bill_id": bill_id}, day=day)


def receipt(
    company_id: str,
    receipt_id: str,
    lines: list[dict[str, Any]],
    total: str,
    *,
    account: str | None = None,
    day: int = 20,
    **kw: Any,
) -> dict[str, Any]:
    data = {
        "receipt_id": receipt_id,
        "receipt_number": None,
        "paid_on": "2026-11-12",
        "payment_account_code": account,
        **document_data(lines, total, **kw),
    }
    return event("receipt.submitted", company_id, data, day=day)


def credit_note(
    company_id: str,
    credit_note_id: str,
    lines: list[dict[str, Any]],
    total: str,
    *,
    applies_to: str | None,
    day: int = 21,
    **kw: Any,
) -> dict[str, Any]:
    data = {
        "credit_note_id": credit_note_id,
        "credit_note_number": f"CN-{credit_note_id}",
        "issue_date": "2026-11-10",
        "applies_to_bill_id": applies_to,
        **document_data(lines, total, **kw),
    }
    return event("credit_note.submitted", company_id, data, day=day)


def vendor_updated(company_id: str, ven: dict[str, Any], *, day: int = 27) -> dict[str, Any]:
    return event("vendor.updated", company_id, {"vendor": ven}, day=day)
