"""Publishes the connection outbox (``shared.messaging.outbox``) to Kafka, oldest first.

One relay at a time across ingest processes (an advisory lock), so a company's
facts reach Kafka in the order they were recorded. Rows written by this process
wake the relay at once; rows from other processes (the writer's needs_reconnect)
are found by polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from psycopg_pool import AsyncConnectionPool

from shared.logging import get_logger

log = get_logger("ingest.connect.relay")

Publish = Callable[[str, bytes, bytes], Awaitable[None]]  # topic, key, value
_RELAY_LOCK = 7262
POLL_S = 1.0


class OutboxRelay:
    def __init__(self, pool: AsyncConnectionPool, publish: Publish) -> None:
        self._pool, self._publish = pool, publish
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="connection-outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                while await self.relay_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Kafka or PostgreSQL down: next round
                log.warning("outbox_relay_failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_S)
            except TimeoutError:
                pass

    async def relay_once(self, limit: int = 100) -> int:
        """Publishes up to ``limit`` rows; returns how many (0: nothing left, or not our turn)."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_RELAY_LOCK,))
            if not (await cur.fetchone())[0]:  # type: ignore[index]
                return 0
            cur = await conn.execute(
                "SELECT seq, company_id, topic, kind, payload FROM xero_connection_outbox "
                "WHERE published_at IS NULL ORDER BY seq LIMIT %s",
                (limit,),
            )
            rows = await cur.fetchall()
            for seq, company_id, topic, kind, payload in rows:
                await self._publish(topic, company_id.encode(), bytes(payload))
                await conn.execute(
                    "UPDATE xero_connection_outbox SET published_at = now() WHERE seq = %s",
                    (seq,),
                )
                log.info("connection_fact_published", company_id=company_id, kind=kind)
        return len(rows)
