"""Payments: only on AUTHORISED bills, never above AmountDue, only from payable accounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from xero_python.accounting import Payment, Payments
from xero_python.exceptions import AccountingBadRequestException

from tests.support.sandbox_helpers import bill, create_bill, new_contact, payment


@pytest.fixture
def authorised_bill(books):
    contact = new_contact(books, "Payee Ltd")
    return create_bill(books, bill(contact, [("a", 1, "100.00", "429", "INPUT2")]))


def test_partial_then_full_payment_marks_paid(books, authorised_bill):
    invoice_id = authorised_bill.invoice_id
    assert authorised_bill.total == Decimal("125.00")
    first = books.api.create_payment(books.tenant_id, payment(invoice_id, "25.00"))
    assert first.payments[0].invoice.amount_due == Decimal("100.00")
    assert first.payments[0].invoice.status == "AUTHORISED"
    assert first.payments[0].payment_type == "ACCPAYPAYMENT"
    books.api.create_payments(
        books.tenant_id,
        Payments(payments=[payment(invoice_id, "100.00")]),
        summarize_errors=False,
    )
    invoice = books.api.get_invoice(books.tenant_id, invoice_id).invoices[0]
    assert invoice.status == "PAID"
    assert invoice.amount_due == Decimal("0.00")
    assert invoice.amount_paid == Decimal("125.00")
    assert invoice.fully_paid_on_date is not None
    assert len(invoice.payments) == 2


def test_payment_above_amount_due_is_refused(books, authorised_bill):
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_payment(books.tenant_id, payment(authorised_bill.invoice_id, "125.01"))
    assert caught.value.reason == "Payment amount exceeds the amount outstanding on this document"
    assert books.ledger()["payments"] == []


def test_payment_on_draft_is_refused(books):
    contact = new_contact(books, "Draft Payee")
    draft = create_bill(books, bill(contact, status="DRAFT"))
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_payment(books.tenant_id, payment(draft.invoice_id, "1.00"))
    assert caught.value.reason == "Payments can only be made against Authorised documents"


def test_payment_only_from_bank_or_payments_enabled_accounts(books, authorised_bill):
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_payment(
            books.tenant_id, payment(authorised_bill.invoice_id, "1.00", code="429")
        )
    assert caught.value.reason == "Account type is invalid for making a payment to/from"
    # 881 is a liability with EnablePaymentsToAccount.
    books.api.create_payment(books.tenant_id, payment(authorised_bill.invoice_id, "1.00", "881"))


def test_deleting_a_payment_reopens_the_bill(books, authorised_bill):
    invoice_id = authorised_bill.invoice_id
    paid = books.api.create_payment(books.tenant_id, payment(invoice_id, "125.00"))
    payment_id = paid.payments[0].payment_id
    assert paid.payments[0].invoice.status == "PAID"
    deleted = books.api.delete_payment(books.tenant_id, payment_id, Payment(status="DELETED"))
    assert deleted.payments[0].status == "DELETED"
    invoice = books.api.get_invoice(books.tenant_id, invoice_id).invoices[0]
    assert invoice.status == "AUTHORISED"
    assert invoice.amount_due == Decimal("125.00")
    assert invoice.fully_paid_on_date is None


def test_paid_bill_cannot_be_edited_or_voided(books, authorised_bill):
    from xero_python.accounting import Invoice, Invoices

    invoice_id = authorised_bill.invoice_id
    books.api.create_payment(books.tenant_id, payment(invoice_id, "10.00"))
    for change in (Invoice(status="VOIDED"), Invoice(reference="x", line_items=[])):
        with pytest.raises(AccountingBadRequestException) as caught:
            books.api.update_invoice(books.tenant_id, invoice_id, Invoices(invoices=[change]))
        assert caught.value.reason == (
            "This document cannot be edited as it has a payment or credit note allocated to it."
        )


def test_batch_payments_summarize_false(books, authorised_bill):
    result = books.api.create_payments(
        books.tenant_id,
        Payments(
            payments=[
                payment(authorised_bill.invoice_id, "200.00"),
                payment(authorised_bill.invoice_id, "5.00"),
            ]
        ),
        summarize_errors=False,
    )
    assert [p.status_attribute_string for p in result.payments] == ["ERROR", "OK"]
    listed = books.api.get_payments(books.tenant_id, where='Status=="AUTHORISED"')
    assert len(listed.payments) == 1
