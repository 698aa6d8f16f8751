"""Xero's total checked against Roger's document total, to the cent (issue 11, "precision").

The projector puts Roger's ``total`` (tax included) on every bill and credit-note
command; after a create or an update the writer compares Xero's ``Total`` with it. With
tax on top (``Exclusive``) Roger's lines fix only the total before tax, so without this a
bill whose tax Xero reckons otherwise went unnoticed. A difference is a warning on the
document naming both amounts; the document itself is made.
"""

from __future__ import annotations

from decimal import Decimal

from services.projector.domain.state import CompanyState
from services.xero_writer.document_ops import total_check
from shared.contracts.commands import CreateBill, UpdateBill, command_id
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.projector_facts import answer, bill_data, connected, fact, step
from tests.support.writer_commands import COMPANY, create_bill, create_credit_note


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


async def test_a_bill_whose_total_matches_rogers_has_no_warning() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero)).model_copy(update={"total": Decimal("100.00")})

    [made] = (await w.run(bill)).values()

    assert made.type == "XeroBillCreated"
    assert made.message is None


async def test_an_exclusive_bill_with_another_total_in_xero_is_made_with_a_warning() -> None:
    w = writer_on()  # the fake reckons no tax: its Total is the lines' 100.00
    bill = create_bill("B-1", _contact(w.xero)).model_copy(
        update={"line_amount_types": "Exclusive", "total": Decimal("125.00")}
    )

    [made] = (await w.run(bill)).values()

    assert made.type == "XeroBillCreated" and made.xero_total == Decimal("100.00")
    assert made.message == "Xero's total 100.00 differs from Roger's total 125.00"


async def test_an_update_is_checked_against_rogers_new_total() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    [made] = (await w.run(bill)).values()
    update = UpdateBill(
        **bill.model_dump(exclude={"kind", "command_id"}),
        command_id=command_id(COMPANY, "update", "B-1"),
        invoice_id=made.xero_id or "",
    ).model_copy(update={"total": Decimal("99.99")})

    [updated] = (await w.run(update)).values()

    assert updated.type == "XeroBillUpdated"
    assert updated.message == "Xero's total 100.00 differs from Roger's total 99.99"


async def test_a_credit_note_is_checked_too() -> None:
    w = writer_on()
    note = create_credit_note("CN-1", _contact(w.xero), Decimal("30.00")).model_copy(
        update={"total": Decimal("31.00")}
    )

    [made] = (await w.run(note)).values()

    assert made.type == "XeroCreditNoteCreated"
    assert made.message == "Xero's total 30.00 differs from Roger's total 31.00"


def test_a_total_the_lines_already_contradict_is_named_once() -> None:
    bill = create_bill("B-1", "c-1").model_copy(update={"total": Decimal("100.00")})

    warning = total_check(bill, {"Total": Decimal("100.01")})

    assert warning == "Xero's total 100.01 DKK differs from Roger's 100.00 DKK"


def test_rogers_total_is_compared_to_the_cent() -> None:
    bill = create_bill("B-1", "c-1").model_copy(
        update={"line_amount_types": "Exclusive", "total": Decimal("125.00")}
    )

    assert total_check(bill, {"SubTotal": 100, "Total": 125.0}) is None
    assert total_check(bill, {"SubTotal": 100, "Total": 124.99}) == (
        "Xero's total 124.99 differs from Roger's total 125.00"
    )
    assert (
        total_check(bill.model_copy(update={"total": None}), {"SubTotal": 100, "Total": 1}) is None
    )


def test_the_projector_puts_rogers_total_on_creates_and_updates() -> None:
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", total="21.00"), day=2))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-1"))
    assert step(state, fact("BillUpdated", bill_data("b1", total="30.00"), day=3)) == []
    [update] = step(state, answer(create, "XeroBillCreated", xero_id="inv-1"))

    assert isinstance(create, CreateBill) and create.total == Decimal("21.00")
    assert isinstance(update, UpdateBill) and update.total == Decimal("30.00")
