"""The poller's memory, in the inbound service's database (the pool ``InboundStore`` uses).

- ``xero_inbound_poll_cursors``: per tenant and resource, the latest ``UpdatedDateUTC``
  fed and the ids fed at that moment (``polling.Cursor``).
- ``xero_inbound_poll_tenants``: per tenant, when it is next due, why it was last put off,
  and Xero's remaining day/minute calls as last seen.
- ``xero_inbound_poll_calls``: the poller's own calls per tenant per UTC day; a call is
  taken under the budget in one statement, so replicas together never exceed it.

Tenant ids are kept in lower case (Xero's are GUIDs; case is not meaningful).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from services.xero_inbound.polling import Cursor, Remaining
from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS xero_inbound_poll_cursors (
    tenant_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    modified_at TIMESTAMPTZ,
    ids TEXT[] NOT NULL DEFAULT '{}',
    complete BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, resource)
);
ALTER TABLE xero_inbound_poll_cursors ADD COLUMN IF NOT EXISTS complete BOOLEAN NOT NULL
    DEFAULT false;
CREATE TABLE IF NOT EXISTS xero_inbound_poll_tenants (
    tenant_id TEXT PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL,
    last_reason TEXT,
    polled_at TIMESTAMPTZ,
    day_remaining INT,
    minute_remaining INT,
    observed_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS xero_inbound_poll_calls (
    tenant_id TEXT NOT NULL,
    day DATE NOT NULL,
    calls INT NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
"""


class PollStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def setup(self) -> None:
        await ensure_schema(self.pool, DDL)

    async def claim_next(
        self, now: datetime, interval_s: float, skip: Collection[str] = ()
    ) -> str | None:
        """A connected tenant (as stored) due at ``now`` and not in ``skip``, now ours until
        ``now + interval``; None when none is due (or the one found was just taken by another
        replica). One statement, one row: each tenant is claimed right before its own poll,
        so replicas share the work and a long round never outlives its claims. Tenants not
        due cost no statement of their own (a statement per tenant per second grew with the
        customers, issue 14)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "WITH connected AS ("
                "  SELECT lower(tenant_id) AS key, min(tenant_id) AS tenant_id "
                "  FROM xero_connections WHERE status = 'connected' AND tenant_id <> '' "
                "  GROUP BY lower(tenant_id)"
                "), due AS ("
                "  SELECT c.key FROM connected c "
                "  LEFT JOIN xero_inbound_poll_tenants p ON p.tenant_id = c.key "
                "  WHERE (p.next_at IS NULL OR p.next_at <= %(now)s) "
                "  AND c.key <> ALL(%(skip)s::text[]) "
                "  ORDER BY p.next_at NULLS FIRST, c.key LIMIT 1"
                "), claimed AS ("
                "  INSERT INTO xero_inbound_poll_tenants (tenant_id, next_at) "
                "  SELECT key, %(next)s FROM due "
                "  ON CONFLICT (tenant_id) DO UPDATE SET next_at = EXCLUDED.next_at "
                "  WHERE xero_inbound_poll_tenants.next_at <= %(now)s RETURNING tenant_id"
                ") SELECT c.tenant_id FROM connected c JOIN claimed ON claimed.tenant_id = c.key",
                {
                    "now": now,
                    "next": now + timedelta(seconds=interval_s),
                    "skip": [t.lower() for t in skip],
                },
            )
            row = await cur.fetchone()
            return None if row is None else str(row[0])

    async def finish(
        self, tenant_id: str, reason: str, now: datetime, until: datetime | None = None
    ) -> None:
        """Records how the poll ended; ``until``: put off to then (else as claimed)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE xero_inbound_poll_tenants SET last_reason = %s, polled_at = %s, "
                "next_at = COALESCE(%s, next_at) WHERE tenant_id = %s",
                (reason, now, until, tenant_id.lower()),
            )

    async def remaining(self, tenant_id: str) -> Remaining:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT day_remaining, minute_remaining, observed_at "
                "FROM xero_inbound_poll_tenants WHERE tenant_id = %s",
                (tenant_id.lower(),),
            )
            row = await cur.fetchone()
        return Remaining(*row) if row else Remaining()

    async def record_remaining(self, tenant_id: str, seen: Remaining) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE xero_inbound_poll_tenants SET day_remaining = %s, minute_remaining = %s, "
                "observed_at = %s WHERE tenant_id = %s",
                (seen.day, seen.minute, seen.observed_at, tenant_id.lower()),
            )

    async def calls(self, tenant_id: str, day: date) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT calls FROM xero_inbound_poll_calls WHERE tenant_id = %s AND day = %s",
                (tenant_id.lower(), day),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def take_call(self, tenant_id: str, day: date, budget: int) -> bool:
        """Counts one call if the day's count is under ``budget``; False (nothing counted)
        when the budget is spent."""
        if budget <= 0:
            return False
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO xero_inbound_poll_calls (tenant_id, day, calls) VALUES (%s, %s, 1) "
                "ON CONFLICT (tenant_id, day) DO UPDATE SET "
                "calls = xero_inbound_poll_calls.calls + 1 "
                "WHERE xero_inbound_poll_calls.calls < %s RETURNING calls",
                (tenant_id.lower(), day, budget),
            )
            return await cur.fetchone() is not None

    async def cursor(self, tenant_id: str, resource: str) -> Cursor:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT modified_at, ids, complete FROM xero_inbound_poll_cursors "
                "WHERE tenant_id = %s AND resource = %s",
                (tenant_id.lower(), resource),
            )
            row = await cur.fetchone()
        return Cursor(row[0], frozenset(row[1]), row[2]) if row else Cursor()

    async def save_cursor(self, tenant_id: str, resource: str, cursor: Cursor) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO xero_inbound_poll_cursors "
                "(tenant_id, resource, modified_at, ids, complete) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, resource) DO UPDATE SET "
                "modified_at = EXCLUDED.modified_at, ids = EXCLUDED.ids, "
                "complete = EXCLUDED.complete",
                (tenant_id.lower(), resource, cursor.at, sorted(cursor.ids), cursor.complete),
            )
