"""Commands the writer has sent to Xero at least once: those are looked up before a retry."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg_pool import AsyncConnectionPool

from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS writer_attempts (
    command_id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    first_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class Attempts:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    async def begin(self, company_id: str, command_ids: Iterable[str]) -> set[str]:
        """Records the attempt before the call; returns the ids that were attempted before."""
        ids = list(command_ids)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT command_id FROM writer_attempts WHERE command_id = ANY(%s)", (ids,)
            )
            earlier = {r[0] for r in await cur.fetchall()}
            async with conn.cursor() as c:
                await c.executemany(
                    "INSERT INTO writer_attempts (command_id, company_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    [(i, company_id) for i in ids if i not in earlier],
                )
        return earlier
