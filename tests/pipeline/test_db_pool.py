"""The services' connection pool on the real PostgreSQL: connections PostgreSQL closed are
replaced, not handed out, and a connection just used is handed out without a round trip."""

from __future__ import annotations

import psycopg
import pytest

from shared import db
from shared.db import open_pool


async def test_a_connection_postgresql_closed_is_replaced(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "RECENT_S", 0.0)  # as if idle past it: no waiting in a test
    pool = await open_pool(fresh_database, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid()")
            row = await cur.fetchone()
            assert row is not None
            first = row[0]
        with psycopg.connect(fresh_database, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        async with pool.connection() as conn:  # would raise if the dead one were handed out
            cur = await conn.execute("SELECT pg_backend_pid()")
            row = await cur.fetchone()
            assert row is not None and row[0] != first
    finally:
        await pool.close()


async def test_a_connection_just_returned_is_not_checked(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[object] = []

    async def counted(conn: object) -> None:
        checks.append(conn)

    pool = await open_pool(fresh_database, min_size=1, max_size=1)
    monkeypatch.setattr(db.AsyncConnectionPool, "check_connection", staticmethod(counted))
    try:
        for _ in range(5):
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
        assert len(checks) <= 1  # at most the first draw, before any return
    finally:
        await pool.close()
