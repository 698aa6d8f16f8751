"""``SyncApplication.process_batch`` on eventsourcing's in-memory store: a partition's records
in one save, the same outcome as one by one, all or nothing, and snapshots that load the same
state as a full replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.application import project_aggregate

from services.projector import application
from services.projector.application import IN_MEMORY, SyncApplication
from services.projector.domain import facts
from services.projector.domain.state import CompanyState
from shared.contracts.commands import AnyCommand
from shared.contracts.roger_events import BillPaidData
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from tests.support.projector_facts import (
    APP,
    COMPANY,
    answer,
    bill_data,
    connected,
    fact,
    paid_data,
)


@pytest.fixture
def app() -> Iterator[SyncApplication]:
    application_ = SyncApplication("", APP, persistence=IN_MEMORY)
    try:
        yield application_
    finally:
        application_.close()


def records() -> list[tuple[int, bytes]]:
    events = [connected(), *(fact("BillSubmitted", bill_data(f"b{i}")) for i in range(5))]
    return [(offset, e.to_bytes()) for offset, e in enumerate(events)]


def kinds(commands: list[AnyCommand]) -> list[tuple[str, str]]:
    return [(c.kind, c.document_id) for c in commands]


def test_a_batch_decides_what_the_records_decide_one_by_one_and_tracks_the_last(
    app: SyncApplication,
) -> None:
    one_by_one = SyncApplication("", APP, persistence=IN_MEMORY)
    try:
        expected = [c for o, v in records() for c in one_by_one.process(DOMAIN_EVENTS, 0, o, v)]
        expected_docs = one_by_one.company(COMPANY).state.docs
    finally:
        one_by_one.close()

    commands = app.process_batch(DOMAIN_EVENTS, 0, records())

    assert kinds(commands) == kinds(expected) and commands
    assert app.company(COMPANY).state.docs.keys() == expected_docs.keys()
    assert app.position(DOMAIN_EVENTS, 0) == len(records())
    # Read again: every record is tracked, nothing is applied twice.
    assert app.process_batch(DOMAIN_EVENTS, 0, records()) == []
    assert app.process(DOMAIN_EVENTS, 0, 2, records()[2][1]) == []


def test_a_batch_skips_the_records_already_tracked(app: SyncApplication) -> None:
    first = records()[:3]
    app.process_batch(DOMAIN_EVENTS, 0, first)
    commands = app.process_batch(DOMAIN_EVENTS, 0, records())
    assert {c.document_id for c in commands} <= {"b2", "b3", "b4"}
    assert app.company(COMPANY).version == 1 + len(records())  # Started + one per record


def breaking_rule(state: CompanyState, data: Any, applied: facts.Applied) -> None:
    state.doc("bill", data.bill_id).warn("half-applied")
    raise RuntimeError("rules broke")


def test_a_failing_record_fails_the_whole_batch_and_leaves_nothing_behind(
    app: SyncApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.process_batch(DOMAIN_EVENTS, 0, records()[:2])
    version = app.company(COMPANY).version
    monkeypatch.setitem(facts.RULES, "BillPaid", (BillPaidData, breaking_rule))
    batch = [
        (2, fact("BillSubmitted", bill_data("b7")).to_bytes()),
        (3, fact("BillPaid", paid_data("b0")).to_bytes()),
    ]
    with pytest.raises(RuntimeError, match="rules broke"):
        app.process_batch(DOMAIN_EVENTS, 0, batch)

    company = app.company(COMPANY)
    assert company.version == version
    assert ("bill", "b7") not in company.state.docs
    assert "half-applied" not in company.state.docs[("bill", "b0")].warnings
    assert app.position(DOMAIN_EVENTS, 0) == 2
    # One by one (as the consumer loop then goes), the good record applies alone.
    app.process(DOMAIN_EVENTS, 0, 2, batch[0][1])
    assert ("bill", "b7") in app.company(COMPANY).state.docs


def test_an_unreadable_record_fails_the_batch(app: SyncApplication) -> None:
    with pytest.raises(ValueError):
        app.process_batch(DOMAIN_EVENTS, 0, [*records()[:2], (2, b"{not json")])
    assert app.position(DOMAIN_EVENTS, 0) is None


def test_an_answer_in_a_batch_decides_what_follows_it(app: SyncApplication) -> None:
    [ensure] = app.process_batch(DOMAIN_EVENTS, 0, records()[:2])
    linked = answer(ensure, "XeroContactLinked", xero_id="c-1").to_bytes()
    [create] = app.process_batch(XERO_RESULTS, 0, [(0, linked), (1, linked)])
    assert (create.kind, create.document_id) == ("CreateBill", "b0")
    assert app.position(XERO_RESULTS, 0) == 2


def test_a_company_loads_from_its_snapshot_to_the_state_a_full_replay_gives(
    app: SyncApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(application, "SNAPSHOT_EVERY", 4)
    events = [connected(), *(fact("BillSubmitted", bill_data(f"b{i}")) for i in range(10))]
    for offset, event in enumerate(events):
        app.process(DOMAIN_EVENTS, 0, offset, event.to_bytes())
    company_id = app.company(COMPANY).id
    assert app.snapshots is not None
    [*snapshots] = app.snapshots.get(company_id)
    assert [s.originator_version for s in snapshots] == [4, 8, 12]

    app.repository.cache.get(company_id, evict=True)  # type: ignore[union-attr]
    loaded = app.company(COMPANY)
    replayed: Any = project_aggregate(None, app.events.get(company_id))
    assert loaded.version == replayed.version == len(events) + 1
    assert loaded.state == replayed.state
    assert loaded.last_commands == [] and not loaded.last_effects.touched


def test_records_applied_ahead_of_a_deferred_one_leave_the_position_and_apply_again_as_nothing(
    app: SyncApplication,
) -> None:
    """fair_reading.py: records past a company's turn are deferred, the records of others
    behind them are applied first with the position held at the first deferred record, and a
    restart reads (and applies) them again."""
    events = records()
    app.process_batch(DOMAIN_EVENTS, 0, events[:2])
    ahead = app.process_batch(DOMAIN_EVENTS, 0, events[4:5], track_to=2)
    app.process(DOMAIN_EVENTS, 0, *events[5], track_to=2)

    assert app.position(DOMAIN_EVENTS, 0) == 2  # not moved past the records deferred
    assert {("bill", "b3"), ("bill", "b4")} <= app.company(COMPANY).state.docs.keys()
    decided_ahead = {c.command_id for c in ahead}

    version = app.company(COMPANY).version

    again = app.process_batch(DOMAIN_EVENTS, 0, events[2:])

    assert app.position(DOMAIN_EVENTS, 0) == len(events)
    assert {c.document_id for c in again} <= {"b1", "b2"}  # b3 and b4 decide nothing twice
    assert not decided_ahead & {c.command_id for c in again}
    assert app.company(COMPANY).version == version + 2  # only b1 and b2: b3, b4 skipped
    assert app.process(DOMAIN_EVENTS, 0, *events[5], track_to=3) == []  # tracked: skipped
