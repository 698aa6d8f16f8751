"""Small builders for xero-python models used across the conformance suite."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
from xero_python.accounting import (
    Account,
    Contact,
    Contacts,
    CurrencyCode,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
)


def new_contact(books: Any, name: str, **fields: Any) -> str:
    result = books.api.create_contacts(
        books.tenant_id, Contacts(contacts=[Contact(name=name, **fields)]), summarize_errors=False
    )
    assert result.contacts[0].status_attribute_string == "OK", result.contacts[0]
    return str(result.contacts[0].contact_id)


def bill(
    contact_id: str,
    lines: list[tuple[str, Any, Any, str | None, str | None]] | None = None,
    status: str = "AUTHORISED",
    amount_types: LineAmountTypes = LineAmountTypes.EXCLUSIVE,
    currency: CurrencyCode = CurrencyCode.DKK,
    number: str = "SUP-1",
    **extra: Any,
) -> Invoice:
    lines = lines or [("Paper", 2, "100.00", "429", "INPUT2")]
    return Invoice(
        type="ACCPAY",
        contact=Contact(contact_id=contact_id),
        date=dt.date(2026, 11, 2),
        due_date=dt.date(2026, 12, 2),
        line_amount_types=amount_types,
        invoice_number=number,
        currency_code=currency,
        status=status,
        line_items=[
            LineItem(
                description=d,
                quantity=Decimal(str(q)),
                unit_amount=Decimal(str(u)),
                account_code=a,
                tax_type=t,
            )
            for d, q, u, a, t in lines
        ],
        **extra,
    )


def create_bill(books: Any, invoice: Invoice) -> Any:
    result = books.api.create_invoices(
        books.tenant_id, Invoices(invoices=[invoice]), summarize_errors=False
    )
    created = result.invoices[0]
    assert created.status_attribute_string == "OK", created.validation_errors
    return created


def payment(invoice_id: str, amount: Any, code: str = "090") -> Payment:
    return Payment(
        invoice=Invoice(invoice_id=invoice_id),
        account=Account(code=code),
        amount=Decimal(str(amount)),
        date=dt.date(2026, 11, 20),
    )


def raw(books: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One Accounting API call as plain HTTP, to see status, headers and body as sent."""
    headers = {
        "Authorization": "Bearer " + books.token["access_token"],
        "xero-tenant-id": books.tenant_id,
        "Accept": "application/json",
        **kwargs.pop("headers", {}),
    }
    return httpx.request(method, books.sandbox.accounting_url + path, headers=headers, **kwargs)


def authorised_bill(contact_id: str, number: str = "SUP-1", **extra: Any) -> dict[str, Any]:
    """A wire-format AUTHORISED ACCPAY bill of 100.00 + 25% VAT, dated 2026-11-02."""
    body: dict[str, Any] = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": number,
        "Date": "2026-11-02",
        "DueDate": "2026-12-02",
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "Description": "Paper",
                "Quantity": 1,
                "UnitAmount": 100,
                "AccountCode": "429",
                "TaxType": "INPUT2",
            }
        ],
    }
    body.update(extra)
    return body
