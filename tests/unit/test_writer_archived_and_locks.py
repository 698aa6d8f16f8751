"""Issue 12 in the writer: archived or merged contacts, and documents in a locked period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.xero_writer import org_facts
from shared.contracts.commands import CreateBill, EnsureContact
from shared.contracts.roger_events import Vendor
from tests.support.fake_xero import ARCHIVED_CONTACT, FakeXero, writer_on
from tests.support.writer_commands import (
    create_bill,
    create_credit_note,
    create_payment,
    ensure_contact,
)

FIX = "restore the contact in Xero, then retry"


@pytest.fixture(autouse=True)
def lane_cache() -> Iterator[None]:
    """What the organisation said is kept across batches, as in a writer lane
    (``scheduler.py`` sets one ``OrgFacts`` per lane); each test starts with none."""
    token = org_facts.FACTS.set(org_facts.OrgFacts())
    yield
    org_facts.FACTS.reset(token)


def contact(xero: FakeXero, name: str, **fields: Any) -> str:
    answer = xero._write_contact({"Name": name, **fields}, "PUT")
    return str(answer["ContactID"])


def bill_on(number: str, contact_id: str, **update: Any) -> CreateBill:
    return create_bill(number, contact_id).model_copy(update=update)


# ------------------------------------------------------------------ archived contacts


async def test_a_bill_for_a_merged_contact_goes_to_the_survivor_and_says_so() -> None:
    w = writer_on()
    survivor = contact(w.xero, "Acme A/S")
    merged = contact(w.xero, "Acme AS (old)")
    w.xero.archive_contact(merged, merged_into=survivor)

    [made] = (await w.run(bill_on("B-1", merged))).values()

    assert made.type == "XeroBillCreated", made
    assert made.contact_id == survivor
    assert made.message is not None and "merged into" in made.message and survivor in made.message
    [bill] = w.xero.invoices.values()
    assert bill["Contact"]["ContactID"] == survivor
    assert len(w.xero.contacts) == 2  # no look-alike made


async def test_a_credit_note_for_a_merged_contact_goes_to_the_survivor() -> None:
    w = writer_on()
    survivor = contact(w.xero, "Acme A/S")
    merged = contact(w.xero, "Acme AS (old)")
    w.xero.archive_contact(merged, merged_into=survivor)

    [made] = (await w.run(create_credit_note("CN-1", merged, Decimal("10")))).values()

    assert made.type == "XeroCreditNoteCreated", made
    assert made.contact_id == survivor
    [note] = w.xero.credit_notes.values()
    assert note["Contact"]["ContactID"] == survivor


async def test_a_chain_of_merges_is_followed_to_the_active_contact() -> None:
    w = writer_on()
    last = contact(w.xero, "Acme Group A/S")
    middle = contact(w.xero, "Acme A/S")
    first = contact(w.xero, "Acme AS (old)")
    w.xero.archive_contact(first, merged_into=middle)
    w.xero.archive_contact(middle, merged_into=last)

    [made] = (await w.run(bill_on("B-1", first))).values()

    assert (made.type, made.contact_id) == ("XeroBillCreated", last)


async def test_an_archived_contact_without_survivor_fails_with_xeros_words_and_the_fix() -> None:
    w = writer_on()
    gone = contact(w.xero, "Gone Ltd")
    w.xero.archive_contact(gone)

    [refused] = (await w.run(bill_on("B-1", gone))).values()

    assert refused.type == "XeroCommandFailed"
    assert refused.message is not None
    assert ARCHIVED_CONTACT.rstrip(".") in refused.message and FIX in refused.message
    assert w.xero.invoices == {} and len(w.xero.contacts) == 1

    w.xero.restore_contact(gone)
    again = bill_on("B-1", gone, command_id="00000000-0000-4000-8000-000000000001")
    [made] = (await w.run(again)).values()
    assert (made.type, made.contact_id) == ("XeroBillCreated", None)


async def test_a_retried_bill_already_made_at_the_survivor_is_found_not_made_twice() -> None:
    xero = FakeXero()
    survivor = contact(xero, "Acme A/S")
    merged = contact(xero, "Acme AS (old)")
    xero.archive_contact(merged, merged_into=survivor)
    cmd = bill_on("B-1", merged)
    await writer_on(xero).run(cmd)
    xero.pass_idempotency_window()

    w = writer_on(xero)
    await w.attempts.begin(cmd.company_id, [cmd.command_id])  # tried before
    [found] = (await w.run(cmd)).values()

    assert (found.type, found.contact_id) == ("XeroBillCreated", survivor)
    assert len(xero.invoices) == 1


def vendor_ensure(vendor: Vendor) -> EnsureContact:
    return ensure_contact(vendor.name).model_copy(update={"vendor": vendor})


async def test_ensure_contact_follows_the_vendors_merged_contact_to_its_survivor() -> None:
    w = writer_on()
    vendor = Vendor(id="ven_1", name="Acme AS (old)")
    mine = contact(w.xero, "Acme AS (old)", ContactNumber="ven_1")
    survivor = contact(w.xero, "Acme A/S")
    w.xero.archive_contact(mine, merged_into=survivor)

    [linked] = (await w.run(vendor_ensure(vendor))).values()

    assert (linked.type, linked.xero_id) == ("XeroContactLinked", survivor)
    assert linked.message is not None and "merged into" in linked.message
    assert len(w.xero.contacts) == 2


async def test_ensure_contact_follows_a_merged_contact_matched_by_name() -> None:
    w = writer_on()
    old = contact(w.xero, "Nordlys Energi A/S")
    survivor = contact(w.xero, "Nordlys Energi Group")
    w.xero.archive_contact(old, merged_into=survivor)

    [linked] = (await w.run(vendor_ensure(Vendor(id="v", name="Nordlys Energi A/S")))).values()

    assert (linked.type, linked.xero_id) == ("XeroContactLinked", survivor)


async def test_ensure_contact_never_makes_a_look_alike_of_the_vendors_archived_contact() -> None:
    w = writer_on()
    mine = contact(w.xero, "Frozen Ltd", ContactNumber="ven_2")
    w.xero.archive_contact(mine)

    [refused] = (await w.run(vendor_ensure(Vendor(id="ven_2", name="Frozen Ltd")))).values()

    assert refused.type == "XeroCommandFailed"
    assert refused.message is not None and FIX in refused.message and mine in refused.message
    assert len(w.xero.contacts) == 1


async def test_ensure_contact_skips_an_archived_contact_of_another_supplier() -> None:
    w = writer_on()
    other = contact(w.xero, "Old Supplier ApS")
    w.xero.archive_contact(other)

    [linked] = (await w.run(vendor_ensure(Vendor(id="v9", name="Old Supplier ApS")))).values()

    assert linked.type == "XeroContactLinked" and linked.xero_id != other


# ------------------------------------------------------------------ lock dates


async def test_a_bill_in_a_locked_period_fails_with_the_lock_date_and_the_fix() -> None:
    w = writer_on()
    acme = contact(w.xero, "Acme A/S")
    w.xero.set_lock_dates(period=date(2026, 3, 31), end_of_year=date(2025, 12, 31))

    [refused] = (await w.run(bill_on("B-1", acme))).values()  # dated 2026-03-01

    assert refused.type == "XeroCommandFailed"
    assert refused.message == (
        "dated 2026-03-01, on or before the organisation's period lock date 2026-03-31 in "
        "Xero: change the date in Roger, or ask the accountant to move the lock date in Xero"
    )
    assert w.xero.invoices == {}
    # Heard from Xero's refusal: one PUT, then the organisation's dates, nothing read before.
    assert len(w.xero.calls_to("PUT", "/Invoices")) == 1
    assert len(w.xero.calls_to("GET", "/Organisation")) == 1


async def test_next_open_day_posts_after_the_lock_date_and_names_both_dates() -> None:
    w = writer_on()
    acme = contact(w.xero, "Acme A/S")
    w.xero.set_lock_dates(period=date(2026, 3, 15), end_of_year=date(2026, 3, 20))
    cmd = bill_on("B-1", acme, lock_date_policy="next_open_day", due_date=date(2026, 3, 10))

    [made] = (await w.run(cmd)).values()

    assert made.type == "XeroBillCreated", made
    assert made.message == (
        "dated 2026-03-01 in Roger, on or before the organisation's end of year lock date "
        "2026-03-20 in Xero: posted on 2026-03-21, the first open day"
    )
    [bill] = w.xero.invoices.values()
    assert (bill["Date"], bill["DueDate"]) == (date(2026, 3, 21), date(2026, 3, 21))


async def test_a_lock_date_set_after_it_was_read_is_heard_from_xeros_refusal() -> None:
    w = writer_on()
    acme = contact(w.xero, "Acme A/S")
    [first] = (await w.run(bill_on("B-0", acme, issue_date=date(2026, 4, 1)))).values()
    assert first.type == "XeroBillCreated"
    w.xero.set_lock_dates(period=date(2026, 3, 31))  # the kept dates say: no lock

    moved = bill_on("B-1", acme, lock_date_policy="next_open_day")
    failing = bill_on("B-2", acme, command_id="00000000-0000-4000-8000-000000000002")
    answers = await w.run(moved, failing)

    assert answers[moved.command_id].type == "XeroBillCreated"
    assert "posted on 2026-04-01" in (answers[moved.command_id].message or "")
    assert answers[failing.command_id].type == "XeroCommandFailed"
    assert "period lock date 2026-03-31" in (answers[failing.command_id].message or "")
    assert len(w.xero.calls_to("GET", "/Organisation")) == 1  # read after the refusal only


async def test_a_lock_date_moved_back_is_read_again_before_failing() -> None:
    w = writer_on()
    acme = contact(w.xero, "Acme A/S")
    w.xero.set_lock_dates(period=date(2026, 3, 31))
    [refused] = (await w.run(bill_on("B-1", acme))).values()
    assert refused.type == "XeroCommandFailed"
    w.xero.set_lock_dates(period=date(2026, 2, 28))  # the accountant moved it

    again = bill_on("B-1", acme, command_id="00000000-0000-4000-8000-000000000003")
    [made] = (await w.run(again)).values()

    assert made.type == "XeroBillCreated" and made.message is None


async def test_a_merge_naming_a_contact_xero_no_longer_has_fails_with_the_fix() -> None:
    w = writer_on()
    merged = contact(w.xero, "Acme AS (old)")
    w.xero.archive_contact(merged)
    w.xero.contacts[merged]["MergedToContactID"] = "00000000-0000-4000-8000-0000000000aa"

    [refused] = (await w.run(bill_on("B-1", merged))).values()

    assert refused.type == "XeroCommandFailed" and FIX in (refused.message or "")


async def test_a_payment_in_a_locked_period_fails_with_xeros_words_and_the_fix() -> None:
    w = writer_on()
    acme = contact(w.xero, "Acme A/S")
    [bill] = (await w.run(bill_on("B-1", acme, issue_date=date(2026, 5, 1)))).values()
    assert bill.xero_id
    w.xero.set_lock_dates(period=date(2026, 5, 31))
    pay = create_payment(bill.xero_id, "p-1", None).model_copy(
        update={"paid_on": date(2026, 5, 15)}
    )

    [refused] = (await w.run(pay)).values()

    assert refused.type == "XeroCommandFailed"
    assert refused.message == (
        "The payment date cannot be before the period lock date, currently set at "
        "31-May-2026: change the date in Roger, or ask the accountant to move the lock date "
        "in Xero"
    )
