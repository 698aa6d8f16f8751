"""A company whose grant Xero no longer honours: documents wait, visibly, and sync after it
connects again, without anyone retrying them by hand."""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.pipeline import CLIENT_ID, CLIENT_SECRET, Pipeline, wait_for
from tests.support import event_builders as ev


def test_documents_wait_while_xero_refuses_the_grant_and_sync_after_reconnect(
    pipeline: Pipeline,
) -> None:
    company = f"reconnect-{uuid.uuid4().hex[:6]}"
    tenant = pipeline.new_organisation("Org reconnect")
    grant = pipeline.connect(company, tenant)
    # The user revokes our access at Xero: the organisation is no longer connected.
    r = httpx.post(
        f"{pipeline.sandbox_url}/connect/revocation",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"token": grant["refresh_token"]},
    )
    assert r.status_code == 200, r.text
    assert (
        pipeline.post_events(
            [ev.bill(company, "b1", [ev.line("Paper", "1", "10.00")], "10.00")]
        ).status_code
        == 202
    )

    def waiting() -> dict | None:  # type: ignore[type-arg]
        doc = pipeline.doc(company, "bill", "b1")
        return (
            doc if doc and doc["state"] == "waiting" and "Xero" in (doc["reason"] or "") else None
        )

    doc = wait_for(waiting, 60, "the bill to wait with Xero's reason")
    assert doc["xero_id"] is None

    pipeline.connect(company, tenant)
    synced = wait_for(
        lambda: (d := pipeline.doc(company, "bill", "b1")) and d["state"] == "synced" and d,
        60,
        "the bill to sync after the reconnect",
    )
    assert synced["xero_id"]
    assert len(pipeline.ledger(tenant)["invoices"]) == 1
