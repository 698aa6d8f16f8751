"""Each service SIGKILLed mid-stream and started again: the same final state, nothing twice."""

from __future__ import annotations

import random
import uuid

from tests.fixtures.pipeline import Pipeline
from tests.support.delivery import deliver
from tests.support.scenario import company_events
from tests.support.scenario_checks import check_all, connect_all


def test_services_killed_mid_stream_leave_each_document_once(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    rng = random.Random(4242)
    run = uuid.uuid4().hex[:6]
    scenarios = [company_events(f"crash-{run}-{i}", 20, rng) for i in range(4)]
    tenants = connect_all(pipeline, scenarios)
    events = [e for evs, _ in scenarios for e in evs]
    half = len(events) // 2

    deliver(pipeline, kafka_bootstrap, events[:half], copies=2, rng=rng)
    # Kill each service while records are in flight, then bring it back.
    for name in ("writer", "projector", "ingest"):
        pipeline.services[name].kill()
        pipeline.services[name].start()
    deliver(pipeline, kafka_bootstrap, events[half:], copies=2, rng=rng)
    pipeline.services["writer"].kill()
    pipeline.services["writer"].start()

    check_all(pipeline, scenarios, tenants)
