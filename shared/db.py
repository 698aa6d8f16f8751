"""PostgreSQL access for the services' own small tables (psycopg 3, async pool)."""

from __future__ import annotations

import time

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# A connection handed back less than this ago is handed out again without a round trip.
# PostgreSQL going away (a restart, a failover, ``pg_terminate_backend`` of idle sessions)
# takes longer than this to come back, so the connections left from before it are idle past
# it and checked; a connection that broke while in use is marked broken and not kept.
# Issue 14: a check per use was a round trip per statement, a tenth of the writer's time.
RECENT_S = 1.0
_RETURNED = "_rx_returned_at"


async def _mark_returned(conn: AsyncConnection) -> None:
    setattr(conn, _RETURNED, time.monotonic())


async def _check(conn: AsyncConnection) -> None:
    if conn.broken or conn.closed:
        raise ConnectionError("connection closed")
    if time.monotonic() - getattr(conn, _RETURNED, 0.0) >= RECENT_S:
        await AsyncConnectionPool.check_connection(conn)


async def open_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 8, autocommit: bool = False
) -> AsyncConnectionPool:
    """An open pool whose connections are checked as they are handed out (psycopg_pool's
    ``check_connection``, unless used within :data:`RECENT_S`): one PostgreSQL closed is
    replaced instead of failing the request that drew it.

    ``autocommit``: each statement is its own transaction, so a use of one statement costs
    one round trip, not two (its COMMIT); statements that belong together must then be in
    ``conn.transaction()``. For a pool whose every use is audited for it (the writer's).
    """
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=15,
        check=_check,
        reset=_mark_returned,
        kwargs={"autocommit": autocommit},
    )
    await pool.open(wait=True)
    return pool


async def ensure_schema(pool: AsyncConnectionPool, ddl: str) -> None:
    async with pool.connection() as conn, conn.transaction():
        # Several processes may start at once; the advisory lock keeps DDL one at a time.
        await conn.execute("SELECT pg_advisory_xact_lock(7261)")
        await conn.execute(ddl)
