"""Supplier credit notes and allocations, with Xero's allocation rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from xero_python.accounting import (
    Allocation,
    Allocations,
    Contact,
    CreditNote,
    CreditNotes,
    Invoice,
    LineAmountTypes,
    LineItem,
)
from xero_python.exceptions import AccountingBadRequestException

from tests.support.sandbox_helpers import bill, create_bill, new_contact


def credit_note(contact_id: str, amount: str = "945.00", status: str = "AUTHORISED"):
    return CreditNote(
        type="ACCPAYCREDIT",
        contact=Contact(contact_id=contact_id),
        date=dt.date(2026, 11, 10),
        line_amount_types=LineAmountTypes.INCLUSIVE,
        credit_note_number="CN-118",
        status=status,
        line_items=[
            LineItem(
                description="Damaged boxes returned",
                quantity=Decimal("1"),
                unit_amount=Decimal(amount),
                account_code="429",
                tax_type="INPUT2",
            )
        ],
    )


def create_note(books, note):
    result = books.api.create_credit_notes(
        books.tenant_id, CreditNotes(credit_notes=[note]), summarize_errors=False
    )
    created = result.credit_notes[0]
    assert created.status_attribute_string == "OK", created.validation_errors
    return created


def allocation(invoice_id: str, amount: str) -> Allocations:
    return Allocations(
        allocations=[
            Allocation(
                invoice=Invoice(invoice_id=invoice_id),
                amount=Decimal(amount),
                date=dt.date(2026, 11, 24),
            )
        ]
    )


@pytest.fixture
def supplier(books):
    return new_contact(books, "Nordic Paper Supply ApS")


def test_credit_note_totals_and_allocation(books, supplier):
    invoice = create_bill(
        books,
        bill(
            supplier,
            [("Paper", 50, "189.00", "429", "INPUT2")],
            amount_types=LineAmountTypes.INCLUSIVE,
        ),
    )
    note = create_note(books, credit_note(supplier))
    assert note.total == Decimal("945.00")
    assert note.total_tax == Decimal("189.00")
    assert note.remaining_credit == Decimal("945.00")
    result = books.api.create_credit_note_allocation(
        books.tenant_id, note.credit_note_id, allocation(invoice.invoice_id, "945.00")
    )
    assert result.allocations[0].amount == Decimal("945.00")
    after = books.api.get_invoice(books.tenant_id, invoice.invoice_id).invoices[0]
    assert after.amount_credited == Decimal("945.00")
    assert after.amount_due == Decimal("8505.00")
    note_after = books.api.get_credit_note(books.tenant_id, note.credit_note_id).credit_notes[0]
    assert note_after.remaining_credit == Decimal("0.00")
    assert note_after.status == "PAID"
    assert len(books.ledger()["allocations"]) == 1


def test_allocation_above_remaining_credit_or_amount_due_is_refused(books, supplier):
    invoice = create_bill(books, bill(supplier, [("a", 1, "100.00", "429", "NONE")]))
    note = create_note(books, credit_note(supplier, "500.00"))
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_credit_note_allocation(
            books.tenant_id, note.credit_note_id, allocation(invoice.invoice_id, "100.01")
        )
    assert caught.value.reason == (
        "Credit Note cannot be allocated as amount is greater than amount outstanding"
    )
    small = create_note(books, credit_note(supplier, "10.00"))
    with pytest.raises(AccountingBadRequestException):
        books.api.create_credit_note_allocation(
            books.tenant_id, small.credit_note_id, allocation(invoice.invoice_id, "10.01")
        )
    assert books.ledger()["allocations"] == []


def test_allocation_needs_authorised_note_and_same_contact(books, supplier):
    invoice = create_bill(books, bill(supplier))
    draft = create_note(books, credit_note(supplier, "1.00", status="DRAFT"))
    with pytest.raises(AccountingBadRequestException):
        books.api.create_credit_note_allocation(
            books.tenant_id, draft.credit_note_id, allocation(invoice.invoice_id, "1.00")
        )
    stranger = new_contact(books, "Someone Else")
    other = create_note(books, credit_note(stranger, "1.00"))
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_credit_note_allocation(
            books.tenant_id, other.credit_note_id, allocation(invoice.invoice_id, "1.00")
        )
    assert "same contact" in caught.value.reason


def test_allocation_to_sales_invoice_is_wrong_type(books, supplier):
    sales = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=supplier),
        date=dt.date(2026, 11, 1),
        due_date=dt.date(2026, 12, 1),
        status="AUTHORISED",
        line_items=[
            LineItem(
                description="x", quantity=Decimal(1), unit_amount=Decimal(50), account_code="200"
            )
        ],
    )
    invoice = create_bill(books, sales)
    note = create_note(books, credit_note(supplier, "10.00"))
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_credit_note_allocation(
            books.tenant_id, note.credit_note_id, allocation(invoice.invoice_id, "1.00")
        )
    assert caught.value.reason == "Credit Note cannot be allocated to an incorrect invoice type"


def test_credited_bill_cannot_be_edited(books, supplier):
    from xero_python.accounting import Invoices

    invoice = create_bill(books, bill(supplier))
    note = create_note(books, credit_note(supplier, "10.00"))
    books.api.create_credit_note_allocation(
        books.tenant_id, note.credit_note_id, allocation(invoice.invoice_id, "10.00")
    )
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.update_invoice(
            books.tenant_id, invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
        )
    assert "payment or credit note allocated" in caught.value.reason


def test_an_allocation_taken_off_gives_the_credit_back_and_frees_the_bill(books, supplier):
    from xero_python.accounting import Invoices

    invoice = create_bill(books, bill(supplier))
    note = create_note(books, credit_note(supplier, "10.00"))
    made = books.api.create_credit_note_allocation(
        books.tenant_id, note.credit_note_id, allocation(invoice.invoice_id, "10.00")
    )
    allocation_id = made.allocations[0].allocation_id

    gone = books.api.delete_credit_note_allocations(
        books.tenant_id, note.credit_note_id, allocation_id
    )

    assert gone.is_deleted is True
    note_after = books.api.get_credit_note(books.tenant_id, note.credit_note_id).credit_notes[0]
    assert (note_after.status, note_after.remaining_credit) == ("AUTHORISED", Decimal("10.00"))
    assert note_after.allocations == []
    after = books.api.get_invoice(books.tenant_id, invoice.invoice_id).invoices[0]
    assert after.amount_credited == Decimal("0.00")
    assert after.amount_due == after.total
    # Taken off twice: Xero answers it again, deleted; nothing changes.
    again = books.api.delete_credit_note_allocations(
        books.tenant_id, note.credit_note_id, allocation_id
    )
    assert again.is_deleted is True
    voided = books.api.update_invoice(
        books.tenant_id, invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    )
    assert voided.invoices[0].status == "VOIDED"


def test_credit_notes_read_back(books, supplier):
    note = create_note(books, credit_note(supplier))
    listed = books.api.get_credit_notes(books.tenant_id, where='Type=="ACCPAYCREDIT"', page=1)
    assert [n.credit_note_id for n in listed.credit_notes] == [note.credit_note_id]
    assert listed.pagination.item_count == 1
