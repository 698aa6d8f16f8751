"""``roger.sync-status`` end to end (issue 16): a bill Xero refuses is told to Roger once,
with Xero's reason, however often the failed document is touched again."""

from __future__ import annotations

import uuid
from typing import Any

from shared.contracts.topics import ROGER_SYNC_STATUS
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.pipeline_bills import failed
from tests.support.pipeline_documents import send
from tests.support.xero_changes import TopicReader

SUPPLIER = ev.vendor("ven_status", "Status Supply ApS", tax_number="DK80808080")


def test_a_refused_bill_is_told_once_with_xeros_reason(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    c = f"i16s-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {c}", "DKK")
    pipeline.connect(c, tenant)
    reader = TopicReader(kafka_bootstrap, ROGER_SYNC_STATUS)

    lines = [ev.line("Goods", "1", "100.00", "999")]  # no such account in the organisation
    send(pipeline, ev.bill(c, "b1", lines, "100.00", number="ST-1", ven=SUPPLIER))
    doc = failed(pipeline, c, "b1")
    reason = doc["reason"]
    assert reason

    def told() -> list[dict[str, Any]] | None:
        mine = [v for k, v in reader.read() if k == c.encode()]
        return mine or None

    [record] = wait_for(told, 60, "the failure told on roger.sync-status")
    assert record["type"] == "document.failed"
    assert (record["company_id"], record["tenant_id"], record["reason"]) == (c, tenant, reason)
    assert record["document"]["kind"] == "bill" and record["document"]["roger_id"] == "b1"

    # The failed bill is touched again (a payment arrives for it): nothing new is told.
    send(pipeline, ev.paid(c, "b1", "p1", "100.00"))
    wait_for(
        lambda: (d := pipeline.doc(c, "bill", "b1")) is not None and bool(d["payments"]),
        60,
        "the payment recorded on the failed bill",
    )
    later = [v for k, v in reader.read() if k == c.encode() and v["type"] == "document.failed"]
    assert [r["id"] for r in later] == [record["id"]]
