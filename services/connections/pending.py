"""Started connect flows (state → company, PKCE verifier, where to go after) in PostgreSQL.

Single use: the callback deletes the row it reads, in one statement, so a replayed
state finds nothing. The verifier is encrypted with the token keys; the state is
kept only as a hash, and so is the browser binding (the SHA-256 of a cookie value).

Every flow ends bound to one browser: the setup page binds it when it starts it; a
flow started over the API is bound by the first visit of its launch link
(``claim``). The callback only takes a state presented with the same cookie.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import MultiFernet
from psycopg_pool import AsyncConnectionPool

from services.connections.oauth import PendingState, expiry, new_state, new_verifier, state_key
from shared.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS xero_oauth_states (
    state_hash TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    verifier_ciphertext BYTEA NOT NULL,
    redirect_after TEXT NOT NULL,
    browser_key TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
ALTER TABLE xero_oauth_states ADD COLUMN IF NOT EXISTS started_by TEXT NOT NULL DEFAULT 'api';
"""

_COLUMNS = "company_id, verifier_ciphertext, redirect_after, expires_at, browser_key, started_by"


@dataclass(frozen=True)
class Taken:
    """What ``take`` found: the flow (now removed), or why there is none for this browser."""

    pending: PendingState | None
    refusal: str | None  # "unknown" (never ours, used or swept) or "foreign" (another browser)


class PendingStates:
    def __init__(self, pool: AsyncConnectionPool, fernet: MultiFernet, ttl_s: int) -> None:
        self._pool, self._fernet, self._ttl_s = pool, fernet, ttl_s

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    async def start(
        self,
        company_id: str,
        redirect_after: str,
        browser_key: str | None = None,
        started_by: str = "api",
    ) -> tuple[str, str]:
        """A new (state, verifier) bound to the company; expired rows are swept on the way."""
        state, verifier = new_state(), new_verifier()
        now = datetime.now(UTC)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM xero_oauth_states WHERE expires_at < %s", (now,))
            await conn.execute(
                "INSERT INTO xero_oauth_states (state_hash, company_id, verifier_ciphertext, "
                "redirect_after, browser_key, started_by, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    state_key(state),
                    company_id,
                    self._fernet.encrypt(verifier.encode()),
                    redirect_after,
                    browser_key,
                    started_by,
                    expiry(now, self._ttl_s),
                ),
            )
        return state, verifier

    def _pending(self, row: Any) -> PendingState:
        return PendingState(
            company_id=row[0],
            verifier=self._fernet.decrypt(bytes(row[1])).decode(),
            redirect_after=row[2],
            expires_at=row[3],
            browser_key=row[4],
            started_by=row[5],
        )

    async def claim(self, state: str, browser_key: str | None) -> Taken:
        """Binds an unbound, unexpired flow to this browser (the launch link's first visit).

        A flow already bound to this same browser is returned as it is (a reload); one
        bound to another browser is ``foreign``; an unknown or expired one ``unknown``.
        """
        async with self._pool.connection() as conn:
            if browser_key is not None:
                cur = await conn.execute(
                    "UPDATE xero_oauth_states SET browser_key = %s WHERE state_hash = %s "
                    f"AND browser_key IS NULL AND expires_at > now() RETURNING {_COLUMNS}",
                    (browser_key, state_key(state)),
                )
                row: Any = await cur.fetchone()
                if row is not None:
                    return Taken(self._pending(row), None)
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM xero_oauth_states WHERE state_hash = %s "
                "AND expires_at > now()",
                (state_key(state),),
            )
            row = await cur.fetchone()
        if row is None:
            return Taken(None, "unknown")
        if browser_key is None or row[4] is None or not hmac.compare_digest(row[4], browser_key):
            return Taken(None, "foreign")
        return Taken(self._pending(row), None)

    async def take(self, state: str, browser_key: str | None) -> Taken:
        """The flow this state started, removed so it can never be used again, when this
        browser is the one bound to it. A foreign browser removes nothing: the person who
        started the flow can still finish it."""
        async with self._pool.connection() as conn:
            if browser_key is not None:
                cur = await conn.execute(
                    "DELETE FROM xero_oauth_states WHERE state_hash = %s AND browser_key = %s "
                    f"RETURNING {_COLUMNS}",
                    (state_key(state), browser_key),
                )
                row: Any = await cur.fetchone()
                if row is not None:
                    return Taken(self._pending(row), None)
            cur = await conn.execute(
                "SELECT company_id FROM xero_oauth_states WHERE state_hash = %s",
                (state_key(state),),
            )
            found = await cur.fetchone()
        return Taken(None, "foreign" if found is not None else "unknown")
