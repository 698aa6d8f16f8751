"""Xero token sets per company, encrypted at rest (Fernet; several keys for rotation).

Refresh tokens rotate on every refresh. The refresh runs under a row lock, so
two processes never spend the same refresh token, and the new pair is committed
before anyone uses it. If we crash after Xero answered but before the commit,
the previous refresh token stays valid for 30 minutes at Xero, and the next
refresh simply uses it again. This is the only place that decides when to refresh; the
refresher it is handed is ``shared.xero.client.XeroClient.refresh`` (tests pass their own).

A row's ``status`` is the connection's life as far as tokens go:
``pending_setup`` (Xero granted access, the company has not chosen where to
sync), ``connected``, ``needs_reconnect`` (Xero refused the refresh token, or no key of
``RX_TOKEN_KEYS`` opens the stored tokens any more; ``status_reason`` says which).
Disconnecting deletes the row. Every change of status records its fact in the
connection outbox (``shared.messaging.outbox``) in the same transaction.

Key rotation: ``RX_TOKEN_KEYS`` lists Fernet keys newest first; every key decrypts, the
newest encrypts. ``rotate()`` (``roger-xero rotate-keys``) re-encrypts every stored token
under the newest key, after which the older keys may be removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from shared.contracts import sync_status
from shared.db import ensure_schema
from shared.messaging import outbox as connection_outbox
from shared.messaging.outbox import OutboxRow
from shared.xero.errors import NeedsReconnect

__all__ = [
    "Access",
    "NeedsReconnect",
    "NotConnected",
    "Refresher",
    "Rotation",
    "Row",
    "TokenStore",
    "count_needing_reconnect",
]

DDL = """
CREATE TABLE IF NOT EXISTS xero_connections (
    company_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    token_ciphertext BYTEA NOT NULL,
    status TEXT NOT NULL DEFAULT 'connected',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE xero_connections ADD COLUMN IF NOT EXISTS refreshed_at TIMESTAMPTZ;
ALTER TABLE xero_connections ADD COLUMN IF NOT EXISTS status_reason TEXT;
"""

# Refresh this long before the access token expires, so a call never starts with a dead token.
REFRESH_MARGIN_S = 120

PENDING_SETUP = "pending_setup"
CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"

# Why a connection needs a person to connect again (status_reason and the fact's reason).
REFUSED_REFRESH = "Xero refused the refresh token"
UNREADABLE_TOKENS = (
    "the stored Xero tokens cannot be decrypted: the key that encrypted them is no longer "
    "in RX_TOKEN_KEYS"
)


class NotConnected(Exception):
    """The company has no usable Xero connection."""


@dataclass(frozen=True)
class Access:
    tenant_id: str
    access_token: str = field(repr=False)  # never in a log line or a traceback
    expires_at: float = field(default=0.0, repr=False)  # epoch seconds; 0: not known


def _access_of(tenant_id: str, token_set: dict[str, Any]) -> Access:
    return Access(tenant_id, token_set["access_token"], float(token_set.get("expires_at", 0)))


@dataclass(frozen=True)
class Row:
    """What may be read about a connection without decrypting anything."""

    tenant_id: str  # "" until an organisation is chosen
    status: str
    reason: str | None = None  # why it needs reconnecting (None otherwise)


@dataclass(frozen=True)
class Rotation:
    """What ``TokenStore.rotate`` did: tokens now under the newest key, and tokens no key
    opens (their connections marked ``needs_reconnect``; already marked ones not counted)."""

    rotated: int
    unreadable: int


Refresher = Callable[[str], Awaitable[dict[str, Any]]]
# More work for the same transaction (e.g. the connect flow's own tables).
Also = Callable[[AsyncConnection[Any]], Awaitable[None]]


async def _nothing(_: AsyncConnection[Any]) -> None:
    return None


async def count_needing_reconnect(pool: AsyncConnectionPool) -> int:
    """How many connections are ``needs_reconnect`` (0 before the table exists)."""
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM xero_connections WHERE status = %s", (NEEDS_RECONNECT,)
            )
            row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row is not None else 0


class TokenStore:
    def __init__(
        self, pool: AsyncConnectionPool, keys: list[str], *, keep_access: bool = False
    ) -> None:
        """``keep_access``: ``access`` keeps each access token it opened, in memory only, and
        hands it out again while the row still names the same organisation and status and
        holds the same sealed token set (one plain SELECT, no lock, no decrypt). The writer
        keeps them: a transaction, a row lock and a decrypt on every Xero call were 16% of its
        time (issue 14)."""
        self._pool = pool
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        self._keep_access = keep_access
        # company -> (access, the sealed token set it was opened from)
        self._kept: dict[str, tuple[Access, bytes]] = {}

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL + connection_outbox.DDL)

    def _seal(self, token_set: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(token_set).encode())

    def _open(self, ciphertext: bytes) -> dict[str, Any]:
        """Raises ``cryptography.fernet.InvalidToken`` when no key opens it."""
        return json.loads(self._fernet.decrypt(bytes(ciphertext)))  # type: ignore[no-any-return]

    async def put(
        self,
        company_id: str,
        tenant_id: str,
        token_set: dict[str, Any],
        *,
        status: str = CONNECTED,
        facts: tuple[OutboxRow, ...] = (),
        also: Also = _nothing,
    ) -> None:
        expires_at = token_set.get("expires_at") or time.time() + float(
            token_set.get("expires_in", 1800)
        )
        token_set = {**token_set, "expires_at": expires_at}
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO xero_connections "
                "(company_id, tenant_id, token_ciphertext, status, refreshed_at) "
                "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (company_id) DO UPDATE SET "
                "tenant_id = EXCLUDED.tenant_id, token_ciphertext = EXCLUDED.token_ciphertext, "
                "status = EXCLUDED.status, status_reason = NULL, refreshed_at = now(), "
                "updated_at = now()",
                (company_id, tenant_id, self._seal(token_set), status),
            )
            await connection_outbox.add(conn, *facts)
            await also(conn)

    async def status(self, company_id: str) -> str | None:
        row = await self.row(company_id)
        return row.status if row else None

    async def row(self, company_id: str) -> Row | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT tenant_id, status, status_reason FROM xero_connections "
                "WHERE company_id = %s",
                (company_id,),
            )
            found = await cur.fetchone()
        return Row(*found) if found else None

    async def choose(
        self,
        company_id: str,
        tenant_id: str,
        status: str,
        *facts: OutboxRow,
        also: Also = _nothing,
    ) -> bool:
        """Sets the organisation (and status) of a usable connection; False if there is none."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE xero_connections SET tenant_id = %s, status = %s, updated_at = now() "
                "WHERE company_id = %s AND status IN (%s, %s)",
                (tenant_id, status, company_id, PENDING_SETUP, CONNECTED),
            )
            if cur.rowcount != 1:
                return False
            await connection_outbox.add(conn, *facts)
            await also(conn)
        return True

    async def remove(
        self, company_id: str, *facts: OutboxRow, also: Also = _nothing
    ) -> dict[str, Any] | None:
        """Deletes the company's tokens; returns the last token set (to revoke it), if any
        (None too when no key opens it any more: there is nothing to revoke with)."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM xero_connections WHERE company_id = %s RETURNING token_ciphertext",
                (company_id,),
            )
            found = await cur.fetchone()
            await connection_outbox.add(conn, *facts)
            await also(conn)
        if found is None:
            return None
        try:
            return self._open(found[0])
        except InvalidToken:
            return None

    async def access(
        self,
        company_id: str,
        refresh: Refresher,
        *,
        force: bool = False,
        allow_pending: bool = False,
    ) -> Access:
        """A valid access token for the company's organisation, refreshing it if due.

        ``force`` refreshes even when the token looks valid (Xero answered 401), unless
        another process refreshed it while this one waited for the lock.
        ``allow_pending`` serves the connect flow before an organisation is chosen.
        """
        kept = None if force or allow_pending else self._kept.get(company_id)
        if kept is not None and kept[0].expires_at - time.time() >= REFRESH_MARGIN_S:
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT tenant_id, status, token_ciphertext FROM xero_connections "
                    "WHERE company_id = %s",
                    (company_id,),
                )
                found = await cur.fetchone()
            if found is not None and (found[0], found[1], bytes(found[2])) == (
                kept[0].tenant_id,
                CONNECTED,
                kept[1],
            ):
                return kept[0]
        self._kept.pop(company_id, None)
        access, sealed = await self._access(company_id, refresh, force, allow_pending)
        if self._keep_access and not allow_pending:
            self._kept[company_id] = (access, sealed)
        return access

    async def _access(
        self, company_id: str, refresh: Refresher, force: bool, allow_pending: bool
    ) -> tuple[Access, bytes]:
        """The access token, and the sealed token set the row holds when this ends."""
        refused: str | None = None
        async with self._pool.connection() as conn:
            async with conn.transaction():
                cur = await conn.execute("SELECT clock_timestamp()")
                asked_at = (await cur.fetchone())[0]  # type: ignore[index]
                cur = await conn.execute(
                    "SELECT tenant_id, token_ciphertext, status, refreshed_at, status_reason "
                    "FROM xero_connections WHERE company_id = %s FOR UPDATE",
                    (company_id,),
                )
                row = await cur.fetchone()
                usable = (CONNECTED, PENDING_SETUP) if allow_pending else (CONNECTED,)
                if row is not None and row[2] == NEEDS_RECONNECT:
                    raise NeedsReconnect(row[4] or REFUSED_REFRESH)
                if row is None or row[2] not in usable:
                    raise NotConnected(company_id)
                tenant_id, refreshed_at = row[0], row[3]
                try:
                    token_set = self._open(row[1])
                except InvalidToken:
                    # No retry can help (the key is gone): said once, then a person reconnects.
                    token_set, refused = None, UNREADABLE_TOKENS
                if token_set is not None:
                    due = float(token_set.get("expires_at", 0)) - time.time() < REFRESH_MARGIN_S
                    fresh_enough = refreshed_at is not None and refreshed_at >= asked_at
                    if not due and (not force or fresh_enough):
                        return _access_of(tenant_id, token_set), bytes(row[1])
                    try:
                        fresh = await refresh(token_set["refresh_token"])
                    except NeedsReconnect:
                        fresh, refused = None, REFUSED_REFRESH
                    if fresh is not None:
                        token_set = {
                            **fresh,
                            "expires_at": time.time() + float(fresh.get("expires_in", 1800)),
                        }
                        # Committed before the new token is handed out: Xero has already
                        # retired the old refresh token (after its grace period).
                        sealed = self._seal(token_set)
                        await conn.execute(
                            "UPDATE xero_connections SET token_ciphertext = %s, "
                            "refreshed_at = clock_timestamp(), updated_at = now() "
                            "WHERE company_id = %s",
                            (sealed, company_id),
                        )
                        return _access_of(tenant_id, token_set), sealed
                assert refused is not None
                # Still holding the row lock: the status and its fact commit together.
                await _mark_needs_reconnect(conn, company_id, tenant_id, refused)
        raise NeedsReconnect(refused)

    async def rotate(self) -> Rotation:
        """Re-encrypts every stored token set under the newest key of ``RX_TOKEN_KEYS``
        (``MultiFernet.rotate``), one row at a time under its row lock, so a refresh running
        meanwhile is neither lost nor undone. A token set no key opens any more marks its
        connection ``needs_reconnect`` with the reason (and its fact), as ``access`` would.
        Idempotent: run again, it re-encrypts under the same newest key."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT company_id FROM xero_connections WHERE status <> %s ORDER BY company_id",
                (NEEDS_RECONNECT,),
            )
            companies = [r[0] for r in await cur.fetchall()]
        rotated = unreadable = 0
        for company_id in companies:
            async with self._pool.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "SELECT tenant_id, token_ciphertext, status FROM xero_connections "
                    "WHERE company_id = %s FOR UPDATE",
                    (company_id,),
                )
                row = await cur.fetchone()
                if row is None or row[2] == NEEDS_RECONNECT:
                    continue  # disconnected or marked meanwhile
                try:
                    sealed = self._fernet.rotate(bytes(row[1]))
                except InvalidToken:
                    await _mark_needs_reconnect(conn, company_id, row[0], UNREADABLE_TOKENS)
                    unreadable += 1
                    continue
                await conn.execute(
                    "UPDATE xero_connections SET token_ciphertext = %s WHERE company_id = %s",
                    (sealed, company_id),
                )
                rotated += 1
        return Rotation(rotated=rotated, unreadable=unreadable)


async def _mark_needs_reconnect(
    conn: AsyncConnection[Any], company_id: str, tenant_id: str, reason: str
) -> None:
    """The connection needs a person to connect again: status, reason, fact and the
    ``roger.sync-status`` record for the company's admins together (the caller holds the row
    lock and commits). The record's id names this connection's life (when its row last
    changed before the loss), so each loss is told once."""
    cur = await conn.execute(
        "SELECT updated_at FROM xero_connections WHERE company_id = %s", (company_id,)
    )
    row = await cur.fetchone()
    episode = row[0].isoformat() if row is not None and row[0] is not None else ""
    told = sync_status.needs_reconnect(
        company_id, tenant_id, f"connect to Xero again: {reason}", episode, datetime.now(UTC)
    )
    await conn.execute(
        "UPDATE xero_connections SET status = %s, status_reason = %s, updated_at = now() "
        "WHERE company_id = %s",
        (NEEDS_RECONNECT, reason, company_id),
    )
    await connection_outbox.add(
        conn,
        connection_outbox.connection_fact(
            company_id,
            "XeroConnectionNeedsReconnect",
            {"tenant_id": tenant_id, "reason": reason},
        ),
        connection_outbox.status_row(told, "connect"),
    )
