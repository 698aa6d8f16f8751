"""SRE tools over the dead-letter topics: read them, and send records back for another try."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import durable_producer
from shared.settings import Settings
from shared.topics import ROGER_EVENTS, ROGER_EVENTS_DLQ, XERO_COMMANDS, XERO_COMMANDS_DLQ

ORIGIN = {ROGER_EVENTS_DLQ: ROGER_EVENTS, XERO_COMMANDS_DLQ: XERO_COMMANDS}


async def _read_all(settings: Settings, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        while any(await consumer.position(tp) < ends[tp] for tp in partitions):
            batch = await consumer.getmany(timeout_ms=1000)
            for recs in batch.values():
                records += recs
        return records
    finally:
        await consumer.stop()


async def list_dead_letters(settings: Settings, topic: str, limit: int) -> list[dict[str, Any]]:
    records = await _read_all(settings, topic)
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


async def replay_dead_letters(settings: Settings, topic: str, offsets: set[int]) -> int:
    origin = ORIGIN[topic]
    records = [r for r in await _read_all(settings, topic) if not offsets or r.offset in offsets]
    producer = durable_producer(settings.kafka_bootstrap, "rx-dlq-replay")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(origin, r.value, key=r.key, headers=[("rx-replayed-from", topic.encode())])
    finally:
        await producer.stop()
    return len(records)
