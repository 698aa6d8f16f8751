"""Exactly-once in Xero when Xero fails, answers are lost, and the writer dies mid-call."""

from __future__ import annotations

import random
import uuid

import httpx
import psycopg

from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support.delivery import deliver
from tests.support.scenario import company_events
from tests.support.scenario_checks import all_synced, check_all, check_ledger, connect_all


def set_faults(pipeline: Pipeline, tenant_id: str, **faults: object) -> None:
    r = httpx.put(f"{pipeline.sandbox_url}/_sandbox/settings", json={"faults": {tenant_id: faults}})
    r.raise_for_status()


def test_xero_errors_and_lost_answers_leave_each_document_once(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    rng = random.Random(99)
    run = uuid.uuid4().hex[:6]
    scenarios = [company_events(f"faults-{run}-{i}", 15, rng) for i in range(3)]
    tenants = connect_all(pipeline, scenarios)
    for tenant in tenants.values():
        # Applied, then the connection dropped: the writer cannot know the call landed.
        set_faults(pipeline, tenant, drop_rate=0.3, error_rate=0.1, error_status=503)
    deliver(pipeline, kafka_bootstrap, [e for evs, _ in scenarios for e in evs], 2, rng)

    check_all(pipeline, scenarios, tenants)


def test_writer_killed_while_xero_applies_its_call(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    rng = random.Random(5)
    events, expected = company_events(f"killed-{uuid.uuid4().hex[:6]}", 10, rng)
    tenant = pipeline.new_organisation("Org killed mid-call")
    pipeline.connect(expected.company_id, tenant)
    # Every write takes 4 s in Xero: long enough to kill the writer while it waits. Reads
    # answer at once, so the write is under way when the writer dies.
    set_faults(
        pipeline, tenant, delay_rate=1.0, delay_seconds=4, drop_methods=[], delay_methods=["PUT"]
    )
    bills = [e for e in events if e["type"] == "bill.submitted"]
    deliver(pipeline, kafka_bootstrap, bills, 1, rng)

    def bill_attempts() -> int:
        with psycopg.connect(pipeline.env["RX_DATABASE_URL"]) as conn:
            row = conn.execute(
                "SELECT count(*) FROM outbox o "
                "JOIN writer_attempts a ON a.command_id = o.message_id "
                "WHERE o.company_id = %s AND convert_from(o.payload, 'UTF8') LIKE '%%CreateBill%%'",
                (expected.company_id,),
            ).fetchone()
            return int(row[0]) if row else 0

    # Xero applies a write, then takes 4 s to answer: the writer is killed in those 4 s, once
    # the bills exist (waiting for the writer's attempt instead raced with the call: a kill
    # between recording the attempt and sending the call left Xero nothing to apply).
    wait_for(
        lambda: len(pipeline.ledger(tenant)["invoices"]) > 0, 120, "Xero to apply a call of bills"
    )
    pipeline.services["writer"].kill()
    assert bill_attempts() > 0  # recorded before the call: the restart looks before it creates
    set_faults(pipeline, tenant, delay_rate=0.0)
    pipeline.services["writer"].start()
    deliver(pipeline, kafka_bootstrap, [e for e in events if e["type"] != "bill.submitted"], 1, rng)

    wait_for(lambda: all_synced(pipeline, expected), 300, "everything synced after the restart")
    check_ledger(pipeline.ledger(tenant), expected)
