"""Calls to one organisation with one company's token, under that organisation's limiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from services.xero_writer.limits import Limiter
from shared.xero.client import XeroClient
from shared.xero.token_store import Access

CALLS = Counter("rx_writer_xero_calls_total", "calls to Xero", ["outcome"])


@dataclass
class OrgSession:
    """The writer's ``Call`` (services/xero_writer/outcomes.py) bound to a tenant and token.

    ``call`` waits for the limiter's turn (5 at once, 60 a minute, 5,000 a day per
    organisation, 10,000 a minute per app; across writer instances) and raises what
    ``XeroClient.call`` raises; ``pause`` holds every call to the organisation for
    ``seconds`` (Xero's Retry-After).
    """

    xero: XeroClient
    limiter: Limiter
    access: Access

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        async with self.limiter.call():
            try:
                answer = await self.xero.call(
                    method,
                    path,
                    tenant_id=self.access.tenant_id,
                    access_token=self.access.access_token,
                    **kw,
                )
            except Exception as exc:
                CALLS.labels(type(exc).__name__).inc()
                raise
            CALLS.labels("ok").inc()
            return answer

    def pause(self, seconds: float) -> None:
        self.limiter.pause(seconds)

    def day_budget_wait(self) -> float:
        """Seconds until the organisation's day budget allows calls again (0: not spent)."""
        return self.limiter.day_wait()
