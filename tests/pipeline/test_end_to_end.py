"""Bills, contacts and payments from Roger events to the Xero sandbox, on real Kafka and PG."""

from __future__ import annotations

import random
import uuid

from tests.fixtures.pipeline import Pipeline
from tests.support.delivery import deliver
from tests.support.scenario import company_events
from tests.support.scenario_checks import check_all, connect_all


def test_twenty_companies_every_event_three_times_in_shuffled_order(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    rng = random.Random(20261125)
    run = uuid.uuid4().hex[:6]
    scenarios = [company_events(f"e2e-{run}-{i}", 25, rng) for i in range(20)]
    tenants = connect_all(pipeline, scenarios)
    events = [e for evs, _ in scenarios for e in evs]

    deliver(pipeline, kafka_bootstrap, events, copies=3, rng=rng)

    check_all(pipeline, scenarios, tenants)
