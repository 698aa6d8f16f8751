"""The non-secret side of each company's connection: organisation, defaults, when it connected,
last synced and disconnected. Kept after a disconnect, so reconnecting can offer the same choices.

Writers take a connection so they run inside the token store's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.connections.setup_rules import Profile
from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS xero_connection_profiles (
    company_id TEXT PRIMARY KEY,
    tenant_id TEXT,
    organisation_name TEXT,
    base_currency TEXT,
    default_account_code TEXT,
    default_payment_account_code TEXT,
    connected_at TIMESTAMPTZ,
    last_sync_at TIMESTAMPTZ,
    disconnected_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

Conn = AsyncConnection[Any]


async def setup(pool: AsyncConnectionPool) -> None:
    await ensure_schema(pool, DDL)


async def get(pool: AsyncConnectionPool, company_id: str) -> Profile | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT tenant_id, organisation_name, base_currency, default_account_code, "
            "default_payment_account_code, connected_at, last_sync_at, disconnected_at "
            "FROM xero_connection_profiles WHERE company_id = %s",
            (company_id,),
        )
        row = await cur.fetchone()
    return Profile(**row) if row else None


async def authorized(conn: Conn, company_id: str) -> None:
    """A new grant: the company must choose (again) before it syncs."""
    await conn.execute(
        "INSERT INTO xero_connection_profiles (company_id) VALUES (%s) "
        "ON CONFLICT (company_id) DO UPDATE SET connected_at = NULL, disconnected_at = NULL, "
        "updated_at = now()",
        (company_id,),
    )


async def organisation_chosen(
    conn: Conn, company_id: str, tenant_id: str, name: str | None, currency: str | None
) -> None:
    await conn.execute(
        "UPDATE xero_connection_profiles SET tenant_id = %s, organisation_name = %s, "
        "base_currency = %s, updated_at = now() WHERE company_id = %s",
        (tenant_id, name, currency, company_id),
    )


async def finished(conn: Conn, company_id: str, expense_code: str, payment_code: str) -> None:
    await conn.execute(
        "UPDATE xero_connection_profiles SET default_account_code = %s, "
        "default_payment_account_code = %s, connected_at = now(), disconnected_at = NULL, "
        "updated_at = now() WHERE company_id = %s",
        (expense_code, payment_code, company_id),
    )


async def disconnected(conn: Conn, company_id: str) -> None:
    await conn.execute(
        "UPDATE xero_connection_profiles SET disconnected_at = now(), updated_at = now() "
        "WHERE company_id = %s",
        (company_id,),
    )


async def synced(pool: AsyncConnectionPool, company_id: str, at: datetime) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE xero_connection_profiles SET last_sync_at = GREATEST(last_sync_at, %s) "
            "WHERE company_id = %s",
            (at, company_id),
        )


async def history(pool: AsyncConnectionPool, company_id: str) -> list[dict[str, Any]]:
    """The connection's facts, oldest first, as they went (or go) to Kafka."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT kind, created_at, published_at FROM outbox "
            "WHERE company_id = %s AND origin = 'connect' AND topic <> 'roger.categories' "
            "ORDER BY seq",
            (company_id,),
        )
        rows = await cur.fetchall()
    return [
        {"type": kind, "at": at.isoformat(), "published": published is not None}
        for kind, at, published in rows
    ]
