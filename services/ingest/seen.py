"""Event ids ingest has already put on Kafka, so a redelivery is acknowledged, not republished."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg_pool import AsyncConnectionPool

from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS ingest_published_events (
    event_id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class SeenEvents:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    async def already_published(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT event_id FROM ingest_published_events WHERE event_id = ANY(%s)", (ids,)
            )
            return {row[0] for row in await cur.fetchall()}

    async def mark_published(self, pairs: Iterable[tuple[str, str]]) -> None:
        rows = list(pairs)
        if not rows:
            return
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO ingest_published_events (event_id, company_id) VALUES (%s, %s) "
                "ON CONFLICT (event_id) DO NOTHING",
                rows,
            )
