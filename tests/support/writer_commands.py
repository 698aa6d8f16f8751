"""Commands as the projector sends them to the writer, for in-process writer tests.

bill = create_bill("B-1", contact_id)      # an AUTHORISED ACCPAY bill of 100.00 DKK
pay = create_payment(bill_invoice_id, "P-1", Decimal("40"))
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shared.contracts.commands import (
    BillLine,
    CreateBill,
    CreateCreditNote,
    CreatePayment,
    EnsureContact,
    command_id,
)
from shared.contracts.roger_events import Vendor

COMPANY = "acme-dk"
TENANT = "fake-tenant"
ISSUED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ensure_contact(
    name: str, *, tax_number: str | None = None, tenant: str = TENANT
) -> EnsureContact:
    vendor_id = "v-" + name.lower().replace(" ", "-")
    vendor = Vendor(id=vendor_id, name=name, tax_number=tax_number)
    return EnsureContact(
        **_head("contact", vendor_id, tenant), document_kind="vendor", vendor=vendor
    )


def _head(kind: str, key: str, tenant: str = TENANT) -> Any:
    """The fields every command has (shared.contracts.commands._Command), but its kinds."""
    return {
        "command_id": command_id(COMPANY, kind, key),
        "company_id": COMPANY,
        "tenant_id": tenant,
        "issued_at": ISSUED,
        "document_id": key,
    }


def _document(kind: str, number: str, contact_id: str, amount: Decimal, account: str) -> Any:
    """What a bill and a credit note share (shared.contracts.commands._DocumentBody)."""
    return {
        **_head(kind, number),
        "contact_id": contact_id,
        "number": number,
        "issue_date": date(2026, 3, 1),
        "currency": "DKK",
        "line_amount_types": "NoTax",
        "lines": (
            BillLine(
                description=kind, quantity=Decimal("1"), unit_amount=amount, account_code=account
            ),
        ),
        "url": f"https://roger.example/{kind}/{number}",
    }


def create_bill(
    number: str,
    contact_id: str,
    *,
    amount: Decimal = Decimal("100.00"),
    account_code: str = "429",
    tenant: str = TENANT,
) -> CreateBill:
    fields = _document("bill", number, contact_id, amount, account_code)
    fields["tenant_id"] = tenant
    return CreateBill(**fields, document_kind="bill", due_date=date(2026, 3, 31))


def create_credit_note(number: str, contact_id: str, amount: Decimal) -> CreateCreditNote:
    fields = _document("credit_note", number, contact_id, amount, "429")
    return CreateCreditNote(**fields, document_kind="credit_note")


def create_payment(
    invoice_id: str,
    payment_id: str,
    amount: Decimal | None,
    *,
    account_code: str = "090",
    bill_id: str = "bill",
) -> CreatePayment:
    head = {**_head("payment", payment_id), "document_id": bill_id}
    return CreatePayment(
        **head,
        document_kind="bill",
        payment_id=payment_id,
        invoice_id=invoice_id,
        account_code=account_code,
        paid_on=date(2026, 3, 10),
        amount=amount,
        currency="DKK",
        reference=f"Roger payment {payment_id}",
    )
