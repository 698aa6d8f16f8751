"""A command attempted before is looked up in Xero before it is created: never two."""

from __future__ import annotations

from decimal import Decimal

from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import (
    create_bill,
    create_credit_note,
    create_payment,
    ensure_contact,
)


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


async def test_a_bill_whose_answer_was_lost_is_found_by_its_url() -> None:
    w = writer_on()
    bills = [create_bill("B-1", _contact(w.xero)), create_bill("B-2", "c-1")]
    w.xero.fail_next("drop", method="PUT")  # Xero made both bills; we never heard

    results = await w.run(*bills)

    assert len(w.xero.invoices) == 2
    assert {r.type for r in results.values()} == {"XeroBillCreated"}
    assert {r.xero_id for r in results.values()} == set(w.xero.invoices)
    assert len(w.xero.calls_to("PUT", "/Invoices")) == 1
    # One look-up before creating (adoption), one after the lost answer.
    assert len(w.xero.calls_to("GET", "/Invoices")) == 2


async def test_a_bill_attempted_in_an_earlier_run_is_looked_up_first() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    first = await w.run(bill)  # answered
    w.xero.calls.clear()

    again = await w.run(bill)  # the same command read again after a crash

    assert again[bill.command_id].xero_id == first[bill.command_id].xero_id
    assert [(c.method, c.path) for c in w.xero.calls] == [("GET", "/Invoices")]
    assert len(w.xero.invoices) == 1


async def test_only_what_is_missing_is_created_after_a_partial_look_up() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    made, new = create_bill("B-1", contact), create_bill("B-2", contact)
    await w.run(made)

    results = await w.run(made, new)  # B-1 was attempted before, B-2 not

    assert len(w.xero.invoices) == 2
    [put] = w.xero.calls_to("PUT", "/Invoices")[1:]
    assert [e["InvoiceNumber"] for e in put.body["Invoices"]] == ["B-2"]
    assert {r.type for r in results.values()} == {"XeroBillCreated"}


async def test_a_payment_whose_answer_was_lost_is_found_by_its_reference() -> None:
    w = writer_on()
    [bill] = (await w.run(create_bill("B-1", _contact(w.xero)))).values()
    payment = create_payment(bill.xero_id or "", "P-1", Decimal("30"))
    w.xero.fail_next("drop", method="PUT", path="/Payments")

    [result] = (await w.run(payment)).values()

    assert result.type == "XeroPaymentCreated"
    assert len(w.xero.payments) == 1
    assert result.xero_id == next(iter(w.xero.payments))
    assert w.xero.invoices[bill.xero_id or ""]["AmountDue"] == Decimal("70.00")


async def test_a_credit_note_whose_answer_was_lost_is_found_by_its_reference() -> None:
    w = writer_on()
    note = create_credit_note("CN-1", _contact(w.xero), Decimal("25"))
    w.xero.fail_next("drop", method="PUT", path="/CreditNotes")

    [result] = (await w.run(note)).values()

    assert result.type == "XeroCreditNoteCreated"
    assert len(w.xero.credit_notes) == 1


async def test_a_contact_whose_answer_was_lost_is_found_by_its_name() -> None:
    w = writer_on()
    vendor = ensure_contact("Nordic Paper ApS", tax_number="DK 1234 5678")
    w.xero.fail_next("drop", method="PUT", path="/Contacts")

    [result] = (await w.run(vendor)).values()

    assert result.type == "XeroContactLinked"
    assert len(w.xero.contacts) == 1
    assert result.xero_id == next(iter(w.xero.contacts))


async def test_an_idempotent_replay_creates_nothing_new() -> None:
    xero = FakeXero()
    body = {"Contacts": [{"Name": "Acme A/S"}]}
    params = {"summarizeErrors": "false"}
    first = await xero.call("PUT", "/Contacts", params=params, body=body, idempotency_key="k1")
    again = await xero.call("PUT", "/Contacts", params=params, body=body, idempotency_key="k1")

    assert again == first
    assert len(xero.contacts) == 1
