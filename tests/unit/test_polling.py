"""The poller's schedule and budget decisions, and what a page of Xero's answer becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.xero_inbound.polling import (
    RESOURCES,
    Cursor,
    Remaining,
    Rules,
    advance,
    day_budget,
    due,
    fresh,
    if_modified_since,
    may_call,
    next_page,
    next_utc_midnight,
    notifications,
    reserve_left,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RULES = Rules(budget=500, day_reserve=1000, minute_reserve=20, day_backoff_s=3600)
INVOICES, CREDIT_NOTES, PAYMENTS, CONTACTS = RESOURCES


def ms(moment: datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


@pytest.mark.parametrize(
    ("per_day", "share", "budget"),
    [(5000, 0.10, 500), (5000, 0.0, 0), (1000, 0.10, 100), (5000, 0.001, 5), (5000, 1.0, 5000)],
)
def test_the_day_budget_is_the_share_of_xeros_day_rounded_down(
    per_day: int, share: float, budget: int
) -> None:
    assert day_budget(per_day, share) == budget


def test_a_call_goes_while_under_budget_and_nothing_is_known_of_xeros_counts() -> None:
    assert may_call(NOW, 0, Remaining(), RULES).go
    assert may_call(NOW, 499, Remaining(4000, 50, NOW), RULES).go


def test_the_spent_budget_waits_for_the_next_utc_day() -> None:
    decision = may_call(NOW, 500, Remaining(), RULES)
    assert not decision.go and decision.reason == "budget_spent"
    assert decision.retry_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_utc_midnight(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_the_days_reserve_is_left_to_the_writer_until_the_backoff_has_passed() -> None:
    seen = NOW - timedelta(minutes=10)
    decision = may_call(NOW, 3, Remaining(999, 60, seen), RULES)
    assert not decision.go and decision.reason == "day_reserve"
    assert decision.retry_at == seen + timedelta(hours=1)
    # An hour after Xero said so, one call asks again (its answer brings the new count).
    assert may_call(seen + timedelta(hours=1), 3, Remaining(999, 60, seen), RULES).go
    assert may_call(NOW, 3, Remaining(1000, 60, seen), RULES).go  # at the reserve: fine


def test_the_minutes_reserve_waits_for_xeros_minute_to_turn() -> None:
    seen = NOW - timedelta(seconds=20)
    decision = may_call(NOW, 3, Remaining(4000, 19, seen), RULES)
    assert not decision.go and decision.reason == "minute_reserve"
    assert decision.retry_at == seen + timedelta(minutes=1)
    assert may_call(seen + timedelta(minutes=1), 3, Remaining(4000, 19, seen), RULES).go


def test_the_budget_is_checked_before_xeros_counts() -> None:
    decision = may_call(NOW, 500, Remaining(10, 0, NOW), RULES)
    assert decision.reason == "budget_spent"


def test_a_tenant_is_due_when_never_polled_or_its_time_has_come() -> None:
    assert due(NOW, None)
    assert due(NOW, NOW)
    assert not due(NOW, NOW + timedelta(seconds=1))


def test_if_modified_since_resumes_a_little_before_and_goes_on_just_after() -> None:
    assert if_modified_since(Cursor()) is None
    at = datetime(2026, 11, 30, 1, 2, 3, 456000, tzinfo=UTC)
    # A read cut short (or its next page): others may share the last change's moment.
    assert if_modified_since(Cursor(at)) == datetime(2026, 11, 30, 1, 2, 2, 456000, tzinfo=UTC)
    # After a read that reached its last page: what is newer than the last change fed.
    assert if_modified_since(Cursor(at, complete=True)) == datetime(
        2026, 11, 30, 1, 2, 3, 457000, tzinfo=UTC
    )


def test_a_page_that_fed_something_moves_the_query_on_and_one_that_did_not_pages() -> None:
    at = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    moved = if_modified_since(Cursor(at))
    assert next_page(None, 1, True, Cursor(at)) == (moved, 1)
    # A run of changes at one moment longer than a page: the same query's next page.
    assert next_page(moved, 1, False, Cursor(at)) == (moved, 2)
    assert next_page(moved, 2, True, Cursor(at)) == (moved, 3)
    later = Cursor(at + timedelta(seconds=5))
    assert next_page(moved, 3, True, later) == (if_modified_since(later), 1)


def test_fresh_and_advance_feed_each_change_once_even_at_the_same_millisecond() -> None:
    t1, t2 = NOW, NOW + timedelta(milliseconds=1)
    page = [
        {"InvoiceID": "a", "UpdatedDateUTC": ms(t1)},
        {"InvoiceID": "b", "UpdatedDateUTC": ms(t2)},
        {"InvoiceID": "c", "UpdatedDateUTC": ms(t2)},
    ]
    assert fresh(INVOICES, page, Cursor()) == page
    cursor = advance(Cursor(), INVOICES, page)
    assert cursor == Cursor(t2, frozenset({"b", "c"}))
    # The overlap brings b and c again, with d changed at the same moment: only d is new.
    again = [*page[1:], {"InvoiceID": "d", "UpdatedDateUTC": ms(t2)}]
    assert [i["InvoiceID"] for i in fresh(INVOICES, again, cursor)] == ["d"]
    assert advance(cursor, INVOICES, again) == Cursor(t2, frozenset({"b", "c", "d"}))
    # Something older than the cursor (the overlap) is never fed again.
    assert fresh(INVOICES, page[:1], cursor) == []


def test_bills_and_contacts_become_their_webhook_events_with_the_document() -> None:
    bill = {
        "InvoiceID": "inv-1",
        "Type": "ACCPAY",
        "Status": "PAID",
        "LineItems": [{"Description": "x"}],
        "UpdatedDateUTC": ms(NOW),
    }
    sale = {"InvoiceID": "inv-2", "Type": "ACCREC", "UpdatedDateUTC": ms(NOW)}
    fed: set[str] = set()
    [event] = notifications(INVOICES, [bill, sale], "T-1", fed)
    assert (event.event_category, event.resource_id, event.tenant_id) == ("INVOICE", "inv-1", "T-1")
    assert event.event_date_utc == NOW
    assert event.document is not None and event.document["Status"] == "PAID"
    assert "LineItems" not in event.document  # sync-back never reads lines
    assert fed == {"inv-1"}
    contact = {"ContactID": "c-1", "ContactStatus": "ARCHIVED", "UpdatedDateUTC": ms(NOW)}
    [event] = notifications(CONTACTS, [contact], "T-1", fed)
    assert event.event_category == "CONTACT" and event.document == contact


def test_payments_and_credit_notes_point_at_their_bills_once_per_round() -> None:
    fed = {"inv-1"}
    payments = [
        {"PaymentID": "p1", "PaymentType": "ACCPAYPAYMENT", "Invoice": {"InvoiceID": "inv-1"}},
        {"PaymentID": "p2", "PaymentType": "ACCPAYPAYMENT", "Invoice": {"InvoiceID": "inv-3"}},
        {"PaymentID": "p3", "PaymentType": "ACCRECPAYMENT", "Invoice": {"InvoiceID": "inv-4"}},
    ]
    events = notifications(PAYMENTS, payments, "T-1", fed)
    assert [(e.event_category, e.resource_id, e.document) for e in events] == [
        ("INVOICE", "inv-3", None)
    ]
    note = {
        "CreditNoteID": "cn-1",
        "Type": "ACCPAYCREDIT",
        "Allocations": [{"Invoice": {"InvoiceID": "inv-3"}}, {"Invoice": {"InvoiceID": "inv-5"}}],
    }
    events = notifications(CREDIT_NOTES, [note], "T-1", fed)
    assert [e.resource_id for e in events] == ["inv-5"]
    assert fed == {"inv-1", "inv-3", "inv-5"}


def test_a_polled_event_carries_its_document_and_a_webhook_one_does_not() -> None:
    [event] = notifications(
        INVOICES, [{"InvoiceID": "i", "Type": "ACCPAY", "UpdatedDateUTC": ms(NOW)}], "T", set()
    )
    from services.xero_inbound.notifications import XeroEvent

    assert XeroEvent.from_bytes(event.to_bytes()) == event
    thin = event.model_copy(update={"document": None})
    assert b"document" not in thin.to_bytes()


def test_the_writers_reserve_is_asked_without_the_pollers_budget() -> None:
    """What the webhook worker asks before reading a document (else: left to polling)."""
    seen = NOW - timedelta(seconds=5)
    assert reserve_left(NOW, Remaining(), RULES).go
    assert reserve_left(NOW, Remaining(4000, 40, seen), RULES).go
    assert reserve_left(NOW, Remaining(4000, 3, seen), RULES).reason == "minute_reserve"
    assert reserve_left(NOW, Remaining(10, 40, seen), RULES).reason == "day_reserve"
