"""Commands as the projector sends them to the writer, for in-process writer tests.

bill = create_bill("B-1", contact_id)      # an AUTHORISED ACCPAY bill of 100.00 DKK
pay = create_payment(bill_invoice_id, "P-1", Decimal("40"))
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

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
    return EnsureContact(
        command_id=command_id(COMPANY, "contact", vendor_id),
        company_id=COMPANY,
        tenant_id=tenant,
        issued_at=ISSUED,
        document_kind="vendor",
        document_id=vendor_id,
        vendor=Vendor(id=vendor_id, name=name, tax_number=tax_number),
    )


def create_bill(
    number: str,
    contact_id: str,
    *,
    amount: Decimal = Decimal("100.00"),
    account_code: str = "429",
    tenant: str = TENANT,
) -> CreateBill:
    return CreateBill(
        command_id=command_id(COMPANY, "bill", number),
        company_id=COMPANY,
        tenant_id=tenant,
        issued_at=ISSUED,
        document_kind="bill",
        document_id=number,
        contact_id=contact_id,
        number=number,
        issue_date=date(2026, 3, 1),
        due_date=date(2026, 3, 31),
        currency="DKK",
        line_amount_types="NoTax",
        lines=(
            BillLine(
                description="Consulting",
                quantity=Decimal("1"),
                unit_amount=amount,
                account_code=account_code,
            ),
        ),
        url=f"https://roger.example/bills/{number}",
    )


def create_credit_note(number: str, contact_id: str, amount: Decimal) -> CreateCreditNote:
    return CreateCreditNote(
        command_id=command_id(COMPANY, "credit_note", number),
        company_id=COMPANY,
        tenant_id=TENANT,
        issued_at=ISSUED,
        document_kind="credit_note",
        document_id=number,
        contact_id=contact_id,
        number=number,
        issue_date=date(2026, 3, 1),
        currency="DKK",
        line_amount_types="NoTax",
        lines=(
            BillLine(
                description="Refund", quantity=Decimal("1"), unit_amount=amount, account_code="429"
            ),
        ),
        url=f"https://roger.example/credit-notes/{number}",
    )


def create_payment(
    invoice_id: str,
    payment_id: str,
    amount: Decimal | None,
    *,
    account_code: str = "090",
    bill_id: str = "bill",
) -> CreatePayment:
    return CreatePayment(
        command_id=command_id(COMPANY, "payment", payment_id),
        company_id=COMPANY,
        tenant_id=TENANT,
        issued_at=ISSUED,
        document_kind="bill",
        document_id=bill_id,
        payment_id=payment_id,
        invoice_id=invoice_id,
        account_code=account_code,
        paid_on=date(2026, 3, 10),
        amount=amount,
        currency="DKK",
        reference=f"Roger payment {payment_id}",
    )
