"""Started connect flows (state → company, PKCE verifier, where to go after) in PostgreSQL.

Single use: the callback deletes the row it reads, in one statement, so a replayed
state finds nothing. The verifier is encrypted with the token keys; the state is
kept only as a hash.
"""

from __future__ import annotations

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
"""


class PendingStates:
    def __init__(self, pool: AsyncConnectionPool, fernet: MultiFernet, ttl_s: int) -> None:
        self._pool, self._fernet, self._ttl_s = pool, fernet, ttl_s

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    async def start(
        self, company_id: str, redirect_after: str, browser_key: str | None = None
    ) -> tuple[str, str]:
        """A new (state, verifier) bound to the company; expired rows are swept on the way."""
        state, verifier = new_state(), new_verifier()
        now = datetime.now(UTC)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM xero_oauth_states WHERE expires_at < %s", (now,))
            await conn.execute(
                "INSERT INTO xero_oauth_states (state_hash, company_id, verifier_ciphertext, "
                "redirect_after, browser_key, expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    state_key(state),
                    company_id,
                    self._fernet.encrypt(verifier.encode()),
                    redirect_after,
                    browser_key,
                    expiry(now, self._ttl_s),
                ),
            )
        return state, verifier

    async def take(self, state: str) -> PendingState | None:
        """The flow this state started, removed so it can never be used again."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM xero_oauth_states WHERE state_hash = %s RETURNING company_id, "
                "verifier_ciphertext, redirect_after, expires_at, browser_key",
                (state_key(state),),
            )
            row: Any = await cur.fetchone()
        if row is None:
            return None
        return PendingState(
            company_id=row[0],
            verifier=self._fernet.decrypt(bytes(row[1])).decode(),
            redirect_after=row[2],
            expires_at=row[3],
            browser_key=row[4],
        )
