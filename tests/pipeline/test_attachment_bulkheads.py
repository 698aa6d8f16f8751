"""A slow file holds nobody up (issue 10, bulkheads): while one company's attachment hangs
(the file server answers after 120 s), that company's other bills and another company's
bills sync as fast as before, and the slow file ends at the writer's deadline as a warning
in plain words."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.fixtures.pipeline import FileServer, Pipeline, wait_for
from tests.support import event_builders as ev

MAX_DELAY_S = 5.0


def _company(pipeline: Pipeline, prefix: str) -> str:
    company_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company_id}")
    pipeline.connect(company_id, tenant)
    return company_id


def _bill(company_id: str, bill_id: str, **kw: Any) -> dict[str, Any]:
    return ev.bill(
        company_id, bill_id, [ev.line("Paper", "1", "10.00")], "10.00", number=bill_id, **kw
    )


def _synced(pipeline: Pipeline, company_id: str, bill_id: str) -> bool:
    doc = pipeline.doc(company_id, "bill", bill_id)
    return bool(doc and doc["state"] == "synced" and doc["xero_id"])


def _latency(pipeline: Pipeline, company_id: str, bill_id: str) -> float:
    """Seconds from sending the bill to seeing it synced (polled every 0.1 s)."""
    started = time.monotonic()
    r = pipeline.post_events([_bill(company_id, bill_id)])
    assert r.status_code == 202, r.text
    wait_for(lambda: _synced(pipeline, company_id, bill_id), 60, f"{bill_id} synced", 0.1)
    return time.monotonic() - started


def test_a_slow_file_delays_no_other_bill(pipeline: Pipeline, file_server: FileServer) -> None:
    slow_co, other_co = _company(pipeline, "slowfile"), _company(pipeline, "neighbour")
    # What a bill takes on this machine now, with nothing slow in the way (each company once,
    # so contacts exist for the bills measured below).
    baseline = max(
        _latency(pipeline, other_co, "warm-other"), _latency(pipeline, slow_co, "warm-slow")
    )
    name = f"slow-{uuid.uuid4().hex[:6]}.pdf"
    slow = file_server.slow(name, b"%PDF-1.4 a file that takes two minutes")
    r = pipeline.post_events([_bill(slow_co, "with-file", attachments=[slow])])
    assert r.status_code == 202, r.text
    wait_for(lambda: f"/{name}" in file_server.hits, 60, "the writer to start the download")

    other = _latency(pipeline, other_co, "other-company")
    same = _latency(pipeline, slow_co, "same-company")

    print(
        f"bill latency: baseline {baseline:.2f} s, other company {other:.2f} s, same {same:.2f} s"
    )
    assert other - baseline <= MAX_DELAY_S, (baseline, other)
    assert same - baseline <= MAX_DELAY_S, (baseline, same)
    # The file is still downloading: the lane went on without it.
    held = pipeline.doc(slow_co, "bill", "with-file")
    assert held is not None and not held["warnings"], held

    def warned() -> list[str]:
        doc = pipeline.doc(slow_co, "bill", "with-file")
        return [w for w in (doc or {}).get("warnings", []) if name in w]

    [warning] = wait_for(warned, 90, "the slow file's warning")
    assert "took longer than 30 seconds" in warning, warning
    # Fetched once: the outbox's resend of the answered command is answered from the record.
    assert file_server.hits.count(f"/{name}") == 1
