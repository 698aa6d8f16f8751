"""Times in the projector's rules: ``occurred_at`` is an instant, dates are calendar dates.

Roger sends ``occurred_at`` with whatever UTC offset its clock had (a Danish
company changes from +02:00 to +01:00 in October). A later version is the one
later in time, whatever its text; the bill's and payment's dates are days in
the company's calendar and reach Xero as Roger wrote them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from services.projector.domain import facts
from services.projector.domain.state import CompanyState
from shared.contracts.commands import CreateBill, CreatePayment, EnsureContact, UpdateBill
from tests.support.projector_facts import (
    answer,
    bill_data,
    connected,
    fact,
    paid_data,
    step,
    vendor,
)

CEST, CET = timezone(timedelta(hours=2)), timezone(timedelta(hours=1))
BAKERY = vendor("ven_bakery", "Bageriet Østerbro")


def bread_bill(total: str, description: str) -> dict[str, object]:
    return bill_data(
        "b-bread",
        ven=BAKERY,
        number="BAG-7",
        total=total,
        description=description,
        issue_date="2026-10-24",
        due_date="2026-11-23",
    )


def synced_bread_bill(state: CompanyState, occurred_at: datetime) -> None:
    step(state, connected())
    [ensure] = step(
        state, fact("BillSubmitted", bread_bill("120.00", "Rye bread"), occurred_at=occurred_at)
    )
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-bakery"))
    step(state, answer(create, "XeroBillCreated", xero_id="inv-bread"))
    assert state.docs[("bill", "b-bread")].state == "synced"


def test_an_update_later_in_time_wins_though_its_text_sorts_earlier() -> None:
    # 02:40+02:00 is 00:40 UTC; 02:05+01:00 is 01:05 UTC: the second is later, its text earlier.
    state = CompanyState("acme")
    synced_bread_bill(state, datetime(2026, 10, 25, 2, 40, tzinfo=CEST))
    update = fact(
        "BillUpdated",
        bread_bill("210.00", "Rye bread and pastries"),
        occurred_at=datetime(2026, 10, 25, 2, 5, tzinfo=CET),
    )
    assert update.occurred_at.isoformat() < "2026-10-25T02:40:00+02:00"

    [cmd] = step(state, update)

    assert isinstance(cmd, UpdateBill)
    assert cmd.invoice_id == "inv-bread"
    assert [(line.description, line.unit_amount) for line in cmd.lines] == [
        ("Rye bread and pastries", Decimal("210.00"))
    ]
    step(state, answer(cmd, "XeroBillUpdated", xero_id="inv-bread", xero_total=Decimal("210.00")))
    doc = state.docs[("bill", "b-bread")]
    assert doc.state == "synced" and doc.warnings == []


def test_an_update_earlier_in_time_is_ignored_though_its_text_sorts_later() -> None:
    # 02:05+01:00 is 01:05 UTC; 02:40+02:00 is 00:40 UTC: the second is older.
    state = CompanyState("acme")
    synced_bread_bill(state, datetime(2026, 10, 25, 2, 5, tzinfo=CET))
    stale = fact(
        "BillUpdated",
        bread_bill("999.00", "Stale version"),
        occurred_at=datetime(2026, 10, 25, 2, 40, tzinfo=CEST),
    )

    effects = facts.apply_fact(state, stale)

    doc = state.docs[("bill", "b-bread")]
    assert doc.data is not None and doc.data.total == Decimal("120.00")
    assert "older" in effects.history[0][1]["note"]


def test_dates_reach_xero_as_roger_wrote_them_whatever_the_offset_of_occurred_at() -> None:
    # Submitted late on the 14th at -10:00 (already the 15th in UTC), paid early on the 17th
    # at +13:00 (still the 16th in UTC): the bill's and the payment's days stay Roger's.
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(
        state,
        fact(
            "BillSubmitted",
            bill_data(
                "b-rolls",
                ven=BAKERY,
                number="BAG-8",
                total="35.00",
                issue_date="2026-03-14",
                due_date="2026-04-13",
            ),
            occurred_at=datetime(2026, 3, 14, 22, 45, tzinfo=timezone(timedelta(hours=-10))),
        ),
    )
    assert isinstance(ensure, EnsureContact)
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-bakery"))
    assert isinstance(create, CreateBill)
    assert (create.issue_date, create.due_date) == (date(2026, 3, 14), date(2026, 4, 13))

    assert (
        step(
            state,
            fact(
                "BillPaid",
                paid_data("b-rolls", "pay-rolls", amount="35.00", paid_on="2026-03-17"),
                occurred_at=datetime(2026, 3, 17, 0, 20, tzinfo=timezone(timedelta(hours=13))),
            ),
        )
        == []
    )  # the payment waits for the bill
    [pay] = step(state, answer(create, "XeroBillCreated", xero_id="inv-rolls"))
    assert isinstance(pay, CreatePayment)
    assert pay.paid_on == date(2026, 3, 17) and pay.amount == Decimal("35.00")


def test_a_bill_renumbered_in_roger_keeps_the_number_xero_holds_after_the_update() -> None:
    """Reconcile compares Xero's InvoiceNumber with the one Xero answered last: after our
    own update that is the new number, or our renumbering would look like an edit in Xero."""
    state = CompanyState("acme")
    synced_bread_bill(state, datetime(2026, 10, 25, 2, 40, tzinfo=CEST))
    renumbered = dict(bread_bill("120.00", "Rye bread"), invoice_number="BAG-8")
    [cmd] = step(
        state, fact("BillUpdated", renumbered, occurred_at=datetime(2026, 10, 26, tzinfo=CET))
    )
    assert isinstance(cmd, UpdateBill) and cmd.number == "BAG-8"

    step(state, answer(cmd, "XeroBillUpdated", xero_id="inv-bread", xero_number="BAG-8"))

    assert state.docs[("bill", "b-bread")].xero_number == "BAG-8"
