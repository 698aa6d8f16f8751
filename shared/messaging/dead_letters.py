"""Dead letters: the one way a record that cannot be handled leaves its partition, and the
SRE tools that read them and send them back.

A dead letter is the original record (value, key and headers, byte for byte) on
its source topic's dead-letter topic (``shared.contracts.topics.DEAD_LETTER_TOPIC``)
with ``rx-dlq-*`` headers saying where it came from and why it failed:

=========================  ===================================================
``rx-dlq-reason``          what went wrong, in words (at most 4,000 characters)
``rx-dlq-error``           the exception's type, or a short code
``rx-dlq-source-topic``    topic, partition and offset the record was read at
``rx-dlq-source-partition``
``rx-dlq-source-offset``
``rx-dlq-consumer``        the consumer group (or service) that gave up on it
``rx-dlq-attempts``        how many times it was tried
``rx-dlq-first-failed-at`` ISO 8601 instants (UTC) of the first and last failure
``rx-dlq-last-failed-at``
``rx-dlq-truncated``       present when the value was cut to fit a record; holds
                           the original size in bytes
=========================  ===================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from shared.contracts.topics import (
    DEAD_LETTER_TOPIC,
    MAX_RECORD_BYTES,
    ORIGIN_TOPIC,
    XERO_COMMANDS_DLQ,
    XERO_RESULTS,
)
from shared.db import ensure_schema
from shared.logging import get_logger
from shared.messaging.kafka import Security, durable_producer

log = get_logger("dead_letters")

DEAD_LETTERS = Counter(
    "rx_dead_letters_total", "records sent to a dead-letter topic", ["source_topic", "consumer"]
)

Headers = Sequence[tuple[str, bytes]]
_HEADER_ROOM = 64 * 1024  # what our headers and the record's own may take at most


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeadLetter:
    """One record given up on. ``value``/``key``/``headers`` are the original's, untouched."""

    source_topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None
    reason: str
    consumer: str
    error: str = "error"
    attempts: int = 1
    headers: Headers = ()
    first_failed_at: datetime = field(default_factory=_now)
    last_failed_at: datetime = field(default_factory=_now)

    @property
    def topic(self) -> str:
        """The dead-letter topic of the record's source topic."""
        return DEAD_LETTER_TOPIC[self.source_topic]

    def record(self) -> tuple[bytes, list[tuple[str, bytes]]]:
        """The value and headers to publish: the original's, plus ``rx-dlq-*``."""
        own = [(k, v) for k, v in self.headers if not k.startswith("rx-dlq-")]
        ours = {
            "rx-dlq-reason": self.reason[:4000],
            "rx-dlq-error": self.error[:200],
            "rx-dlq-source-topic": self.source_topic,
            "rx-dlq-source-partition": str(self.partition),
            "rx-dlq-source-offset": str(self.offset),
            "rx-dlq-consumer": self.consumer,
            "rx-dlq-attempts": str(self.attempts),
            "rx-dlq-first-failed-at": self.first_failed_at.isoformat(),
            "rx-dlq-last-failed-at": self.last_failed_at.isoformat(),
        }
        value = self.value
        limit = MAX_RECORD_BYTES - _HEADER_ROOM
        if len(value) > limit:
            # Too large for any record (why it failed, often): keep the head, say so.
            ours["rx-dlq-truncated"] = str(len(value))
            value = value[:limit]
        return value, own + [(k, v.encode("utf-8", "replace")) for k, v in ours.items()]


class DeadLetterWriter:
    """Publishes dead letters with a durable producer (acks=all) and waits for the ack."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def write(self, letter: DeadLetter) -> None:
        """Raises what the producer raises (Kafka away): the caller must not move on then."""
        value, headers = letter.record()
        await self._producer.send_and_wait(letter.topic, value, key=letter.key, headers=headers)
        DEAD_LETTERS.labels(letter.source_topic, letter.consumer).inc()
        log.warning(
            "dead_lettered",
            source_topic=letter.source_topic,
            partition=letter.partition,
            offset=letter.offset,
            consumer=letter.consumer,
            attempts=letter.attempts,
            error=letter.error,
            reason=letter.reason[:500],
            company_id=(letter.key or b"").decode("utf-8", "replace"),
        )


# ---- SRE tools: read and replay -------------------------------------------------------------

REPLAYS_DDL = """
CREATE TABLE IF NOT EXISTS dead_letter_replays (
    dlq_topic TEXT, dlq_partition INTEGER, dlq_offset BIGINT,  -- the letter
    replayed_to TEXT NOT NULL,  -- its origin topic
    replayed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
"""


async def _partitions(
    bootstrap: str, topic: str, security: Security | None = None
) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, p["partition"]) for t in described for p in t.get("partitions", [])
    ]


async def read_topic(bootstrap: str, topic: str, security: Security | None = None) -> list[Any]:
    """Every record of a topic, from the beginning to the current end, with no consumer group.
    ``security``: ``shared.messaging.kafka.kafka_security(settings)``."""
    partitions = await _partitions(bootstrap, topic, security)
    if not partitions:
        return []
    # No group, so no committed offsets: "earliest" starts every partition at its beginning.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=MAX_RECORD_BYTES,
        **(security or {}),
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


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in record.headers}


# Where a Roger event, a domain event and a Xero result name their document (first found wins).
_DOCUMENT_ID_FIELDS = ("bill_id", "receipt_id", "credit_note_id", "vendor_id", "id")


def document_of(value: bytes) -> tuple[str | None, str | None]:
    """(kind, Roger id) of the document a record is about, or ``None`` for what cannot be told
    (a dead letter is often not even JSON).

    Commands and results carry ``document_kind``/``document_id``; a Roger event's kind is the
    first part of its ``type`` (``bill.paid`` -> ``bill``) and a domain event's its type name;
    both name the document in ``data`` (``bill_id``, ``receipt_id``, ...).
    """
    body = _json(value)
    if not isinstance(body, dict):
        return None, None
    kind, document = body.get("document_kind"), body.get("document_id")
    data = body.get("data")
    if document is None and isinstance(data, dict):
        named = (data[f] for f in _DOCUMENT_ID_FIELDS if isinstance(data.get(f), str))
        document = next(named, None)
    event_type = body.get("type")
    if kind is None and isinstance(event_type, str):
        kind = event_type.split(".", 1)[0] if "." in event_type else event_type
    return (
        kind if isinstance(kind, str) else None,
        document if isinstance(document, str) else None,
    )


def _json(value: bytes | None) -> Any:
    """The JSON in ``value``, or None: dead letters are often not JSON at all, or JSON nested
    deeper than Python's parser goes (RecursionError) or with over-long numbers."""
    try:
        return json.loads(value or b"")
    except (ValueError, RecursionError):
        return None


def _command_id(value: bytes) -> str | None:
    body = _json(value)
    return body.get("command_id") if isinstance(body, dict) else None


async def _answered_commands(bootstrap: str, security: Security | None) -> dict[str, str]:
    """command id -> when Xero's final answer (not "waiting") was recorded."""
    answered: dict[str, str] = {}
    for r in await read_topic(bootstrap, XERO_RESULTS, security):
        body = _json(r.value)
        if isinstance(body, dict) and body.get("type") != "XeroCommandWaiting":
            answered[str(body.get("command_id"))] = str(body.get("recorded_at", ""))
    return answered


async def _replays(pool: AsyncConnectionPool | None, topic: str) -> dict[tuple[int, int], str]:
    if pool is None:
        return {}
    await ensure_schema(pool, REPLAYS_DDL)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT dlq_partition, dlq_offset, replayed_at FROM dead_letter_replays "
            "WHERE dlq_topic = %s",
            (topic,),
        )
        return {(p, o): at.isoformat() for p, o, at in await cur.fetchall()}


async def list_dead_letters(
    bootstrap: str,
    topic: str,
    *,
    pool: AsyncConnectionPool | None = None,
    company_id: str | None = None,
    state: str | None = None,
    limit: int = 100,
    security: Security | None = None,
) -> list[dict[str, Any]]:
    """Dead letters of ``topic``, oldest first, each with its ``state``: dicts of
    ``partition``, ``offset``, ``key`` (the company), ``kind`` and ``document`` (see
    ``document_of``; ``None`` when unknown), ``state``, ``state_since``, ``headers`` and
    ``value`` (the first 2,000 characters).

    ``state`` is ``resolved`` for a parked command whose work Xero has since answered (the
    outbox sent it again), ``replayed`` once ``replay`` sent it back, else ``open``.
    Filters: ``company_id`` (the record key) and ``state``.
    """
    records = await read_topic(bootstrap, topic, security)
    answered = await _answered_commands(bootstrap, security) if topic == XERO_COMMANDS_DLQ else {}
    replays = await _replays(pool, topic)
    out: list[dict[str, Any]] = []
    for r in records:
        key = (r.key or b"").decode("utf-8", "replace")
        if company_id is not None and key != company_id:
            continue
        command_id = _command_id(r.value or b"") if answered else None
        if command_id is not None and command_id in answered:
            letter_state, since = "resolved", answered[command_id]
        elif (r.partition, r.offset) in replays:
            letter_state, since = "replayed", replays[(r.partition, r.offset)]
        else:
            letter_state, since = "open", None
        if state is not None and letter_state != state:
            continue
        kind, document = document_of(r.value or b"")
        out.append(
            {
                "partition": r.partition,
                "offset": r.offset,
                "key": key,
                "kind": kind,
                "document": document,
                "state": letter_state,
                "state_since": since,
                "headers": _headers(r),
                "value": (r.value or b"").decode("utf-8", "replace")[:2000],
            }
        )
    return out[:limit]


TABLE_COLUMNS = ("COMPANY", "KIND", "DOCUMENT", "REASON", "AGE", "STATE")
REASON_WIDTH = 60


def age_text(seconds: float) -> str:
    """A duration for people, in its two largest units: ``45s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def _failed_at(entry: dict[str, Any]) -> datetime | None:
    headers = entry.get("headers", {})
    text = headers.get("rx-dlq-last-failed-at") or headers.get("rx-dlq-first-failed-at")
    try:
        instant = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return instant if instant is None or instant.tzinfo else instant.replace(tzinfo=UTC)


def letters_table(entries: Iterable[dict[str, Any]], now: datetime) -> str:
    """``list_dead_letters``'s entries as a table for people: company, kind, document, reason
    (cut to 60 characters, on one line), age (since the last failure, at ``now``, aware) and
    state; ``-`` for what is unknown. Ends without a newline."""
    rows = [TABLE_COLUMNS]
    for e in entries:
        reason = " ".join(str(e.get("headers", {}).get("rx-dlq-reason", "-")).split())
        if len(reason) > REASON_WIDTH:
            reason = reason[: REASON_WIDTH - 1] + "…"
        failed = _failed_at(e)
        rows.append(
            (
                e.get("key") or "-",
                e.get("kind") or "-",
                e.get("document") or "-",
                reason or "-",
                age_text((now - failed).total_seconds()) if failed else "-",
                e.get("state") or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@dataclass
class ReplayOutcome:
    replayed: list[tuple[int, int]] = field(default_factory=list)
    # (partition, offset, when) of letters replayed before and skipped this time
    skipped: list[tuple[int, int, str]] = field(default_factory=list)


async def replay_dead_letters(
    bootstrap: str,
    pool: AsyncConnectionPool,
    topic: str,
    chosen: Iterable[tuple[int, int]] | None,
    *,
    again: bool = False,
    security: Security | None = None,
) -> ReplayOutcome:
    """Republishes the chosen (partition, offset) letters (``None``: all) to their origin topic.

    Each replay is recorded in ``dead_letter_replays``; a letter replayed before is skipped
    (and reported) unless ``again``. The consumers' own deduplication makes a repeated
    replay harmless; the record keeps an SRE from doing it by accident.
    """
    wanted = None if chosen is None else set(chosen)
    records = [
        r
        for r in await read_topic(bootstrap, topic, security)
        if wanted is None or (r.partition, r.offset) in wanted
    ]
    before = await _replays(pool, topic)
    outcome = ReplayOutcome()
    producer = durable_producer(bootstrap, "rx-dlq-replay", security)
    await producer.start()
    try:
        for r in records:
            if (r.partition, r.offset) in before and not again:
                outcome.skipped.append((r.partition, r.offset, before[(r.partition, r.offset)]))
                continue
            own = [(k, v) for k, v in r.headers if not k.startswith("rx-dlq-")]
            origin = _headers(r).get("rx-dlq-source-topic") or ORIGIN_TOPIC[topic]
            await producer.send_and_wait(
                origin,
                r.value,
                key=r.key,
                headers=[*own, ("rx-replayed-from", f"{topic}:{r.partition}:{r.offset}".encode())],
            )
            async with pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO dead_letter_replays "
                    "(dlq_topic, dlq_partition, dlq_offset, replayed_to) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) "
                    "DO UPDATE SET replayed_at = now()",
                    (topic, r.partition, r.offset, origin),
                )
            outcome.replayed.append((r.partition, r.offset))
    finally:
        await producer.stop()
    return outcome
