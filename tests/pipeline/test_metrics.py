"""The gauges the alerts read (deploy/prometheus/alerts.yml) are exported with real values:
Xero's day budget per organisation (writer), the oldest pending document (projector) and
connections needing reconnect (ingest, which serves the connect flow)."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev


def gauge(base_url: str, name: str, labels: str = "") -> float | None:
    """The value of one sample on ``base_url``'s /metrics, or None if it is not there."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    pattern = rf"^{name}{re.escape(labels)} ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_the_alerts_gauges_carry_what_xero_and_the_books_say(pipeline: Pipeline) -> None:
    company = f"gauges-{uuid.uuid4().hex[:6]}"
    tenant = pipeline.new_organisation(f"Org {company}")
    pipeline.connect(company, tenant)
    bill = ev.bill(company, "b-1", [ev.line("Toner", "1", "80.00")], "80.00")
    assert pipeline.post_events([bill]).status_code == 202
    wait_for(
        lambda: (d := pipeline.doc(company, "bill", "b-1")) and d["state"] == "synced",
        60,
        "the bill synced",
    )

    writer = f"http://127.0.0.1:{pipeline.services['writer'].port}"
    left = gauge(writer, "rx_xero_day_calls_remaining", f'{{tenant_id="{tenant}"}}')
    # Xero's (the sandbox's) X-DayLimit-Remaining after at least a contact and a bill call.
    assert left is not None and 0 < left <= 4_998, left

    # Xero answers this organisation's PUTs only after 20 s: the next bill stays pending
    # meanwhile, and the gauge shows its age.
    faults = {"delay_rate": 1.0, "delay_seconds": 20, "drop_methods": [], "delay_methods": ["PUT"]}
    r = httpx.put(f"{pipeline.sandbox_url}/_sandbox/settings", json={"faults": {tenant: faults}})
    r.raise_for_status()
    slow = ev.bill(company, "b-2", [ev.line("Paper", "1", "20.00")], "20.00")
    assert pipeline.post_events([slow]).status_code == 202
    wait_for(
        lambda: (gauge(pipeline.read_url, "rx_documents_oldest_pending_seconds") or 0) >= 2,
        30,
        "the oldest pending document two seconds old",
    )
    wait_for(
        lambda: (d := pipeline.doc(company, "bill", "b-2")) and d["state"] == "synced",
        60,
        "the slow bill synced in the end",
    )

    # The rest of issue 16's list: documents by state, events out by type, handling time,
    # Xero calls by endpoint and status.
    synced = gauge(pipeline.read_url, "rx_documents", '{kind="bill",state="synced"}')
    assert synced is not None and synced >= 2, synced
    out = gauge(pipeline.ingest_url, "rx_ingest_published_total", '{type="bill.submitted"}')
    assert out is not None and out >= 2, out
    handled = gauge(
        pipeline.read_url,
        "rx_consumer_handling_seconds_count",
        '{consumer="rx-projector",topic="rx.domain-events.v1"}',
    )
    assert handled is not None and handled >= 1, handled
    puts = gauge(writer, "rx_xero_calls_total", '{endpoint="Invoices",method="PUT",status="200"}')
    assert puts is not None and puts >= 1, puts

    reconnect = gauge(pipeline.ingest_url, "rx_connections_needs_reconnect")
    assert reconnect is not None and reconnect >= 0, reconnect
