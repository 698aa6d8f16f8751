"""PostgreSQL access for the services' own small tables (psycopg 3, async pool)."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def open_pool(dsn: str, *, min_size: int = 1, max_size: int = 8) -> AsyncConnectionPool:
    """An open pool whose connections are checked as they are handed out: one PostgreSQL
    closed (a restart, a failover, ``pg_terminate_backend``) is replaced instead of failing
    the request that drew it (psycopg_pool's ``check_connection``)."""
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=15,
        check=AsyncConnectionPool.check_connection,
    )
    await pool.open(wait=True)
    return pool


async def ensure_schema(pool: AsyncConnectionPool, ddl: str) -> None:
    async with pool.connection() as conn:
        # Several processes may start at once; the advisory lock keeps DDL one at a time.
        await conn.execute("SELECT pg_advisory_xact_lock(7261)")
        await conn.execute(ddl)
