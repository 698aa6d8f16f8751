"""Two instances of each service in one consumer group share the partitions; one instance of
each is SIGKILLed mid-stream and the other takes over its partitions: every company's books
in the sandbox end exactly as Roger's events imply (the ledger checker finds no difference),
and Xero's per-organisation minute limit held across the two writers, also for two companies
connected to one organisation whose records two writers handle at once (issue 16, Scale-out).

The ingest process also runs the connect flow's and xero_inbound's consumers, so two ingest
instances are two of those as well.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.topics import XERO_COMMANDS
from tests.fixtures.pipeline import Pipeline, Service, running_pipeline, wait_for
from tests.support.delivery import deliver
from tests.support.ledger_checker import Chart, compare, expected_ledger
from tests.support.partitions import one_per_partition
from tests.support.scenario import company_events
from tests.support.scenario_checks import all_synced

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


def any_synced(pipeline: Pipeline, company_id: str) -> bool:
    return any(d["state"] == "synced" for d in pipeline.documents(company_id))


def connect_with_twins(pipeline: Pipeline, companies: list[str]) -> dict[str, str]:
    """A sandbox organisation per company, but the first and the last company share one:
    their records sit on partitions 0 and 11, which two instances of one group never hold
    together (range or round-robin), so both writers call that organisation at once."""
    tenants: dict[str, str] = {}
    for company in companies[:-1]:
        tenants[company] = pipeline.new_organisation(f"Org {company}")
    tenants[companies[-1]] = tenants[companies[0]]
    for company in companies:
        pipeline.connect(company, tenants[company])
    return tenants


def own_numbers(events: list[dict[str, Any]], prefix: str) -> None:
    """Bill numbers of the twin's own (in one organisation, the same number from the same
    vendor would be one bill: adopted, not made)."""
    for event in events:
        if "invoice_number" in event["data"]:
            event["data"]["invoice_number"] = f"{prefix}-{event['data']['invoice_number']}"


@pytest.mark.timeout(900)
def test_two_instances_share_the_work_and_one_killed_loses_and_doubles_nothing(
    two_of_each: Pipeline, kafka_bootstrap: str, xero_sandbox: Any
) -> None:
    pipeline = two_of_each
    rng = random.Random(1616)
    companies = one_per_partition(f"scale-{uuid.uuid4().hex[:6]}", XERO_COMMANDS)
    scenarios = [company_events(c, 4, rng) for c in companies]
    own_numbers(scenarios[-1][0], "T")
    tenants = connect_with_twins(pipeline, companies)
    first_exchange = max((e["seq"] for e in xero_sandbox.exchanges()), default=0)
    events = [e for evs, _ in scenarios for e in evs]
    rng.shuffle(events)
    # The twins' bills come in the first half (each twin then has one in Xero before the kill).
    twins = {companies[0], companies[-1]}
    events.sort(key=lambda e: not (e["company_id"] in twins and e["type"] == "bill.submitted"))
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

    # Both writers call the twins' one organisation: each twin has a bill in Xero.
    for twin in (companies[0], companies[-1]):
        wait_for(
            partial(any_synced, pipeline, twin),
            300,
            f"a synced document of {twin}",
        )

    deliver(pipeline, kafka_bootstrap, events[half:], copies=2, rng=rng)
    # One instance of each dies while the second half flows; the others take over.
    killed_writer = pipeline.instances["writer"][0]
    waits = limit_waits(killed_writer)
    for name in CONSUMERS:
        pipeline.instances[name][0].kill()

    for _, expected in scenarios:
        wait_for(partial(all_synced, pipeline, expected), 600, f"{expected.company_id} synced")
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for evs, expected in scenarios:
        by_tenant.setdefault(tenants[expected.company_id], []).extend(evs)
    for tenant_id, evs in by_tenant.items():
        ledger = pipeline.ledger(tenant_id)
        differences = compare(expected_ledger(evs, Chart.from_ledger(ledger)), ledger)
        assert differences == [], (tenant_id, differences)

    # The limit held across both writers: the sandbox, counting as Xero does with the same
    # per-minute limit, never refused a call; and it was binding (the writers waited for it).
    assert refused_for_rate(xero_sandbox, first_exchange) == []
    waits += limit_waits(pipeline.services["writer"])
    assert waits > 0
