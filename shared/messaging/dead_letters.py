"""SRE tools over the dead-letter topics: read them, and send records back for another try."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import ROGER_EVENTS, ROGER_EVENTS_DLQ, XERO_COMMANDS, XERO_COMMANDS_DLQ
from shared.messaging.kafka import durable_producer
from shared.settings import Settings

ORIGIN = {ROGER_EVENTS_DLQ: ROGER_EVENTS, XERO_COMMANDS_DLQ: XERO_COMMANDS}


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, p["partition"]) for t in described for p in t.get("partitions", [])
    ]


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic, from the beginning to the current end, with no consumer group."""
    partitions = await _partitions(bootstrap, topic)
    if not partitions:
        return []
    # No group, so no committed offsets: "earliest" starts every partition at its beginning.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for recs in batch.values():
                records += recs
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()


async def list_dead_letters(settings: Settings, topic: str, limit: int) -> list[dict[str, Any]]:
    records = await read_topic(settings.kafka_bootstrap, topic)
    return [
        {
            "partition": r.partition,
            "offset": r.offset,
            "key": (r.key or b"").decode("utf-8", "replace"),
            "headers": {k: v.decode("utf-8", "replace") for k, v in r.headers},
            "value": (r.value or b"").decode("utf-8", "replace")[:2000],
        }
        for r in records[:limit]
    ]


async def replay_dead_letters(settings: Settings, topic: str, chosen: set[tuple[int, int]]) -> int:
    """Republishes the chosen (partition, offset) records, or all, to their origin topic."""
    origin = ORIGIN[topic]
    records = [
        r
        for r in await read_topic(settings.kafka_bootstrap, topic)
        if not chosen or (r.partition, r.offset) in chosen
    ]
    producer = durable_producer(settings.kafka_bootstrap, "rx-dlq-replay")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(
                origin, r.value, key=r.key, headers=[("rx-replayed-from", topic.encode())]
            )
    finally:
        await producer.stop()
    return len(records)
