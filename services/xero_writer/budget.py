"""The organisation's day budget of Xero calls is spent: Roger is told on
``roger.sync-status`` (``budget.day_spent``) so it can notify the company's admins.

Told when Xero answers 429 with ``X-Rate-Limit-Problem: day`` (its Retry-After says when
calls go again), or when the writer's own day limiter (``limits.OrgLimiter``) holds the
organisation's calls. The record goes into the shared outbox (``shared.messaging.outbox``),
which the outbox relays publish; its id names the company, organisation and UTC day, so
however many commands meet the spent budget that day, and however many writer instances,
it is told once a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from shared.contracts.sync_status import day_budget_spent
from shared.db import ensure_schema
from shared.logging import get_logger
from shared.messaging import outbox

log = get_logger("xero_writer.budget")


class DayBudgetNotices:
    """``Policy``'s ``day_spent``: (company_id, tenant_id, seconds until calls go again)."""

    def __init__(self, pool: Callable[[], AsyncConnectionPool]) -> None:
        self._pool, self._ready = pool, False  # the writer's database, when first needed

    async def __call__(self, company_id: str, tenant_id: str, wait_s: float) -> None:
        if not self._ready:  # the outbox table, in case the writer is the first to start
            await ensure_schema(self._pool(), outbox.DDL)
            self._ready = True
        at = datetime.now(UTC)
        told = day_budget_spent(
            company_id, tenant_id, at.date(), at + timedelta(seconds=wait_s), at
        )
        async with self._pool().connection() as conn, conn.transaction():
            await outbox.add(conn, outbox.status_row(told, "writer"))
        log.warning("day_budget_spent", company_id=company_id, tenant_id=tenant_id, wait_s=wait_s)
