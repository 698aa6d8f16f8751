"""What the writer remembers of each command, durably (PostgreSQL), for as long as it runs.

- ``writer_attempts``: commands sent to Xero at least once; those are looked up in Xero
  before a retry (an earlier call may have landed without our hearing the answer).
- ``writer_answers``: each command's final answer (any ``XeroResult`` but
  ``XeroCommandWaiting``), kept forever, not for Xero's 6-minute idempotency window. A
  command read again (a crash, the outbox's resend, ``dlq replay``, ``--again`` months
  later) is answered from it without calling Xero: a bill Roger deleted (voided in Xero),
  a payment Roger reversed (deleted in Xero) or a credit allocation taken off its bill
  (``DeleteAllocation``) is "done, then undone" and is never made again by a replay of the
  command that first made it (issue 10, "Replays safe forever"). Answers are recorded
  before they are published, so nothing is undone on an answer the record lacks.
  Each command id names one attempt of one step (the projector's ``command_id``), so a
  document sent again after a failure comes under a new id and is not answered from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from psycopg_pool import AsyncConnectionPool

from shared.contracts.results import XeroResult
from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS writer_attempts (
    command_id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    first_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS writer_answers (
    command_id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    result_type TEXT NOT NULL,
    result JSONB NOT NULL,
    answered_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def is_final(result: XeroResult) -> bool:
    """Whether ``result`` ends its command: everything but "waiting" (which goes again)."""
    return result.type != "XeroCommandWaiting"


class Attempts:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @property
    def pool(self) -> AsyncConnectionPool:
        """The writer's database (the same one holds the shared outbox)."""
        return self._pool

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    async def begin(self, company_id: str, command_ids: Iterable[str]) -> set[str]:
        """Records the attempt before the call; returns the ids that were attempted before."""
        ids = list(dict.fromkeys(command_ids))
        async with self._pool.connection() as conn:
            # One statement: the ids it could insert are the new ones.
            cur = await conn.execute(
                "INSERT INTO writer_attempts (command_id, company_id) "
                "SELECT unnest(%s::text[]), %s ON CONFLICT DO NOTHING RETURNING command_id",
                (ids, company_id),
            )
            new = {r[0] for r in await cur.fetchall()}
        return set(ids) - new

    async def answers(self, command_ids: Sequence[str]) -> dict[str, XeroResult]:
        """The final answers recorded for any of ``command_ids``, by command id."""
        if not command_ids:
            return {}
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT command_id, result::text FROM writer_answers WHERE command_id = ANY(%s)",
                (list(command_ids),),
            )
            rows = await cur.fetchall()
        return {command_id: XeroResult.model_validate_json(raw) for command_id, raw in rows}

    async def remember(self, results: Sequence[XeroResult]) -> None:
        """Records the final ones of ``results`` (waiting ones are skipped). The first final
        answer of a command stays: a later one never replaces it."""
        rows = [
            (r.command_id, r.company_id, r.type, r.model_dump_json())
            for r in results
            if is_final(r)
        ]
        if not rows:
            return
        async with self._pool.connection() as conn, conn.cursor() as c:
            await c.executemany(
                "INSERT INTO writer_answers (command_id, company_id, result_type, result) "
                "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (command_id) DO NOTHING",
                rows,
            )
