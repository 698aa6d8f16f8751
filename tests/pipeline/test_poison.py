"""Poison records on every topic a service consumes: each is dead-lettered with its reason, and
another company's bill sent right after, on the same partition, still syncs in time.

One parametrised test a topic: ``roger.events`` (ingest), ``rx.domain-events.v1`` and
``rx.xero-results.v1`` (the projector; the connect flow reads results too) and
``rx.xero-commands.v1`` (the writer). The healthy company's records go through all of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from shared.contracts.topics import (
    DEAD_LETTER_TOPIC,
    DOMAIN_EVENTS,
    ROGER_EVENTS,
    XERO_COMMANDS,
    XERO_RESULTS,
)
from shared.messaging.dead_letters import read_topic
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev

PARTITIONS = 12
NOW = datetime.now(UTC).isoformat()


def partition_of(key: str) -> int:
    """Where the project's producers (murmur2, as Kafka's Java client) put ``key``."""
    return int(DefaultPartitioner()(key.encode(), list(range(PARTITIONS)), list(range(PARTITIONS))))


def shaped(topic: str, company: str, *, id_: str, type_: str) -> dict[str, Any]:
    """A record of ``topic``'s own shape, with the given id and type."""
    if topic == ROGER_EVENTS:
        event = ev.bill(company, "b-poison", [ev.line("Paper", "1", "10.00")], "10.00")
        return dict(event, id=id_, type=type_)
    if topic == DOMAIN_EVENTS:
        return {
            "schema_version": 1,
            "event_id": id_,
            "type": type_,
            "company_id": company,
            "occurred_at": NOW,
            "source": "kafka",
            "data": {"bill_id": "b-poison"},  # not a bill: the rules cannot take it
        }
    if topic == XERO_COMMANDS:
        return {
            "command_id": id_,
            "kind": type_,
            "company_id": company,
            "tenant_id": str(uuid.uuid4()),
            "issued_at": NOW,
            "document_kind": "bill",
            "document_id": "b-poison",
        }
    return {
        "result_id": id_,
        "command_id": id_,
        "type": type_,
        "command_kind": "CreateBill",
        "company_id": company,
        "document_kind": "bill",
        "document_id": "b-poison",
        "recorded_at": "yesterday",  # not an instant: the projector cannot take it
    }


def too_large(topic: str, good: dict[str, Any]) -> dict[str, Any]:
    """Over 1 MiB and refused: a Roger bill of 501 long lines (the contract allows 500);
    elsewhere the topic's unreadable record, padded."""
    if topic != ROGER_EVENTS:
        return dict(good, padding="x" * (2 * 1024 * 1024))
    lines = [{"description": "é" * 2000, "quantity": "1", "unit_amount": "1.00"}] * 501
    return dict(good, data=dict(good["data"], lines=lines, total="501.00"))


def poison(topic: str, company: str) -> dict[str, bytes]:
    """Every kind of bad record, by name; each must end as a dead letter."""
    known = {
        ROGER_EVENTS: "bill.submitted",
        DOMAIN_EVENTS: "BillSubmitted",
        XERO_COMMANDS: "CreateBill",
        XERO_RESULTS: "XeroBillCreated",
    }[topic]
    ok_id = str(uuid.uuid4())

    def dumps(body: Any) -> bytes:
        return json.dumps(body).encode()

    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    good = shaped(topic, company, id_=ok_id, type_=known)
    return {
        "random bytes": os.urandom(512),
        "5000-deep JSON": b"[" * 5000 + b"]" * 5000,
        "5000-digit integer": dumps(good)[:-1] + b', "n": ' + b"9" * 5000 + b"}",
        "lone surrogate": dumps(dict(good, company_id=company + "\ud800")),
        "NUL in an id": dumps(shaped(topic, company, id_="id\u0000nul", type_=known)),
        # Over Kafka's default 1 MiB: every hop's size limits must let it through to the DLQ.
        "over 1 MiB": dumps(too_large(topic, good)),
        "unknown type and version": dumps(
            dict(shaped(topic, company, id_=str(uuid.uuid4()), type_="bill.exploded"), version=9)
        ),
        "the handler raises": dumps(good),
    }


async def _produce(
    bootstrap: str, topic: str, partition: int, company: str, records: dict[str, bytes]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_request_size=16 * 1024 * 1024,
    )
    await producer.start()
    try:
        for kind, value in records.items():
            await producer.send_and_wait(
                topic,
                value,
                key=company.encode(),
                partition=partition,
                headers=[("poison-kind", kind.encode())],
            )
    finally:
        await producer.stop()


@pytest.mark.parametrize("topic", [ROGER_EVENTS, DOMAIN_EVENTS, XERO_COMMANDS, XERO_RESULTS])
def test_poison_is_dead_lettered_and_another_company_still_syncs(
    pipeline: Pipeline, kafka_bootstrap: str, topic: str
) -> None:
    healthy = f"healthy-{uuid.uuid4().hex[:6]}"
    tenant = pipeline.new_organisation("Healthy Co")
    pipeline.connect(healthy, tenant)
    poisoned = f"poison-{uuid.uuid4().hex[:6]}"
    records = poison(topic, poisoned)
    # The bad records go where the healthy company's records go, just before them.
    asyncio.run(_produce(kafka_bootstrap, topic, partition_of(healthy), poisoned, records))
    sent = time.monotonic()
    bill = ev.bill(healthy, "b-healthy", [ev.line("Paper", "2", "10.00")], "20.00")
    assert pipeline.post_events([bill]).status_code == 202

    synced = wait_for(
        lambda: (d := pipeline.doc(healthy, "bill", "b-healthy")) and d["state"] == "synced",
        30,
        "the healthy company's bill to sync despite the poison before it",
    )
    assert synced and time.monotonic() - sent < 30

    def letters() -> dict[str, str]:
        found: dict[str, str] = {}
        for r in asyncio.run(read_topic(kafka_bootstrap, DEAD_LETTER_TOPIC[topic])):
            headers = {k: v.decode("utf-8", "replace") for k, v in r.headers}
            if r.key == poisoned.encode() and "poison-kind" in headers:
                found[headers["poison-kind"]] = headers["rx-dlq-reason"]
        return found

    wanted = set(records) if topic != ROGER_EVENTS else set(records) - {"the handler raises"}
    seen: dict[str, str] = {}

    def all_letters() -> bool:
        seen.update(letters())
        return wanted <= set(seen)

    try:
        wait_for(all_letters, 60, "every dead letter")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: missing {sorted(wanted - set(seen))}; got {seen}") from None
    got = seen
    for kind in wanted:
        assert got[kind].strip(), f"{kind}: a dead letter without a reason"
