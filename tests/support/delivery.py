"""Delivering Roger events the way Roger does: over HTTP and on ``roger.events``, at least once."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from aiokafka import AIOKafkaProducer

from shared.contracts.topics import ROGER_EVENTS


async def _produce(bootstrap: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(ROGER_EVENTS, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce_roger(bootstrap: str, events: list[dict[str, Any]]) -> None:
    asyncio.run(
        _produce(bootstrap, [(e["company_id"].encode(), json.dumps(e).encode()) for e in events])
    )


def produce_raw(bootstrap: str, records: list[tuple[bytes | None, bytes]]) -> None:
    asyncio.run(_produce(bootstrap, records))


def deliver(
    pipeline: Any, bootstrap: str, events: list[dict[str, Any]], copies: int, rng: random.Random
) -> None:
    """Every event ``copies`` times, shuffled, each copy over HTTP or the topic at random."""
    stream = [e for e in events for _ in range(copies)]
    rng.shuffle(stream)
    over_http: list[dict[str, Any]] = []
    over_topic: list[dict[str, Any]] = []
    for event in stream:
        (over_http if rng.random() < 0.5 else over_topic).append(event)
    for start in range(0, len(over_http), 100):
        response = pipeline.post_events(over_http[start : start + 100])
        assert response.status_code == 202, response.text
    produce_roger(bootstrap, over_topic)
