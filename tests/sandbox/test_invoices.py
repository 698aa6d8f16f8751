"""Bills: Xero's arithmetic, chart and tax validation, statuses, reads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from xero_python.accounting import CurrencyCode, Invoice, Invoices, LineAmountTypes
from xero_python.exceptions import AccountingBadRequestException

from tests.support.sandbox_helpers import bill, create_bill, new_contact


def test_contract_example_bill_totals(books):
    """bill_submitted.json: 50 × 189.00 inclusive of 25% + 250.00 delivery without tax."""
    contact = new_contact(books, "Nordic Paper Supply ApS")
    created = create_bill(
        books,
        bill(
            contact,
            [
                ("A4 copy paper, 80 g, 50 boxes", 50, "189.00", "429", "INPUT2"),
                ("Delivery", 1, "250.00", "429", "NONE"),
            ],
            amount_types=LineAmountTypes.INCLUSIVE,
            number="INV-20931",
        ),
    )
    assert created.total == Decimal("9700.00")
    assert created.total_tax == Decimal("1890.00")
    assert created.sub_total == Decimal("7810.00")
    assert created.amount_due == Decimal("9700.00")
    assert created.status == "AUTHORISED"


def test_tax_is_rounded_per_line_half_up(books):
    contact = new_contact(books, "Rounding Ltd")
    # 25% of 0.10 is 0.025 → 0.03 per line (half up), so three lines give 0.09 tax, not 0.08.
    created = create_bill(
        books,
        bill(
            contact,
            [("a", 1, "0.10", "429", "INPUT2")] * 3,
        ),
    )
    assert created.sub_total == Decimal("0.30")
    assert created.total_tax == Decimal("0.09")
    assert created.total == Decimal("0.39")


def test_inclusive_line_tax(books):
    contact = new_contact(books, "Incl Ltd")
    created = create_bill(
        books,
        bill(
            contact,
            [("a", 1, "100.00", "429", "INPUT2")],
            amount_types=LineAmountTypes.INCLUSIVE,
        ),
    )
    assert created.total_tax == Decimal("20.00")  # 100 × 25/125
    assert created.total == Decimal("100.00")
    assert created.line_items[0].tax_amount == Decimal("20.00")


def test_no_tax(books):
    contact = new_contact(books, "NoTax Ltd")
    created = create_bill(
        books,
        bill(
            contact,
            [("a", 3, "33.33", "429", "INPUT2")],
            amount_types=LineAmountTypes.NOTAX,
        ),
    )
    assert created.total_tax == Decimal("0.00")
    assert created.total == Decimal("99.99")


def test_unknown_account_code(books):
    contact = new_contact(books, "Bad Account Ltd")
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_invoices(
            books.tenant_id, Invoices(invoices=[bill(contact, [("a", 1, "1", "999", None)])])
        )
    assert caught.value.reason == "Account code '999' is not a valid code for this document."
    assert caught.value.error_data["Type"] == "ValidationException"
    assert books.ledger()["invoices"] == []


def test_archived_account_code(books):
    accounts = books.api.get_accounts(books.tenant_id, where='Code=="493"').accounts
    from xero_python.accounting import Account, Accounts

    books.api.update_account(
        books.tenant_id, accounts[0].account_id, Accounts(accounts=[Account(status="ARCHIVED")])
    )
    contact = new_contact(books, "Travel Ltd")
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_invoices(
            books.tenant_id, Invoices(invoices=[bill(contact, [("taxi", 1, "9", "493", None)])])
        )
    assert caught.value.reason == (
        "Account code '493' has been archived, or has been deleted. "
        "Each line item must reference a valid account."
    )


def test_unknown_tax_type(books):
    contact = new_contact(books, "Tax Ltd")
    result = books.api.create_invoices(
        books.tenant_id,
        Invoices(invoices=[bill(contact, [("a", 1, "1", "429", "BOGUS")])]),
        summarize_errors=False,
    )
    invoice = result.invoices[0]
    assert invoice.status_attribute_string == "ERROR"
    assert invoice.has_errors is True
    assert invoice.validation_errors[0].message == (
        "The TaxType code BOGUS does not exist or cannot be used for this type of transaction."
    )


def test_currency_must_be_enabled(books):
    contact = new_contact(books, "USD Ltd")
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_invoices(
            books.tenant_id, Invoices(invoices=[bill(contact, currency=CurrencyCode.USD)])
        )
    assert caught.value.reason == "Organisation is not subscribed to currency USD"
    create_bill(books, bill(contact, currency=CurrencyCode.EUR))


def test_accpay_numbers_may_repeat(books):
    contact = new_contact(books, "Repeat Ltd")
    create_bill(books, bill(contact, number="SAME"))
    create_bill(books, bill(contact, number="SAME"))
    found = books.api.get_invoices(books.tenant_id, invoice_numbers=["SAME"])
    assert len(found.invoices) == 2


def test_get_filters_and_paging(books):
    contact = new_contact(books, "Filter Ltd")
    draft = create_bill(books, bill(contact, status="DRAFT", number="D-1"))
    authorised = create_bill(books, bill(contact, number="A-1"))
    by_status = books.api.get_invoices(books.tenant_id, statuses=["DRAFT"])
    assert [i.invoice_id for i in by_status.invoices] == [draft.invoice_id]
    by_where = books.api.get_invoices(
        books.tenant_id, where='Type=="ACCPAY" AND Status=="AUTHORISED"'
    )
    assert [i.invoice_id for i in by_where.invoices] == [authorised.invoice_id]
    by_contact = books.api.get_invoices(books.tenant_id, contact_i_ds=[contact], page=1)
    assert len(by_contact.invoices) == 2
    assert by_contact.pagination.item_count == 2
    assert by_contact.invoices[0].line_items  # paged reads carry line items
    unpaged = books.api.get_invoices(books.tenant_id, i_ds=[draft.invoice_id])
    assert unpaged.invoices[0].line_items == []  # unpaged reads are summaries
    assert unpaged.pagination is None


def test_status_rules(books):
    contact = new_contact(books, "Status Ltd")
    draft = create_bill(books, bill(contact, status="DRAFT"))
    authorised = create_bill(books, bill(contact))
    deleted = books.api.update_invoice(
        books.tenant_id,
        draft.invoice_id,
        Invoices(invoices=[Invoice(status="DELETED")]),
    )
    assert deleted.invoices[0].status == "DELETED"
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.update_invoice(
            books.tenant_id,
            authorised.invoice_id,
            Invoices(invoices=[Invoice(status="DELETED")]),
        )
    assert caught.value.reason == "Invoice not of valid status for modification"
    voided = books.api.update_invoice(
        books.tenant_id, authorised.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    )
    assert voided.invoices[0].status == "VOIDED"


def test_approval_needs_accounts_and_due_date(books):
    contact = new_contact(books, "Approve Ltd")
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_invoices(
            books.tenant_id, Invoices(invoices=[bill(contact, [("x", 1, "5", None, None)])])
        )
    assert caught.value.reason == "Account code must be specified"
    draft = create_bill(books, bill(contact, [("x", 1, "5", None, None)], status="DRAFT"))
    assert draft.status == "DRAFT"


def test_summarized_batch_is_400_listing_every_element_with_its_own_errors(books):
    contact = new_contact(books, "Batch Ltd")
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_invoices(
            books.tenant_id,
            Invoices(
                invoices=[
                    bill(contact, number="OK-1"),
                    bill(contact, [("a", 1, "1", "999", None)], number="BAD-1"),
                ]
            ),
        )
    good, bad = caught.value.error_data["Elements"]
    assert good["InvoiceNumber"] == "OK-1" and good["ValidationErrors"] == []
    assert bad["InvoiceID"] == "00000000-0000-0000-0000-000000000000"
    assert bad["InvoiceNumber"] == "BAD-1"
    assert bad["ValidationErrors"] == [
        {"Message": "Account code '999' is not a valid code for this document."}
    ]
