"""The outbox relay on a real broker and PostgreSQL: a row Kafka can never take is quarantined,
dead-lettered and reported, and every other row (of its company and of others) is published in
order."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import psycopg

from shared.contracts.topics import (
    DOMAIN_EVENTS,
    DOMAIN_EVENTS_DLQ,
    MAX_RECORD_BYTES,
)
from shared.db import open_pool
from shared.messaging import outbox
from shared.messaging.dead_letters import DeadLetterWriter, read_topic
from shared.messaging.kafka import durable_producer
from shared.messaging.outbox import OutboxRelay, OutboxRow


def row(company: str, n: int, size: int = 0) -> OutboxRow:
    body = {"company": company, "n": n, "pad": "x" * size}
    return OutboxRow(
        f"{company}-{n}-{uuid.uuid4().hex[:6]}",
        company,
        DOMAIN_EVENTS,
        "TestFact",
        json.dumps(body).encode(),
    )


async def relay_all(dsn: str, bootstrap: str, rows: list[OutboxRow]) -> list[tuple[str, str]]:
    pool = await open_pool(dsn, max_size=2)
    producer = durable_producer(bootstrap, "test-outbox")
    await producer.start()
    told: list[tuple[str, str]] = []

    async def on_quarantine(r: OutboxRow, reason: str) -> None:
        told.append((r.message_id, reason))

    try:
        await OutboxRelay.setup(pool)
        async with pool.connection() as conn, conn.transaction():
            await outbox.add(conn, *rows)
        relay = OutboxRelay(
            pool, producer, DeadLetterWriter(producer), name="test", on_quarantine=on_quarantine
        )
        while await relay.relay_once():
            pass
    finally:
        await producer.stop()
        await pool.close()
    return told


def published(bootstrap: str, companies: set[str]) -> list[dict[str, Any]]:
    out = []
    for r in asyncio.run(read_topic(bootstrap, DOMAIN_EVENTS)):
        try:
            body = json.loads(r.value)
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("company") in companies:
            out.append(body)
    return out


def test_an_unpublishable_row_is_quarantined_and_the_rest_go_in_order(
    kafka_bootstrap: str, fresh_database: str
) -> None:
    a, b = f"qa-{uuid.uuid4().hex[:6]}", f"qb-{uuid.uuid4().hex[:6]}"
    huge = row(a, 2, size=MAX_RECORD_BYTES)  # more than any record may hold
    rows = [row(a, 1), huge, row(b, 1), row(a, 3), row(b, 2)]
    told = asyncio.run(relay_all(fresh_database, kafka_bootstrap, rows))

    assert [m for m, _ in told] == [huge.message_id]
    assert "over the record limit" in told[0][1]
    bodies = published(kafka_bootstrap, {a, b})
    assert [x["n"] for x in bodies if x["company"] == a] == [1, 3]
    assert [x["n"] for x in bodies if x["company"] == b] == [1, 2]

    letters = [
        r
        for r in asyncio.run(read_topic(kafka_bootstrap, DOMAIN_EVENTS_DLQ))
        if r.key == a.encode()
    ]
    assert len(letters) == 1
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["rx-dlq-error"] == "quarantined"
    assert int(headers["rx-dlq-truncated"]) == len(huge.payload)

    with psycopg.connect(fresh_database) as conn:
        marks = conn.execute(
            "SELECT message_id, published_at IS NOT NULL, quarantined_at IS NOT NULL "
            "FROM outbox ORDER BY seq"
        ).fetchall()
    assert [(m, p, q) for m, p, q in marks if m == huge.message_id] == [
        (huge.message_id, False, True)
    ]
    assert all(p for m, p, _ in marks if m != huge.message_id)
