"""Snapshots on the real PostgreSQL (``store.SnapshotRecorder``): written as the company grows,
read by a restarted projector to the state a full replay gives, with its documents packed."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from eventsourcing.application import project_aggregate

from services.projector import application
from services.projector.application import SyncApplication
from services.projector.domain import documents
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from tests.support.projector_facts import APP, COMPANY, answer, bill_data, connected, fact


def test_a_restarted_projector_loads_a_company_from_its_snapshot(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(application, "SNAPSHOT_EVERY", 8)
    monkeypatch.setattr(documents, "LIVE", 5)  # most documents packed in the snapshots
    first = SyncApplication(fresh_database, APP)
    try:
        records = [connected(), *(fact("BillSubmitted", bill_data(f"b{n}")) for n in range(20))]
        commands = first.process_batch(
            DOMAIN_EVENTS, 0, [(o, r.to_bytes()) for o, r in enumerate(records)]
        )
        [ensure] = commands
        linked = answer(ensure, "XeroContactLinked", xero_id="c-1")
        bills = first.process(XERO_RESULTS, 0, 0, linked.to_bytes())
        made = [answer(c, "XeroBillCreated", xero_id=f"x-{n}") for n, c in enumerate(bills)]
        first.process_batch(XERO_RESULTS, 0, [(n + 1, a.to_bytes()) for n, a in enumerate(made)])
        company_id = first.company(COMPANY).id
    finally:
        first.close()
    with psycopg.connect(fresh_database) as conn:
        versions = [
            v for (v,) in conn.execute("SELECT originator_version FROM rx_projector_snapshots")
        ]
    assert versions, "no snapshot was written"

    restarted = SyncApplication(fresh_database, APP)
    try:
        loaded = restarted.company(COMPANY)
        replayed: Any = project_aggregate(None, restarted.events.get(company_id))
        assert loaded.version == replayed.version == 1 + len(records) + 1 + len(made)
        assert loaded.state == replayed.state
        assert {d.state for d in loaded.state.docs.values()} == {"synced"}
        # And it goes on from there.
        more = restarted.process(
            DOMAIN_EVENTS, 0, len(records), fact("BillSubmitted", bill_data("b-new")).to_bytes()
        )
        assert [(c.kind, c.document_id) for c in more] == [("CreateBill", "b-new")]
    finally:
        restarted.close()
