"""Polling, the safety net for lost webhooks: every ``RX_INBOUND_POLL_INTERVAL_S`` each
connected organisation's bills (Invoices, Type ACCPAY), bill credit notes, payments and
contacts changed since the last read (``If-Modified-Since``, pages of 100) become the same
notifications a webhook brings, on ``rx.xero-notifications.v1`` (key: tenant id), so one
worker compares them (``routes.Inbound.on_notification``): one path, in order per tenant.

Budget (``polling.may_call``, counted in ``poll_store``): at most
``floor(RX_INBOUND_POLL_BUDGET_SHARE x RX_XERO_CALLS_PER_DAY)`` calls per tenant per
UTC day (10% of 5,000 by default), and none while Xero's last ``X-DayLimit-Remaining`` /
``X-MinLimit-Remaining`` for the organisation is under its reserve: the writer comes first.
A poll cut short keeps its cursor where it got to and goes on from there next time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.xero_inbound.notifications import XeroEvent
from services.xero_inbound.poll_store import PollStore
from services.xero_inbound.polling import (
    DAY_BACKOFF_S,
    PAGE_SIZE,
    RESOURCES,
    Decision,
    Remaining,
    Resource,
    Rules,
    advance,
    day_budget,
    fresh,
    if_modified_since,
    may_call,
    next_page,
    notifications,
    utc_day,
)
from services.xero_inbound.store import InboundStore
from shared.logging import get_logger
from shared.settings import InboundSettings
from shared.xero.client import XeroClient
from shared.xero.errors import RateLimited, Refused, XeroError
from shared.xero.token_store import NotConnected, TokenStore

log = get_logger("xero_inbound.poller")

Publish = Callable[[list[XeroEvent]], Awaitable[None]]
Clock = Callable[[], datetime]
# How often the loop looks for due tenants (seconds); a tenant is polled once per interval.
_TICK_S = 1.0


def rules_of(settings: InboundSettings) -> Rules:
    """The poller's budget and the writer's reserves, from the settings."""
    return Rules(
        budget=day_budget(settings.xero_calls_per_day, settings.inbound_poll_budget_share),
        day_reserve=settings.inbound_poll_day_reserve,
        minute_reserve=settings.inbound_poll_minute_reserve,
        day_backoff_s=DAY_BACKOFF_S,
    )


class _Stop(Exception):
    """The poll of one tenant ends here (``decision`` says why and until when)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


class Poller:
    def __init__(
        self,
        settings: InboundSettings,
        store: PollStore,
        inbound: InboundStore,
        tokens: TokenStore,
        xero: XeroClient,
        publish: Publish,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.store, self.inbound = settings, store, inbound
        self.tokens, self.xero = tokens, xero
        self.publish, self.clock = publish, clock
        self.rules = rules_of(settings)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Polls due tenants until ``stop``; a failed round is logged and the next one runs."""
        interval = self.settings.inbound_poll_interval_s
        log.info("poller_started", interval_s=interval, day_budget=self.rules.budget)
        while not self._stopping.is_set():
            try:
                await self.round()
            except Exception as exc:  # noqa: BLE001 - the safety net must keep running
                log.warning("poll_round_failed", error=type(exc).__name__, detail=str(exc)[:200])
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=min(_TICK_S, interval))
            except TimeoutError:
                pass

    async def round(self) -> None:
        """Polls due tenants, each claimed just before its poll and each once a round (one
        put off to a moment already past waits for the next round), until none is due."""
        polled: list[str] = []
        while not self._stopping.is_set():
            tenant_id = await self.store.claim_next(
                self.clock(), self.settings.inbound_poll_interval_s, polled
            )
            if tenant_id is None:
                return
            polled.append(tenant_id)
            await self.poll(tenant_id)

    async def poll(self, tenant_id: str) -> str:
        """One poll of one tenant (already claimed); returns how it ended."""
        companies = await self.inbound.companies(tenant_id)
        if not companies:
            return "not_connected"
        try:
            access = await self.tokens.access(companies[0], self.xero.refresh)
            fed: set[str] = set()
            for resource in RESOURCES:
                await self._read(tenant_id, access.access_token, resource, fed)
        except _Stop as stop:
            decision = stop.decision
            log.info(
                "poll_put_off",
                tenant_id=tenant_id,
                reason=decision.reason,
                until=decision.retry_at.isoformat() if decision.retry_at else None,
            )
            await self.store.finish(tenant_id, decision.reason, self.clock(), decision.retry_at)
            return decision.reason
        except (NotConnected, XeroError) as exc:
            # Needs reconnecting, forbidden, Xero down: the next interval tries again.
            log.info("poll_failed", tenant_id=tenant_id, error=type(exc).__name__)
            await self.store.finish(tenant_id, "failed", self.clock())
            return "failed"
        await self.store.finish(tenant_id, "polled", self.clock())
        return "polled"

    async def _read(
        self, tenant_id: str, access_token: str, resource: Resource, fed: set[str]
    ) -> None:
        cursor = await self.store.cursor(tenant_id, resource.name)
        since = if_modified_since(cursor)
        page = 1
        while True:
            await self._take_call(tenant_id)
            try:
                body = await self.xero.call(
                    "GET",
                    f"/{resource.name}",
                    tenant_id=tenant_id,
                    access_token=access_token,
                    params={
                        **resource.params,
                        "page": str(page),
                        "order": "UpdatedDateUTC ASC",
                        "unitdp": "4",
                    },
                    if_modified_since=since,
                )
            except RateLimited as limited:
                until = self.clock() + timedelta(seconds=limited.retry_after_s)
                raise _Stop(Decision(False, "rate_limited", until)) from limited
            except Refused as refused:
                if refused.status != 304:  # 304: nothing changed since
                    raise
                body = {}
            finally:
                await self._note_remaining(tenant_id)
            items = list(body.get(resource.name) or [])
            new = fresh(resource, items, cursor)
            events = notifications(resource, new, tenant_id, fed)
            if events:
                await self.publish(events)
            cursor = advance(cursor, resource, items)
            if len(items) < PAGE_SIZE:
                await self.store.save_cursor(
                    tenant_id, resource.name, replace(cursor, complete=True)
                )
                return
            await self.store.save_cursor(tenant_id, resource.name, cursor)
            since, page = next_page(since, page, bool(new), cursor)

    async def _take_call(self, tenant_id: str) -> None:
        """Raises ``_Stop`` unless one more call is allowed now (and counts it)."""
        now = self.clock()
        day = utc_day(now)
        remaining = self.xero.remaining.get(tenant_id.lower()) or await self.store.remaining(
            tenant_id
        )
        decision = may_call(now, await self.store.calls(tenant_id, day), remaining, self.rules)
        if not decision.go:
            raise _Stop(decision)
        if not await self.store.take_call(tenant_id, day, self.rules.budget):
            raise _Stop(may_call(now, self.rules.budget, Remaining(), self.rules))

    async def _note_remaining(self, tenant_id: str) -> None:
        seen = self.xero.remaining.get(tenant_id.lower())
        if seen is not None:
            await self.store.record_remaining(tenant_id, seen)
