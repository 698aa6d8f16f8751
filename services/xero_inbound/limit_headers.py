"""The inbound side's httpx transport under the one Xero client (``shared.xero.client``):
adds the poller's ``If-Modified-Since`` to its reads and keeps, per organisation, what
Xero last said was left of its limits (``X-DayLimit-Remaining``, ``X-MinLimit-Remaining``:
on every Accounting API answer, docs/xero/xero-facts.md §3).

``XeroClient.call`` takes neither request headers nor hands back response headers, so both
travel here: the header through a context variable the poller sets around its call (httpx
runs the transport in the caller's task), the counts in ``latest`` keyed by the request's
``xero-tenant-id`` (lower case).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime

import httpx

from services.xero_inbound.polling import Remaining

IF_MODIFIED_SINCE: ContextVar[str | None] = ContextVar("rx_if_modified_since", default=None)


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


class LimitHeaders(httpx.AsyncBaseTransport):
    """Wraps ``inner`` (None: the network)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self.latest: dict[str, Remaining] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        since = IF_MODIFIED_SINCE.get()
        if since is not None:
            request.headers["If-Modified-Since"] = since
        response = await self._inner.handle_async_request(request)
        tenant = request.headers.get("xero-tenant-id")
        day = _count(response.headers.get("X-DayLimit-Remaining"))
        minute = _count(response.headers.get("X-MinLimit-Remaining"))
        if tenant and (day is not None or minute is not None):
            self.latest[tenant.lower()] = Remaining(day, minute, datetime.now(UTC))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
