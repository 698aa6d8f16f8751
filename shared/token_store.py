"""Xero token sets per company, encrypted at rest (Fernet; several keys for rotation).

Refresh tokens rotate on every refresh. The refresh runs under a row lock, so
two processes never spend the same refresh token, and the new pair is committed
before anyone uses it. If we crash after Xero answered but before the commit,
the previous refresh token stays valid for 30 minutes at Xero, and the next
refresh simply uses it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from psycopg_pool import AsyncConnectionPool

from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS xero_connections (
    company_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    token_ciphertext BYTEA NOT NULL,
    status TEXT NOT NULL DEFAULT 'connected',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

# Refresh this long before the access token expires, so a call never starts with a dead token.
REFRESH_MARGIN_S = 120


class NeedsReconnect(Exception):
    """Xero refused the refresh token (invalid_grant): a person must connect again."""


class NotConnected(Exception):
    """The company has no usable Xero connection."""


@dataclass(frozen=True)
class Access:
    tenant_id: str
    access_token: str


Refresher = Callable[[str], Awaitable[dict[str, Any]]]


class TokenStore:
    def __init__(self, pool: AsyncConnectionPool, keys: list[str]) -> None:
        self._pool = pool
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    def _seal(self, token_set: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(token_set).encode())

    def _open(self, ciphertext: bytes) -> dict[str, Any]:
        return json.loads(self._fernet.decrypt(bytes(ciphertext)))  # type: ignore[no-any-return]

    async def put(self, company_id: str, tenant_id: str, token_set: dict[str, Any]) -> None:
        expires_at = token_set.get("expires_at") or time.time() + float(
            token_set.get("expires_in", 1800)
        )
        token_set = {**token_set, "expires_at": expires_at}
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO xero_connections (company_id, tenant_id, token_ciphertext, status) "
                "VALUES (%s, %s, %s, 'connected') ON CONFLICT (company_id) DO UPDATE SET "
                "tenant_id = EXCLUDED.tenant_id, token_ciphertext = EXCLUDED.token_ciphertext, "
                "status = 'connected', updated_at = now()",
                (company_id, tenant_id, self._seal(token_set)),
            )

    async def status(self, company_id: str) -> str | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT status FROM xero_connections WHERE company_id = %s", (company_id,)
            )
            row = await cur.fetchone()
        return row[0] if row else None

    async def access(self, company_id: str, refresh: Refresher, *, force: bool = False) -> Access:
        """A valid access token for the company's organisation, refreshing it if due."""
        async with self._pool.connection() as conn:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT tenant_id, token_ciphertext, status FROM xero_connections "
                    "WHERE company_id = %s FOR UPDATE",
                    (company_id,),
                )
                row = await cur.fetchone()
                if row is None or row[2] == "disconnected":
                    raise NotConnected(company_id)
                if row[2] == "needs_reconnect":
                    raise NeedsReconnect(company_id)
                tenant_id, token_set = row[0], self._open(row[1])
                due = float(token_set.get("expires_at", 0)) - time.time() < REFRESH_MARGIN_S
                if not (force or due):
                    return Access(tenant_id=tenant_id, access_token=token_set["access_token"])
                try:
                    fresh = await refresh(token_set["refresh_token"])
                except NeedsReconnect:
                    fresh = None
                if fresh is not None:
                    token_set = {
                        **fresh,
                        "expires_at": time.time() + float(fresh.get("expires_in", 1800)),
                    }
                    await conn.execute(
                        "UPDATE xero_connections SET token_ciphertext = %s, updated_at = now() "
                        "WHERE company_id = %s",
                        (self._seal(token_set), company_id),
                    )
                    return Access(tenant_id=tenant_id, access_token=token_set["access_token"])
            # Outside the row's transaction, so the status sticks.
            await conn.execute(
                "UPDATE xero_connections SET status = 'needs_reconnect', updated_at = now() "
                "WHERE company_id = %s",
                (company_id,),
            )
        raise NeedsReconnect(company_id)
