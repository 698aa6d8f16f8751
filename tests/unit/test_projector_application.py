"""``SyncApplication`` on eventsourcing's in-memory store: failures while processing a record.

A record whose rules raise must leave nothing behind in the cached company (the
next attempt starts from what was saved), and a record given up on (dead-lettered)
must move the partition on and show the document it names as failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.projector.application import IN_MEMORY, SyncApplication
from services.projector.domain import facts
from services.projector.domain.state import CompanyState
from shared.contracts.commands import EnsureContact
from shared.contracts.roger_events import BillPaidData
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from tests.support.projector_facts import APP, COMPANY, bill_data, connected, fact, paid_data


class RulesBroke(Exception):
    pass


def breaking_rule(state: CompanyState, data: Any, applied: facts.Applied) -> None:
    # Half-applies, as a real bug would, then raises.
    state.doc("bill", data.bill_id).warn("half-applied")
    raise RulesBroke(f"cannot apply {applied.event.event_id}")


@pytest.fixture
def app() -> Iterator[SyncApplication]:
    application = SyncApplication("", APP, persistence=IN_MEMORY)
    try:
        yield application
    finally:
        application.close()


def connected_with_a_bill(app: SyncApplication) -> None:
    assert app.process(DOMAIN_EVENTS, 0, 0, connected().to_bytes()) == []
    [ensure] = app.process(DOMAIN_EVENTS, 0, 1, fact("BillSubmitted", bill_data()).to_bytes())
    assert isinstance(ensure, EnsureContact)


def test_a_failure_in_the_rules_leaves_nothing_behind_and_the_record_applies_once_fixed(
    app: SyncApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected_with_a_bill(app)
    payment = fact("BillPaid", paid_data()).to_bytes()
    monkeypatch.setitem(facts.RULES, "BillPaid", (BillPaidData, breaking_rule))

    for _attempt in range(2):  # the same error each time, never one from a stale cache
        with pytest.raises(RulesBroke):
            app.process(DOMAIN_EVENTS, 0, 2, payment)
    assert app.position(DOMAIN_EVENTS, 0) == 2
    doc = app.company(COMPANY).state.docs[("bill", "b1")]
    assert doc.warnings == [] and doc.payments == {}

    monkeypatch.undo()
    assert app.process(DOMAIN_EVENTS, 0, 2, payment) == []  # the payment waits for the bill
    doc = app.company(COMPANY).state.docs[("bill", "b1")]
    assert list(doc.payments) == ["p1"] and doc.payments["p1"].state == "waiting"
    assert app.position(DOMAIN_EVENTS, 0) == 3


def test_a_dead_lettered_fact_moves_the_partition_on_and_shows_its_document_failed(
    app: SyncApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected_with_a_bill(app)
    payment = fact("BillPaid", paid_data())
    monkeypatch.setitem(facts.RULES, "BillPaid", (BillPaidData, breaking_rule))
    with pytest.raises(RulesBroke):
        app.process(DOMAIN_EVENTS, 0, 2, payment.to_bytes())

    app.record_failure(DOMAIN_EVENTS, 0, 2, payment.to_bytes(), "RulesBroke: cannot apply")

    assert app.position(DOMAIN_EVENTS, 0) == 3
    doc = app.company(COMPANY).state.docs[("bill", "b1")]
    assert (doc.state, doc.reason) == ("failed", "RulesBroke: cannot apply")
    assert app.process(DOMAIN_EVENTS, 0, 2, payment.to_bytes()) == []  # tracked: skipped

    # Fixed, the dead letter replayed (a new offset) is applied: it was never marked seen.
    monkeypatch.undo()
    app.process(DOMAIN_EVENTS, 0, 3, payment.to_bytes())
    doc = app.company(COMPANY).state.docs[("bill", "b1")]
    assert list(doc.payments) == ["p1"]


def test_a_dead_letter_naming_no_document_is_only_tracked(app: SyncApplication) -> None:
    connected_with_a_bill(app)
    before = app.company(COMPANY).version

    app.record_failure(DOMAIN_EVENTS, 0, 2, b"{not json", "unreadable")
    app.record_failure(DOMAIN_EVENTS, 0, 3, connected().to_bytes(), "no document named")
    app.record_failure(XERO_RESULTS, 5, 7, None, "empty record")

    assert app.position(DOMAIN_EVENTS, 0) == 4
    assert app.position(XERO_RESULTS, 5) == 8
    assert app.company(COMPANY).version == before
