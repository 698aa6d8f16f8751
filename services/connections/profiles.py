"""The non-secret side of each company's connection: organisation, defaults, when it connected,
last synced and disconnected. Kept after a disconnect, so reconnecting can offer the same choices.

Writers take a connection so they run inside the token store's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
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
-- The consent that granted the current tokens (Xero's authentication_event_id and the Xero
-- user), and the connection version that setup links are bound to (bumped at every new
-- grant and at disconnect, so older links die).
ALTER TABLE xero_connection_profiles ADD COLUMN IF NOT EXISTS auth_event_id TEXT;
ALTER TABLE xero_connection_profiles ADD COLUMN IF NOT EXISTS xero_user_id TEXT;
ALTER TABLE xero_connection_profiles ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
-- What happens to a document dated on or before the organisation's lock date (chosen at
-- setup: ConnectionData.lock_date_policy).
ALTER TABLE xero_connection_profiles
    ADD COLUMN IF NOT EXISTS lock_date_policy TEXT NOT NULL DEFAULT 'fail';
-- The status new bills and credit notes get in Xero (chosen at setup:
-- ConnectionData.bill_status).
ALTER TABLE xero_connection_profiles
    ADD COLUMN IF NOT EXISTS bill_status TEXT NOT NULL DEFAULT 'AUTHORISED';
-- Xero's X-DayLimit-Remaining as the writer last heard it (XeroResult.day_calls_remaining),
-- and when: the integration page's day budget.
ALTER TABLE xero_connection_profiles ADD COLUMN IF NOT EXISTS day_calls_remaining INTEGER;
ALTER TABLE xero_connection_profiles ADD COLUMN IF NOT EXISTS day_calls_seen_at TIMESTAMPTZ;
"""

Conn = AsyncConnection[Any]


async def setup(pool: AsyncConnectionPool) -> None:
    await ensure_schema(pool, DDL)


async def get(pool: AsyncConnectionPool, company_id: str) -> Profile | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT tenant_id, organisation_name, base_currency, default_account_code, "
            "default_payment_account_code, connected_at, last_sync_at, disconnected_at, "
            "lock_date_policy, bill_status, day_calls_remaining, day_calls_seen_at "
            "FROM xero_connection_profiles WHERE company_id = %s",
            (company_id,),
        )
        row = await cur.fetchone()
    return Profile(**row) if row else None


async def authorized(
    conn: Conn,
    company_id: str,
    auth_event_id: str | None,
    xero_user_id: str | None,
    *,
    kept: bool = False,
) -> None:
    """A new grant. Unless ``kept`` (the same organisation authorised again, its defaults
    still valid), the company must choose (again) before it syncs. Older setup links die."""
    connected = "now()" if kept else "NULL"
    await conn.execute(
        "INSERT INTO xero_connection_profiles (company_id, auth_event_id, xero_user_id, version) "
        "VALUES (%s, %s, %s, 1) ON CONFLICT (company_id) DO UPDATE SET "
        f"connected_at = {connected}, disconnected_at = NULL, "
        "auth_event_id = EXCLUDED.auth_event_id, xero_user_id = EXCLUDED.xero_user_id, "
        "version = xero_connection_profiles.version + 1, updated_at = now()",
        (company_id, auth_event_id, xero_user_id),
    )


async def version(pool: AsyncConnectionPool, company_id: str) -> int:
    """The connection version setup links are bound to; 0 before any connection."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT version FROM xero_connection_profiles WHERE company_id = %s", (company_id,)
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def consent(pool: AsyncConnectionPool, company_id: str) -> tuple[str | None, str | None]:
    """(authEventId, Xero user id) of the consent behind the company's current tokens."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT auth_event_id, xero_user_id FROM xero_connection_profiles "
            "WHERE company_id = %s",
            (company_id,),
        )
        row = await cur.fetchone()
    return (row[0], row[1]) if row else (None, None)


async def sharing_user(
    pool: AsyncConnectionPool, company_id: str, xero_user_id: str
) -> list[tuple[str, str]]:
    """Other companies holding tokens of the same Xero user: (company_id, tenant_id)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT p.company_id, c.tenant_id FROM xero_connection_profiles p "
            "JOIN xero_connections c ON c.company_id = p.company_id "
            "WHERE p.xero_user_id = %s AND p.company_id <> %s",
            (xero_user_id, company_id),
        )
        rows = await cur.fetchall()
    return [(r[0], r[1]) for r in rows]


async def organisation_chosen(
    conn: Conn, company_id: str, tenant_id: str, name: str | None, currency: str | None
) -> None:
    await conn.execute(
        "UPDATE xero_connection_profiles SET tenant_id = %s, organisation_name = %s, "
        "base_currency = %s, updated_at = now() WHERE company_id = %s",
        (tenant_id, name, currency, company_id),
    )


async def finished(
    conn: Conn,
    company_id: str,
    expense_code: str,
    payment_code: str,
    lock_date_policy: str = "fail",
    bill_status: str = "AUTHORISED",
) -> None:
    await conn.execute(
        "UPDATE xero_connection_profiles SET default_account_code = %s, "
        "default_payment_account_code = %s, lock_date_policy = %s, bill_status = %s, "
        "connected_at = now(), disconnected_at = NULL, updated_at = now() "
        "WHERE company_id = %s",
        (expense_code, payment_code, lock_date_policy, bill_status, company_id),
    )


async def disconnected(conn: Conn, company_id: str) -> int:
    """Marks the company disconnected; returns the new connection version (older links die)."""
    cur = await conn.execute(
        "INSERT INTO xero_connection_profiles (company_id, disconnected_at, version) "
        "VALUES (%s, now(), 1) ON CONFLICT (company_id) DO UPDATE SET disconnected_at = now(), "
        "auth_event_id = NULL, version = xero_connection_profiles.version + 1, "
        "updated_at = now() RETURNING version",
        (company_id,),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def results_heard(
    pool: AsyncConnectionPool,
    synced: Iterable[tuple[str, datetime]],
    budgets: Iterable[tuple[str, int, datetime]],
) -> None:
    """What a run of Xero's answers tells, in one transaction: each company's last sync
    (``(company_id, at)``: the latest is kept) and Xero's calls left today for its
    organisation (``(company_id, remaining, at)``: kept unless a later word is kept already;
    results may come again, or out of order across partitions)."""
    synced, budgets = list(synced), list(budgets)
    if not synced and not budgets:
        return
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor() as cur:
            if synced:
                await cur.executemany(
                    "UPDATE xero_connection_profiles "
                    "SET last_sync_at = GREATEST(last_sync_at, %s) WHERE company_id = %s",
                    [(at, company_id) for company_id, at in synced],
                )
            if budgets:
                await cur.executemany(
                    "UPDATE xero_connection_profiles SET day_calls_remaining = %s, "
                    "day_calls_seen_at = %s WHERE company_id = %s "
                    "AND (day_calls_seen_at IS NULL OR day_calls_seen_at < %s)",
                    [(left, at, company_id, at) for company_id, left, at in budgets],
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
