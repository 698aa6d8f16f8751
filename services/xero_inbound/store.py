"""What xero_inbound remembers (PostgreSQL): each document as we last saw it in Xero, our
writer's latest result per Xero document (a bill's status and total; a payment it deleted:
status ``DELETED``), and which companies a tenant is connected to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.xero_inbound.sync_back import OurWrite
from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS xero_inbound_seen (
    tenant_id TEXT NOT NULL,
    xero_id TEXT NOT NULL,
    category TEXT NOT NULL,
    view JSONB NOT NULL,
    looked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, xero_id)
);
CREATE TABLE IF NOT EXISTS xero_inbound_our_writes (
    xero_id TEXT PRIMARY KEY,
    status TEXT,
    total NUMERIC,
    recorded_at TIMESTAMPTZ NOT NULL
);
"""


class InboundStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def setup(self) -> None:
        await ensure_schema(self.pool, DDL)

    async def companies(self, tenant_id: str) -> list[str]:
        """Companies connected to the tenant (the token store's table; read only)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT company_id FROM xero_connections WHERE lower(tenant_id) = lower(%s) "
                "AND status = 'connected' ORDER BY company_id",
                (tenant_id,),
            )
            return [row[0] for row in await cur.fetchall()]

    async def seen(self, tenant_id: str, xero_id: str) -> tuple[dict[str, Any], datetime] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT view, looked_at FROM xero_inbound_seen WHERE tenant_id = %s "
                "AND xero_id = %s",
                (tenant_id, xero_id),
            )
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def remember(
        self, tenant_id: str, xero_id: str, category: str, view: dict[str, Any]
    ) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO xero_inbound_seen (tenant_id, xero_id, category, view, looked_at) "
                "VALUES (%s, %s, %s, %s, clock_timestamp()) ON CONFLICT (tenant_id, xero_id) "
                "DO UPDATE SET view = EXCLUDED.view, looked_at = EXCLUDED.looked_at",
                (tenant_id, xero_id, category, Jsonb(view)),
            )

    async def our_write(self, xero_id: str) -> OurWrite | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT status, total, recorded_at FROM xero_inbound_our_writes WHERE xero_id = %s",
                (xero_id,),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        return OurWrite(status=row[0], total=row[1], recorded_at=row[2])

    async def deleted_by_us(self, payment_ids: list[str]) -> frozenset[str]:
        """Which of these payments our writer deleted (its ``XeroPaymentDeleted`` results)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT xero_id FROM xero_inbound_our_writes WHERE xero_id = ANY(%s) "
                "AND status = 'DELETED'",
                (payment_ids,),
            )
            return frozenset(row[0] for row in await cur.fetchall())

    async def record_writes(
        self, writes: Iterable[tuple[str, str | None, Decimal | None, datetime]]
    ) -> None:
        """Keeps the latest result per document, ``(xero_id, status, total, recorded_at)``
        (results may come again: replays), all of them in one statement."""
        latest: dict[str, tuple[str | None, Decimal | None, datetime]] = {}
        for xero_id, status, total, at in writes:
            kept = latest.get(xero_id)
            if kept is None or kept[2] <= at:
                latest[xero_id] = (status, total, at)
        if not latest:
            return
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO xero_inbound_our_writes (xero_id, status, total, recorded_at) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::timestamptz[]) "
                "ON CONFLICT (xero_id) DO UPDATE SET "
                "status = EXCLUDED.status, total = EXCLUDED.total, "
                "recorded_at = EXCLUDED.recorded_at "
                "WHERE xero_inbound_our_writes.recorded_at <= EXCLUDED.recorded_at",
                (
                    list(latest),
                    [w[0] for w in latest.values()],
                    [w[1] for w in latest.values()],
                    [w[2] for w in latest.values()],
                ),
            )
