"""Polling, the safety net for lost webhooks: what an accountant changes in Xero comes back
on ``roger.sync-back`` within the polling interval though every webhook is lost; our own
writes never echo with webhooks and polling both on; the poller keeps to its share of the
organisation's day and leaves the writer its reserve.

Each test turns the poller on through ``pipeline_env`` (the fixture leaves it off).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from shared.contracts.topics import ROGER_SYNC_BACK
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support import xero_changes as xc

INTERVAL_S = 5.0
POLLING = {
    "RX_INBOUND_POLL_INTERVAL_S": str(INTERVAL_S),
    "RX_INBOUND_POLL_MINUTE_RESERVE": "5",
}
# Time for a polled change to travel after it is read: Kafka, the worker's comparison and
# its wait for a write of ours that could claim it (RX_INBOUND_ECHO_GRACE_S, 3 s, per bill).
SLACK_S = 20.0


def _holds(check: Any, seconds: float, what: str) -> None:
    """``check()`` stays true for ``seconds`` (looked at every 0.3 s until the deadline)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(0.3)
    assert check(), what


def _db(pipeline: Pipeline, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pipeline.env["RX_DATABASE_URL"]) as conn:
        return conn.execute(sql, args).fetchall()


def _seen(pipeline: Pipeline, tenant: str, xero_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = _db(
        pipeline,
        "SELECT xero_id, view FROM xero_inbound_seen WHERE tenant_id = %s AND xero_id = ANY(%s)",
        tenant,
        xero_ids,
    )
    return {row[0]: row[1] for row in rows}


def _poll_calls(pipeline: Pipeline, tenant: str) -> int:
    rows = _db(
        pipeline,
        "SELECT coalesce(sum(calls), 0) FROM xero_inbound_poll_calls WHERE tenant_id = %s",
        tenant.lower(),
    )
    return int(rows[0][0])


def _poll_state(pipeline: Pipeline, tenant: str) -> dict[str, Any]:
    rows = _db(
        pipeline,
        "SELECT last_reason, day_remaining, polled_at FROM xero_inbound_poll_tenants "
        "WHERE tenant_id = %s",
        tenant.lower(),
    )
    if not rows:
        return {}
    return dict(zip(("last_reason", "day_remaining", "polled_at"), rows[0], strict=True))


@pytest.mark.parametrize("pipeline_env", [POLLING], ids=["polling"])
def test_with_webhooks_lost_polling_brings_each_change_made_in_xero_back_within_the_interval(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company, tenant = xc.new_company(pipeline, "poll")
    pipeline.connect(company, tenant)
    subscription = xc.subscribe(pipeline, lose=True)
    reader = xc.TopicReader(kafka_bootstrap, ROGER_SYNC_BACK)
    lines = [ev.line("Paper", "1", "100.00")]
    merged_vendor = ev.vendor("ven_2", "Merged Paper ApS")
    archived_vendor = ev.vendor("ven_3", "Archived Paper ApS")
    r = pipeline.post_events(
        [
            ev.bill(company, "b1", lines, "100.00", number="B-1"),
            ev.bill(company, "b2", lines, "100.00", number="B-2", minute=1),
            ev.bill(company, "b3", lines, "100.00", number="B-3", minute=2),
            ev.bill(company, "b4", lines, "100.00", number="B-4", minute=3),
            ev.bill(company, "b5", lines, "100.00", number="B-5", minute=4, ven=merged_vendor),
            ev.bill(company, "b6", lines, "100.00", number="B-6", minute=5, ven=archived_vendor),
        ]
    )
    assert r.status_code == 202, r.text
    bills = {f"b{n}": xc.bill_in_xero(pipeline, tenant, f"b{n}") for n in range(1, 7)}
    merged_id = bills["b5"]["Contact"]["ContactID"]
    archived_id = bills["b6"]["Contact"]["ContactID"]
    # The poller has looked at every bill and both contacts: what changes next is a change.
    known = [b["InvoiceID"] for b in bills.values()] + [merged_id, archived_id]
    wait_for(
        lambda: len(_seen(pipeline, tenant, known)) == len(known), 60, "the poller's first look"
    )

    changed_at = time.monotonic()
    xc.accountant(pipeline, tenant, "PUT", "Payments", xc.payment(bills["b1"]["InvoiceID"], 100))
    xc.accountant(pipeline, tenant, "PUT", "Payments", xc.payment(bills["b2"]["InvoiceID"], 30))
    xc.accountant(pipeline, tenant, "POST", f"Invoices/{bills['b3']['InvoiceID']}", xc.void())
    xc.accountant(
        pipeline, tenant, "POST", f"Invoices/{bills['b4']['InvoiceID']}", {"DueDate": "2026-12-24"}
    )
    survivor = xc.accountant(
        pipeline, tenant, "PUT", "Contacts", {"Contacts": [{"Name": "Survivor Paper A/S"}]}
    )["Contacts"][0]
    books = f"{pipeline.sandbox_url}/_sandbox/organisations/{tenant}/contacts"
    r = httpx.post(f"{books}/{merged_id}/merge", json={"into": survivor["ContactID"]}, timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.post(f"{books}/{archived_id}/archive", timeout=30)
    assert r.status_code == 200, r.text
    bill = xc.made_in_xero(survivor["ContactID"])
    made = xc.accountant(pipeline, tenant, "PUT", "Invoices", bill)["Invoices"][0]

    wanted = {
        "BillPaidInXero",
        "BillPartPaidInXero",
        "BillVoidedInXero",
        "BillEditedInXero",
        "ContactMergedInXero",
        "ContactArchivedInXero",
        "BillCreatedInXero",
    }

    def arrived() -> list[dict[str, Any]] | None:
        mine = xc.for_company(reader.read(), company)
        edited = {e["roger_document"]["roger_id"] for e in mine if e["type"] == "BillEditedInXero"}
        # b5's contact moved to the survivor in the merge: an edit of b5 too.
        return mine if wanted <= {e["type"] for e in mine} and edited >= {"b4", "b5"} else None

    events = wait_for(arrived, INTERVAL_S + SLACK_S + 30, "every change back through polling")
    took = time.monotonic() - changed_at
    assert took <= INTERVAL_S + SLACK_S, f"polling took {took:.1f}s"

    # Every webhook was lost: polling alone brought them, each once.
    rows = httpx.get(f"{pipeline.sandbox_url}/_sandbox/webhooks", timeout=10).json()["deliveries"]
    mine = [d for d in rows if d["subscription"] == subscription["id"]]
    assert mine and all(d["lost"] for d in mine)
    assert len({e["id"] for e in events}) == len(events), events

    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    [paid] = by_type["BillPaidInXero"]
    assert paid["roger_document"] == {"kind": "bill", "roger_id": "b1"}
    [part] = by_type["BillPartPaidInXero"]
    assert part["roger_document"]["roger_id"] == "b2"
    assert Decimal(part["payment"]["amount"]) == Decimal("30")
    assert Decimal(part["bill"]["amount_due"]) == Decimal("70")
    [voided] = by_type["BillVoidedInXero"]
    assert voided["roger_document"]["roger_id"] == "b3"
    b4 = next(e for e in by_type["BillEditedInXero"] if e["roger_document"]["roger_id"] == "b4")
    assert b4["changes"] == [{"field": "due_date", "before": "2026-12-02", "after": "2026-12-24"}]
    [merge] = by_type["ContactMergedInXero"]
    assert merge["contact"]["xero_id"] == merged_id
    assert merge["contact"]["merged_into"] == survivor["ContactID"]
    [archive] = by_type["ContactArchivedInXero"]
    assert archive["contact"]["xero_id"] == archived_id
    [created] = by_type["BillCreatedInXero"]
    assert created["xero_id"] == made["InvoiceID"] and created["roger_document"] is None
    assert {e["roger_document"]["roger_id"] for e in by_type["BillEditedInXero"]} == {"b4", "b5"}
    print(f"\npolling brought all {len(events)} changes back {took:.1f}s after they were made")


# The writer's minute is shared with the poller here: the default minute reserve (20).
@pytest.mark.parametrize("pipeline_env", [{"RX_INBOUND_POLL_INTERVAL_S": "5"}], ids=["polling"])
def test_no_echo_after_100_of_our_own_writes_with_webhooks_and_polling_on(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company, tenant = xc.new_company(pipeline, "echo")
    pipeline.connect(company, tenant)
    xc.subscribe(pipeline)
    reader = xc.TopicReader(kafka_bootstrap, ROGER_SYNC_BACK)
    lines = [ev.line("Paper", "1", "100.00")]
    bills = [
        ev.bill(company, f"e{n}", lines, "100.00", number=f"E-{n}", minute=n) for n in range(50)
    ]
    payments = [ev.paid(company, f"e{n}", f"pay{n}", "100.00") for n in range(50)]
    for chunk in (bills[:25], bills[25:], payments[:25], payments[25:]):
        r = pipeline.post_events(chunk)
        assert r.status_code == 202, r.text

    def all_paid() -> list[str] | None:
        ours = [
            i
            for i in pipeline.ledger(tenant)["invoices"]
            if "/bills/e" in (i.get("Url") or "") and i["Status"] == "PAID"
        ]
        return [i["InvoiceID"] for i in ours] if len(ours) == 50 else None

    ids = wait_for(all_paid, 240, "our 50 bills and 50 payments in Xero")
    paid_at = time.time()

    # Both paths have seen every bill paid (by our own payment), and the poller has read
    # Xero again since: anything either would echo has had its chance.
    def settled() -> bool:
        views = _seen(pipeline, tenant, ids)
        polled = _poll_state(pipeline, tenant).get("polled_at")
        return (
            len(views) == 50
            and all(v["status"] == "PAID" for v in views.values())
            and polled is not None
            and polled.timestamp() > paid_at + 3
        )

    wait_for(settled, 90, "both paths to have looked at the paid bills")
    # The worker's echo grace (3 s) and one more round: still nothing.
    _holds(
        lambda: xc.for_company(reader.read(), company) == [], 8, "no sync-back for our own writes"
    )
    assert _poll_calls(pipeline, tenant) > 4  # the poller did poll, several rounds


BUDGET_ENV = {
    "RX_INBOUND_POLL_INTERVAL_S": "2",
    # 0.002 x 5,000 = 10 calls a day for the poller.
    "RX_INBOUND_POLL_BUDGET_SHARE": "0.002",
    "RX_INBOUND_POLL_MINUTE_RESERVE": "5",
}


def _set_day_limit(pipeline: Pipeline, per_day: int) -> None:
    r = httpx.put(
        f"{pipeline.sandbox_url}/_sandbox/settings", json={"limits": {"per_day": per_day}}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("pipeline_env", [BUDGET_ENV], ids=["budget"])
def test_the_polling_budget_holds_under_a_backlog_and_the_writers_reserve_is_left(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company, tenant = xc.new_company(pipeline, "budget")
    reader = xc.TopicReader(kafka_bootstrap, ROGER_SYNC_BACK)
    contact = xc.accountant(
        pipeline, tenant, "PUT", "Contacts", {"Contacts": [{"Name": "Backlog"}]}
    )
    invoice = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact["Contacts"][0]["ContactID"]},
        "Date": "2026-11-20",
        "DueDate": "2026-12-20",
        "Status": "AUTHORISED",
        "LineItems": [{"Description": "Ink", "Quantity": 1, "UnitAmount": 5, "AccountCode": "429"}],
    }
    # A backlog made in Xero before we connected: 350 bills, four pages of 100.
    backlog = [{**invoice, "InvoiceNumber": f"OLD-{n}"} for n in range(350)]
    xc.accountant(pipeline, tenant, "PUT", "Invoices", {"Invoices": backlog})
    pipeline.connect(company, tenant)

    # 10 calls: the bills (four pages of 100, all changed at one moment: page 1 read again
    # from the moment, then pages 2-4), credit notes, payments, contacts (8), then two of
    # the next round; never an eleventh, however long the tenant is due.
    wait_for(lambda: _poll_calls(pipeline, tenant) == 10, 60, "the day's 10 calls spent")
    wait_for(
        lambda: _poll_state(pipeline, tenant).get("last_reason") == "budget_spent",
        30,
        "the poll put off to tomorrow",
    )
    _holds(lambda: _poll_calls(pipeline, tenant) == 10, 4 * 2.0, "10 calls, four intervals on")
    announced = wait_for(
        lambda: len({e["xero_id"] for e in xc.for_company(reader.read(), company)}) == 350 or None,
        60,
        "every bill of the backlog announced",
    )
    assert announced
    # Xero's own count agrees: the poller's 10 calls and the connect flow's few, no more.
    used = 5000 - int(_poll_state(pipeline, tenant)["day_remaining"])
    assert 10 <= used <= 10 + 5, used
    print(f"\nbacklog: the poller made 10 calls; Xero counted {used} for the tenant in all")

    # Another organisation whose day is nearly spent (by the writer, say): Xero says fewer
    # than the reserve (1,000) are left, so the poller stops after the call that told it.
    try:
        _set_day_limit(pipeline, 1000)
        other_company, other = xc.new_company(pipeline, "reserve")
        pipeline.connect(other_company, other)
        wait_for(
            lambda: _poll_state(pipeline, other).get("last_reason") == "day_reserve",
            30,
            "the poll put off for the writer's reserve",
        )
        calls = _poll_calls(pipeline, other)
        assert calls == 1, calls
        assert int(_poll_state(pipeline, other)["day_remaining"]) < 1000
        _holds(lambda: _poll_calls(pipeline, other) == calls, 4 * 2.0, "no call after it")
    finally:
        _set_day_limit(pipeline, 5000)
