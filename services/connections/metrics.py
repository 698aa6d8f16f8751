"""The connect flow's gauges, set at each scrape (``shared.http.install_common``'s samplers)."""

from __future__ import annotations

from prometheus_client import Gauge
from psycopg_pool import AsyncConnectionPool

from shared.xero.token_store import count_needing_reconnect

NEEDS_RECONNECT = Gauge(
    "rx_connections_needs_reconnect",
    "connections whose company must connect to Xero again (alert RxNeedsReconnect)",
)


async def sample_needs_reconnect(pool: AsyncConnectionPool) -> None:
    NEEDS_RECONNECT.set(await count_needing_reconnect(pool))
