"""The writer sends documents in batches and reads each element's answer on its own."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from aiokafka import TopicPartition

from services.xero_writer.policy import TOO_LARGE, XERO_MAX_REQUEST, request_size
from services.xero_writer.scheduler import BATCH_MAX_BYTES, Item, Writer
from shared.contracts.commands import CreateBill
from shared.settings import Settings
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import create_bill, create_payment, ensure_contact


def _contact(xero: FakeXero, name: str = "Acme A/S") -> str:
    contact = {"ContactID": f"c-{name}", "Name": name, "ContactStatus": "ACTIVE"}
    xero.contacts[contact["ContactID"]] = contact
    return contact["ContactID"]


async def test_fifty_bills_go_in_one_call() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    bills = [create_bill(f"B-{n}", contact) for n in range(50)]

    results = await w.run(*bills)

    # One read of the contact's bills (adoption, look-up), then one PUT with all fifty.
    assert [c.method for c in w.xero.calls] == ["GET", "PUT"]
    assert len(w.xero.calls[1].body["Invoices"]) == 50
    assert w.xero.calls[1].params["summarizeErrors"] == "false"
    assert w.xero.calls[1].idempotency_key
    assert {r.type for r in results.values()} == {"XeroBillCreated"}
    assert {r.xero_id for r in results.values()} == set(w.xero.invoices)


async def test_a_lane_takes_at_most_a_batch_of_one_kind_at_a_time() -> None:
    writer = Writer(Settings(), tokens=None, attempts=None, xero=None)  # type: ignore[arg-type]
    contact = "c-1"
    lane = deque(
        Item(None, n, create_bill(f"B-{n}", contact))  # type: ignore[arg-type]
        for n in range(120)
    )
    lane.insert(3, Item(None, 999, ensure_contact("Other")))  # type: ignore[arg-type]

    sizes = []
    while lane:
        batch = writer._next_batch(lane)
        assert len({i.command.kind for i in batch}) == 1
        sizes.append(len(batch))

    # The oldest command's kind goes first: the contact queued fourth is next after 50 bills.
    assert sizes == [50, 1, 50, 20]


async def test_each_element_of_a_batch_answers_for_itself() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    good = create_bill("B-good", contact)
    bad_account = create_bill("B-bad", contact, account_code="999")
    no_contact = create_bill("B-orphan", "no-such-contact")

    results = await w.run(good, bad_account, no_contact)

    assert results[good.command_id].type == "XeroBillCreated"
    assert results[bad_account.command_id].type == "XeroCommandFailed"
    assert results[bad_account.command_id].message == (
        "Account code '999' is not a valid code for this document.; Account code must be specified"
    )
    assert results[no_contact.command_id].message == (
        "The contact with the specified ContactID could not be found."
    )
    assert len(w.xero.invoices) == 1
    # a 200 with per-element errors needs no second PUT
    assert [c.method for c in w.xero.calls] == ["GET", "PUT"]


async def test_payments_batch_and_one_that_pays_too_much_fails_alone() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    created = await w.run(create_bill("B-1", contact), create_bill("B-2", contact))
    first, second = (r.xero_id or "" for r in created.values())
    ok = create_payment(first, "P-1", Decimal("40"))
    too_much = create_payment(second, "P-2", Decimal("100.01"))

    results = await w.run(ok, too_much)

    assert results[ok.command_id].type == "XeroPaymentCreated"
    assert results[ok.command_id].amount == Decimal("40")
    assert results[too_much.command_id].type == "XeroCommandFailed"
    assert results[too_much.command_id].message == (
        "Payment amount exceeds the amount outstanding on this document"
    )
    assert w.xero.invoices[first]["AmountDue"] == Decimal("60.00")
    assert len(w.xero.calls_to("PUT", "/Payments")) == 1


async def test_a_receipt_is_paid_for_what_is_due() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    [bill] = (await w.run(create_bill("R-1", contact, amount=Decimal("80.50")))).values()
    receipt = create_payment(bill.xero_id or "", "P-R", None)

    [paid] = (await w.run(receipt)).values()

    assert paid.type == "XeroPaymentCreated"
    assert paid.amount == Decimal("80.5")
    assert w.xero.invoices[bill.xero_id or ""]["Status"] == "PAID"


async def test_two_vendors_that_are_one_contact_to_xero_make_one_contact() -> None:
    w = writer_on()
    one, same = ensure_contact("Acme A/S"), ensure_contact("ACME  a/s")

    results = await w.run(one, same)

    assert len(w.xero.contacts) == 1
    assert results[one.command_id].xero_id == results[same.command_id].xero_id


def _long(bill: CreateBill, description: str) -> CreateBill:
    line = bill.lines[0].model_copy(update={"description": description})
    return bill.model_copy(update={"lines": (line,)})


async def test_batches_are_cut_by_size_as_well_as_count() -> None:
    writer = Writer(Settings(), tokens=None, attempts=None, xero=None)  # type: ignore[arg-type]
    # Ten bills of about 600 kB each: one batch by count, several by size.
    bills = [_long(create_bill(f"B-{n}", "c-1"), "x" * 600_000) for n in range(10)]
    lane = deque(Item(TopicPartition("t", 0), n, b) for n, b in enumerate(bills))
    first = writer._next_batch(lane)
    assert 1 < len(first) < 10
    assert sum(request_size(i.command) for i in first) <= BATCH_MAX_BYTES
    assert len(lane) == 10 - len(first)


async def test_a_document_larger_than_xero_takes_is_refused_without_a_call() -> None:
    w = writer_on()
    huge = _long(create_bill("HUGE", _contact(w.xero)), "é" * XERO_MAX_REQUEST)

    [result] = (await w.run(huge)).values()

    assert result.type == "XeroCommandFailed" and result.message == TOO_LARGE
    assert w.xero.calls == []
