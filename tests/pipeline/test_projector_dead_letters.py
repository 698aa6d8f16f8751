"""A dead-lettered record on the real PostgreSQL: one transaction moves the partition on and
shows the document failed in the read model, for the read API and after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from services.projector.application import SyncApplication
from services.projector.domain import facts
from services.projector.domain.aggregate import CompanySync
from services.projector.domain.state import CompanyState
from shared.contracts.roger_events import BillPaidData
from shared.contracts.topics import DOMAIN_EVENTS
from tests.support.projector_facts import (
    APP,
    COMPANY,
    answer,
    bill_data,
    connected,
    fact,
    paid_data,
)


class RulesBroke(Exception):
    pass


def breaking_rule(state: CompanyState, data: Any, applied: facts.Applied) -> None:
    raise RulesBroke("cannot apply this payment")


@pytest.fixture
def app(fresh_database: str) -> Iterator[SyncApplication]:
    application = SyncApplication(fresh_database, APP)
    try:
        yield application
    finally:
        application.close()


def document_row(dsn: str, roger_id: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT state, reason, xero_id FROM sync_documents "
            "WHERE company_id = %s AND kind = 'bill' AND roger_id = %s",
            (COMPANY, roger_id),
        ).fetchone()
        history = conn.execute(
            "SELECT entry->>'type' FROM sync_history "
            "WHERE company_id = %s AND roger_id = %s ORDER BY seq",
            (COMPANY, roger_id),
        ).fetchall()
    assert row is not None
    return (*row, [h[0] for h in history])


def synced_bill(app: SyncApplication) -> None:
    app.process(DOMAIN_EVENTS, 3, 0, connected().to_bytes())
    [ensure] = app.process(DOMAIN_EVENTS, 3, 1, fact("BillSubmitted", bill_data()).to_bytes())
    linked = answer(ensure, "XeroContactLinked", xero_id="contact-1")
    [create] = app.process("rx.xero-results.v1", 3, 0, linked.to_bytes())
    created = answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal("21.00"))
    app.process("rx.xero-results.v1", 3, 1, created.to_bytes())


def test_a_dead_lettered_fact_is_tracked_and_its_document_shows_failed(
    app: SyncApplication, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_bill(app)
    payment = fact("BillPaid", paid_data()).to_bytes()
    monkeypatch.setitem(facts.RULES, "BillPaid", (BillPaidData, breaking_rule))
    with pytest.raises(RulesBroke):
        app.process(DOMAIN_EVENTS, 3, 2, payment)

    app.record_failure(DOMAIN_EVENTS, 3, 2, payment, "RulesBroke: cannot apply this payment")

    state, reason, xero_id, history = document_row(fresh_database, "b1")
    assert (state, reason, xero_id) == ("failed", "RulesBroke: cannot apply this payment", "inv-1")
    assert history[-1] == "FactDeadLettered"
    restarted = SyncApplication(fresh_database, APP)
    try:
        assert restarted.position(DOMAIN_EVENTS, 3) == 3
        doc = restarted.company(COMPANY).state.docs[("bill", "b1")]
        assert doc.state == "failed"  # in the event store too: a rebuild shows it
    finally:
        restarted.close()


def test_when_the_company_cannot_be_loaded_the_read_model_alone_shows_the_failure(
    app: SyncApplication, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_bill(app)
    payment = fact("BillPaid", paid_data()).to_bytes()

    def unloadable(self: CompanySync, *args: Any, **kwargs: Any) -> None:
        raise RulesBroke("the company's events do not replay")

    monkeypatch.setattr(CompanySync, "record_dead_letter", unloadable)
    app.record_failure(DOMAIN_EVENTS, 3, 2, payment, "RulesBroke: cannot apply this payment")

    state, reason, xero_id, history = document_row(fresh_database, "b1")
    assert (state, reason, xero_id) == ("failed", "RulesBroke: cannot apply this payment", "inv-1")
    assert history[-1] == "FactDeadLettered"
    assert app.position(DOMAIN_EVENTS, 3) == 3


def test_records_applied_ahead_are_skipped_when_read_again_after_a_restart(
    app: SyncApplication, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fair_reading.py: records past a deferred company's are applied (or dead-lettered)
    without moving the position; after a restart the partition is read again from it, and
    what was done ahead is not done twice (no second failure, no second event)."""
    synced_bill(app)  # domain-events offsets 0 and 1
    payment = fact("BillPaid", paid_data()).to_bytes()
    later_bill = fact("BillSubmitted", bill_data("b9")).to_bytes()
    monkeypatch.setitem(facts.RULES, "BillPaid", (BillPaidData, breaking_rule))
    # Offsets 2-4 wait their turn; 5 and 6 go ahead of them.
    app.record_failure(DOMAIN_EVENTS, 3, 5, payment, "RulesBroke: cannot apply this payment", 2)
    app.process(DOMAIN_EVENTS, 3, 6, later_bill, track_to=2)
    assert app.position(DOMAIN_EVENTS, 3) == 2
    monkeypatch.undo()  # the payment would apply now: it must not be applied again

    restarted = SyncApplication(fresh_database, APP)
    try:
        assert restarted.position(DOMAIN_EVENTS, 3) == 2
        version = restarted.company(COMPANY).version
        waiting = [fact("BillSubmitted", bill_data(f"b{n}")).to_bytes() for n in (2, 3, 4)]
        records = [*zip((2, 3, 4), waiting, strict=True), (5, payment), (6, later_bill)]

        restarted.process_batch(DOMAIN_EVENTS, 3, records)

        assert restarted.position(DOMAIN_EVENTS, 3) == 7
        assert restarted.company(COMPANY).version == version + 3  # b2-b4 only
        state, reason, _, history = document_row(fresh_database, "b1")
        assert (state, reason) == ("failed", "RulesBroke: cannot apply this payment")
        assert history.count("FactDeadLettered") == 1
        with psycopg.connect(fresh_database) as conn:
            left = conn.execute("SELECT count(*) FROM rx_projector_ahead").fetchone()
        assert left == (0,)  # the position covers them now
    finally:
        restarted.close()


def test_a_partition_handed_to_another_instance_skips_what_the_first_applied_ahead(
    app: SyncApplication, fresh_database: str
) -> None:
    """Each instance caches the offsets applied ahead; on an assignment the cache is read
    again from the table, so what another instance applied ahead meanwhile is not repeated."""
    synced_bill(app)  # domain-events offsets 0 and 1
    other = SyncApplication(fresh_database, APP)
    try:
        assert other.position(DOMAIN_EVENTS, 3) == 2  # it held the partition once, cached
        ahead = fact("BillSubmitted", bill_data("b9")).to_bytes()
        app.process(DOMAIN_EVENTS, 3, 5, ahead, track_to=2)  # the first instance, meanwhile
        version = other.company(COMPANY).version

        other.forget_ahead(f"{DOMAIN_EVENTS}:3")  # the partition is assigned to it again
        waiting = [fact("BillSubmitted", bill_data(f"b{n}")).to_bytes() for n in (2, 3, 4)]
        other.process_batch(DOMAIN_EVENTS, 3, [*zip((2, 3, 4), waiting, strict=True), (5, ahead)])

        assert other.position(DOMAIN_EVENTS, 3) == 6
        assert other.company(COMPANY).version == version + 3  # b2-b4: b9 not twice
    finally:
        other.close()
