"""SPEND bank transactions (receipts) and attachments."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from xero_python.accounting import (
    Account,
    BankTransaction,
    BankTransactions,
    Contact,
    LineAmountTypes,
    LineItem,
)
from xero_python.exceptions import AccountingBadRequestException, HTTPStatusException

from tests.support.sandbox_helpers import bill, create_bill, new_contact


def spend(bank_code: str = "090", account_code: str = "493", contact: Contact | None = None):
    return BankTransaction(
        type="SPEND",
        contact=contact or Contact(name="Taxa 4x35"),
        bank_account=Account(code=bank_code),
        date=dt.date(2026, 11, 12),
        line_amount_types=LineAmountTypes.INCLUSIVE,
        line_items=[
            LineItem(
                description="Taxi to client meeting",
                quantity=Decimal(1),
                unit_amount=Decimal("312.50"),
                account_code=account_code,
            )
        ],
    )


def test_receipt_as_spend_transaction(books):
    result = books.api.create_bank_transactions(
        books.tenant_id, BankTransactions(bank_transactions=[spend()]), summarize_errors=False
    )
    created = result.bank_transactions[0]
    assert created.status_attribute_string == "OK"
    assert created.status == "AUTHORISED"
    assert created.total == Decimal("312.50")
    assert created.total_tax == Decimal("62.50")  # 493's default tax type is INPUT2 (25%)
    assert created.contact.name == "Taxa 4x35"  # created from the name
    ledger = books.ledger()
    assert ledger["contacts"][0]["IsSupplier"] is True
    assert len(ledger["bank_transactions"]) == 1


def test_spend_needs_a_bank_account(books):
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_bank_transactions(
            books.tenant_id, BankTransactions(bank_transactions=[spend(bank_code="429")])
        )
    assert caught.value.reason == "A valid BankAccount must be specified."


def test_spend_needs_a_contact(books):
    transaction = spend()
    transaction.contact = Contact()
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_bank_transactions(
            books.tenant_id, BankTransactions(bank_transactions=[transaction])
        )
    assert caught.value.reason.startswith("The Contact must contain at least 1 of the following")


def test_attachments_upload_replace_list_and_fetch(books):
    contact = new_contact(books, "Attach Ltd")
    invoice = create_bill(books, bill(contact))
    pdf = b"%PDF-1.4 fake bill"
    uploaded = books.api.create_invoice_attachment_by_file_name(
        books.tenant_id, invoice.invoice_id, "INV-20931.pdf", pdf
    )
    assert uploaded.attachments[0].file_name == "INV-20931.pdf"
    assert uploaded.attachments[0].content_length == len(pdf)
    # Same file name again replaces, not adds.
    books.api.create_invoice_attachment_by_file_name(
        books.tenant_id, invoice.invoice_id, "INV-20931.pdf", pdf + b"v2"
    )
    listed = books.api.get_invoice_attachments(books.tenant_id, invoice.invoice_id)
    assert len(listed.attachments) == 1
    ledger = books.ledger()
    assert ledger["attachments"][0]["sha256"] == hashlib.sha256(pdf + b"v2").hexdigest()
    assert ledger["invoices"][0]["HasAttachments"] is True


def test_at_most_10_attachments_per_document(books):
    contact = new_contact(books, "Many Files Ltd")
    invoice = create_bill(books, bill(contact))
    for n in range(10):
        books.api.create_invoice_attachment_by_file_name(
            books.tenant_id, invoice.invoice_id, f"page-{n}.pdf", b"x"
        )
    with pytest.raises(AccountingBadRequestException):
        books.api.create_invoice_attachment_by_file_name(
            books.tenant_id, invoice.invoice_id, "page-10.pdf", b"x"
        )


def test_attachment_size_limit(xero_sandbox, books):
    contact = new_contact(books, "Big File Ltd")
    invoice = create_bill(books, bill(contact))
    previous = xero_sandbox.settings()["attachment_max_bytes"]
    xero_sandbox.settings(attachment_max_bytes=1000)
    try:
        with pytest.raises(HTTPStatusException) as caught:
            books.api.create_invoice_attachment_by_file_name(
                books.tenant_id, invoice.invoice_id, "big.pdf", b"x" * 1001
            )
        assert caught.value.status == 413
    finally:
        xero_sandbox.settings(attachment_max_bytes=previous)
    assert books.ledger()["attachments"] == []
