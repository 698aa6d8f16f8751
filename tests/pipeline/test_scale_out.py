"""Two instances of each service in one consumer group share the partitions; one instance of
each is SIGKILLed mid-stream and the other takes over its partitions: every company's books
in the sandbox end exactly as Roger's events imply (the ledger checker finds no difference),
and Xero's per-organisation minute limit held across the two writers (issue 16, Scale-out).

The ingest process also runs the connect flow's and xero_inbound's consumers, so two ingest
instances are two of those as well.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import murmur2
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.topics import TOPICS, XERO_COMMANDS
from tests.fixtures.pipeline import Pipeline, Service, running_pipeline, wait_for
from tests.support.delivery import deliver
from tests.support.ledger_checker import Chart, compare, expected_ledger
from tests.support.scenario import company_events
from tests.support.scenario_checks import check_all, connect_all

# Small on purpose: the writers must wait for the minute window, and the test stays short.
PER_MINUTE = 6
WRITER_ENV = {
    "RX_XERO_CALLS_PER_MINUTE": str(PER_MINUTE),
    # A killed writer's slots come back this soon (the shared limiter's lease).
    "RX_XERO_CALL_LEASE_S": "20",
}
# The consumers (the metric's ``consumer`` label) each instance of a service must have fed.
CONSUMERS = {
    "ingest": ("rx-ingest", "rx-xero-inbound-writes", "rx-connections"),
    "projector": ("rx-projector",),
    "writer": ("rx-writer",),
}


@pytest.fixture
def two_of_each(
    kafka_bootstrap: str,
    fresh_database: str,
    xero_sandbox: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """The pipeline with a second instance of each service; the sandbox enforces the same
    minute limit as the writers (put back afterwards: the sandbox is the session's)."""
    previous = xero_sandbox.settings()["limits"]
    xero_sandbox.settings(limits={"enabled": True, "per_minute": PER_MINUTE, "concurrent": 5})
    try:
        with running_pipeline(
            kafka_bootstrap,
            fresh_database,
            xero_sandbox,
            tmp_path_factory.mktemp("scale"),
            WRITER_ENV,
        ) as pipeline:
            for name in CONSUMERS:
                pipeline.start_instance(name)
            yield pipeline
    finally:
        xero_sandbox.settings(limits=previous)


def one_company_per_partition(run: str) -> list[str]:
    """Company ids whose records (keyed by company id) land on every partition, one each:
    whichever partitions an instance is given, it has work."""
    partitions = next(t.partitions for t in TOPICS if t.name == XERO_COMMANDS)
    chosen: dict[int, str] = {}
    i = 0
    while len(chosen) < partitions:
        company = f"scale-{run}-{i}"
        chosen.setdefault((murmur2(company.encode()) & 0x7FFFFFFF) % partitions, company)
        i += 1
    return [chosen[p] for p in sorted(chosen)]


def metric(service: Service, name: str, **labels: str) -> float:
    """The sum of metric ``name``'s samples with ``labels`` on one instance's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def handled(service: Service, consumer: str) -> float:
    return metric(service, "rx_consumer_records_total", consumer=consumer, outcome="handled")


def limit_waits(service: Service) -> float:
    return metric(service, "rx_writer_limit_waits_total", limit="minute")


def refused_for_rate(sandbox: Any, after: int) -> list[str]:
    """The sandbox's 429 answers since exchange ``after``, by the problem they name."""
    return [
        base64.b64decode(e["body"]).decode(errors="replace")
        for e in sandbox.exchanges(after)
        if e["status"] == 429
    ]


@pytest.mark.timeout(900)
def test_two_instances_share_the_work_and_one_killed_loses_and_doubles_nothing(
    two_of_each: Pipeline, kafka_bootstrap: str, xero_sandbox: Any
) -> None:
    pipeline = two_of_each
    rng = random.Random(1616)
    scenarios = [company_events(c, 4, rng) for c in one_company_per_partition(uuid.uuid4().hex[:6])]
    tenants = connect_all(pipeline, scenarios)
    first_exchange = max((e["seq"] for e in xero_sandbox.exchanges()), default=0)
    events = [e for evs, _ in scenarios for e in evs]
    rng.shuffle(events)
    half = len(events) // 2

    deliver(pipeline, kafka_bootstrap, events[:half], copies=2, rng=rng)
    # The partitions are shared: every instance of every service has handled records.
    for name, consumers in CONSUMERS.items():
        for service in (pipeline.services[name], *pipeline.instances[name]):
            for consumer in consumers:
                wait_for(
                    lambda s=service, c=consumer: handled(s, c) > 0,  # type: ignore[misc]
                    180,
                    f"{service.log_path.name} handling {consumer}",
                )

    deliver(pipeline, kafka_bootstrap, events[half:], copies=2, rng=rng)
    # One instance of each dies while the second half flows; the others take over.
    killed_writer = pipeline.instances["writer"][0]
    waits = limit_waits(killed_writer)
    for name in CONSUMERS:
        pipeline.instances[name][0].kill()

    check_all(pipeline, scenarios, tenants)
    for evs, expected in scenarios:
        ledger = pipeline.ledger(tenants[expected.company_id])
        differences = compare(expected_ledger(evs, Chart.from_ledger(ledger)), ledger)
        assert differences == [], (expected.company_id, differences)

    # The limit held across both writers: the sandbox, counting as Xero does with the same
    # per-minute limit, never refused a call; and it was binding (the writers waited for it).
    assert refused_for_rate(xero_sandbox, first_exchange) == []
    waits += limit_waits(pipeline.services["writer"])
    assert waits > 0
