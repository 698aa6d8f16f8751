"""The one transactional outbox: records decided in a database transaction reach Kafka.

A service that changes state and must tell Kafka about it inserts an ``OutboxRow`` in
the same PostgreSQL transaction as its change (``add`` with psycopg's async
connection, ``add_sync`` with a cursor of eventsourcing's recorder), so a crash
between the commit and Kafka's ack can neither lose the record nor send one for a
change that never happened. ``OutboxRelay`` publishes the rows, oldest first.

Rows that await an answer (the projector's Xero commands) are published again when
unanswered for too long; the writer deduplicates them.

A row that can never be published (too large for a record) is quarantined: marked,
dead-lettered (truncated) with the reason, handed to ``on_quarantine`` (the projector
shows it on its document) and passed over, so it never holds up the rows after it.

Rows hold no secret: the connect flow stores ids, names and account codes only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from shared.contracts.domain_events import DomainEvent, DomainEventType
from shared.contracts.sync_status import SyncStatusEvent
from shared.contracts.topics import DOMAIN_EVENTS, MAX_RECORD_BYTES, ROGER_SYNC_STATUS
from shared.db import ensure_schema
from shared.logging import get_logger
from shared.messaging.dead_letters import DeadLetter, DeadLetterWriter

log = get_logger("outbox")

PUBLISHED = Counter("rx_outbox_published_total", "outbox rows published", ["topic"])
QUARANTINED = Counter("rx_outbox_quarantined_total", "outbox rows that cannot be published")
UNPUBLISHED = Gauge("rx_outbox_unpublished", "outbox rows not yet on Kafka (last relay round)")

DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    seq BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    topic TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BYTEA NOT NULL,
    awaits_answer BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    answered_at TIMESTAMPTZ,
    quarantined_at TIMESTAMPTZ,
    quarantine_reason TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unpublished
    ON outbox (seq) WHERE published_at IS NULL AND quarantined_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_unanswered
    ON outbox (published_at) WHERE awaits_answer AND answered_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_by_company ON outbox (company_id, seq);
"""

_INSERT = (
    "INSERT INTO outbox (message_id, company_id, origin, topic, kind, payload, awaits_answer) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING"
)
_RELAY_LOCK = 7262  # one relay at a time across processes keeps each company's order


@dataclass(frozen=True)
class OutboxRow:
    """One record to publish: ``payload`` goes to ``topic`` with key ``company_id``.

    ``message_id`` is unique (an event or command id): inserting it twice is a no-op.
    ``kind`` names what it is (a domain event or command type, ``categories``);
    ``origin`` the room that wrote it (``connect``, ``projector``).
    """

    message_id: str
    company_id: str
    topic: str
    kind: str
    payload: bytes
    origin: str = "connect"
    awaits_answer: bool = False

    def params(self) -> tuple[Any, ...]:
        return (
            self.message_id,
            self.company_id,
            self.origin,
            self.topic,
            self.kind,
            self.payload,
            self.awaits_answer,
        )


def status_row(event: SyncStatusEvent, origin: str) -> OutboxRow:
    """A ``roger.sync-status`` record; its stable id is the row's ``message_id``, so the same
    happening written twice (a replay, a second detection) is published once."""
    return OutboxRow(
        event.id, event.company_id, ROGER_SYNC_STATUS, event.type, event.to_bytes(), origin
    )


def connection_fact(
    company_id: str, type_: DomainEventType, data: dict[str, Any], at: datetime | None = None
) -> OutboxRow:
    """A connect-flow fact (a ``DomainEvent`` from source ``connect``) for ``DOMAIN_EVENTS``."""
    fact = DomainEvent(
        event_id=str(uuid.uuid4()),
        type=type_,
        company_id=company_id,
        occurred_at=at or datetime.now(UTC),
        source="connect",
        data=data,
    )
    return OutboxRow(fact.event_id, company_id, DOMAIN_EVENTS, type_, fact.to_bytes())


def json_row(message_id: str, company_id: str, topic: str, kind: str, body: Any) -> OutboxRow:
    payload = json.dumps(body, separators=(",", ":"), default=str).encode()
    return OutboxRow(message_id, company_id, topic, kind, payload)


async def add(conn: AsyncConnection[Any], *rows: OutboxRow) -> None:
    """Inside the caller's transaction: the rows commit or vanish with its change."""
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(_INSERT, [row.params() for row in rows])


def add_sync(curs: Any, rows: Iterable[OutboxRow]) -> None:
    """``add`` for a synchronous psycopg cursor (eventsourcing's recorder transaction)."""
    params = [row.params() for row in rows]
    if params:
        curs.executemany(_INSERT, params)


def mark_answered_sync(curs: Any, message_ids: Iterable[str]) -> None:
    """Rows that awaited an answer got it: they are never published again."""
    ids = list(message_ids)
    if ids:
        curs.execute("UPDATE outbox SET answered_at = now() WHERE message_id = ANY(%s)", (ids,))


def resend_unanswered_sync(curs: Any, company_id: str) -> None:
    """Publish a company's unanswered rows again at once (e.g. after it reconnected)."""
    curs.execute(
        "UPDATE outbox SET published_at = NULL "
        "WHERE company_id = %s AND awaits_answer AND answered_at IS NULL "
        "AND quarantined_at IS NULL",
        (company_id,),
    )


Quarantined = Callable[[OutboxRow, str], Awaitable[None]]


@dataclass
class _Pending:
    seq: int
    row: OutboxRow


class OutboxRelay:
    """Publishes the outbox to Kafka: new rows, and unanswered ones after ``resend_after_s``.

    ``wake()`` starts a round at once (the process just wrote rows); otherwise it polls
    every ``poll_s`` for rows other processes wrote.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        producer: AIOKafkaProducer,
        dead_letters: DeadLetterWriter,
        *,
        name: str,
        resend_after_s: float = 600.0,
        on_quarantine: Quarantined | None = None,
        poll_s: float = 1.0,
        batch: int = 500,
    ) -> None:
        self._pool, self._producer, self._dead_letters = pool, producer, dead_letters
        self._name, self._resend_after_s = name, resend_after_s
        self._on_quarantine, self._poll_s, self._batch = on_quarantine, poll_s, batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @staticmethod
    async def setup(pool: AsyncConnectionPool) -> None:
        """Creates the outbox table if it is missing (safe at every start)."""
        await ensure_schema(pool, DDL)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self._name}-outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                while not self._stopping and await self.relay_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Kafka or PostgreSQL away: next round
                log.warning("outbox_relay_failed", relay=self._name, error=repr(exc)[:500])
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            except TimeoutError:
                pass

    async def relay_once(self) -> int:
        """Publishes up to one batch; returns how many rows it handled (0: none, or not our turn).

        Raises when Kafka or PostgreSQL is away; the rows stay and go in a later round.
        """
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_RELAY_LOCK,))
            got = await cur.fetchone()
            if not got or not got[0]:
                return 0
            cur = await conn.execute(
                "SELECT seq, message_id, company_id, origin, topic, kind, payload, awaits_answer "
                "FROM outbox WHERE quarantined_at IS NULL AND (published_at IS NULL OR "
                "  (awaits_answer AND answered_at IS NULL "
                "   AND published_at < now() - make_interval(secs => %s))) "
                "ORDER BY seq LIMIT %s",
                (self._resend_after_s, self._batch),
            )
            pending = [
                _Pending(seq, OutboxRow(mid, cid, topic, kind, bytes(payload), origin, awaits))
                for seq, mid, cid, origin, topic, kind, payload, awaits in await cur.fetchall()
            ]
            UNPUBLISHED.set(len(pending))
            if not pending:
                return 0
            published, quarantined = await self._publish(pending)
            if published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY(%s)", (published,)
                )
            for p, reason in quarantined:
                # Told first, marked after: if telling fails, the row is tried again.
                await self._quarantined(p, reason)
                await conn.execute(
                    "UPDATE outbox SET quarantined_at = now(), quarantine_reason = %s "
                    "WHERE seq = %s",
                    (reason, p.seq),
                )
        return len(pending)

    async def _publish(
        self, pending: list[_Pending]
    ) -> tuple[list[int], list[tuple[_Pending, str]]]:
        sent: list[tuple[_Pending, asyncio.Future[Any]]] = []
        quarantined: list[tuple[_Pending, str]] = []
        for p in pending:
            row = p.row
            if len(row.payload) > MAX_RECORD_BYTES - 64 * 1024:
                quarantined.append((p, f"{len(row.payload)} bytes: over the record limit"))
                continue
            try:
                future = await self._producer.send(
                    row.topic,
                    row.payload,
                    key=row.company_id.encode(),
                    headers=[
                        ("rx-message-id", row.message_id.encode()),
                        ("rx-kind", row.kind.encode()),
                    ],
                )
            except KafkaError as exc:
                if getattr(exc, "retriable", False):
                    raise
                quarantined.append((p, f"Kafka refused it: {type(exc).__name__}: {exc}"))
                continue
            sent.append((p, future))
        published: list[int] = []
        for p, future in sent:
            try:
                await future
            except KafkaError as exc:
                if getattr(exc, "retriable", False):
                    raise
                quarantined.append((p, f"Kafka refused it: {type(exc).__name__}: {exc}"))
                continue
            published.append(p.seq)
            PUBLISHED.labels(p.row.topic).inc()
        return published, quarantined

    async def _quarantined(self, p: _Pending, reason: str) -> None:
        QUARANTINED.inc()
        row = p.row
        log.error(
            "outbox_row_quarantined",
            relay=self._name,
            company_id=row.company_id,
            message_id=row.message_id,
            kind=row.kind,
            reason=reason,
        )
        await self._dead_letters.write(
            DeadLetter(
                source_topic=row.topic,
                partition=-1,
                offset=p.seq,  # the outbox row: the full payload stays there
                value=row.payload,
                key=row.company_id.encode(),
                headers=[("rx-message-id", row.message_id.encode())],
                reason=f"outbox row {p.seq} not publishable: {reason}",
                error="quarantined",
                consumer=f"{self._name}-outbox",
            )
        )
        if self._on_quarantine is not None:
            await self._on_quarantine(row, reason)
