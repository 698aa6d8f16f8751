"""How each service process runs: uvicorn with our logging, and readiness of its worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from shared.http import database_ok
from shared.logging import configure_logging
from shared.settings import Settings


@dataclass
class Running:
    """A service's background worker (consumer loop), once its lifespan has started it."""

    worker: Any  # has ``kafka_ok``
    task: asyncio.Task[None]
    pool: AsyncConnectionPool


def worker_readiness(running: list[Running]) -> Callable[[], Awaitable[dict[str, bool]]]:
    async def ready() -> dict[str, bool]:
        if not running:
            return {"kafka": False, "database": False}
        r = running[0]
        return {
            "kafka": bool(r.worker.kafka_ok) and not r.task.done(),
            "database": await database_ok(r.pool),
        }

    return ready


def run_service(
    name: str,
    create_app: Callable[[Settings], FastAPI],
    host: str,
    port: int | None,
    default_port: Callable[[Settings], int],
) -> None:
    configure_logging(name)
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or default_port(settings),
        log_config=None,
        # Longer than the longest Xero call, so a writer finishes the call in hand.
        timeout_graceful_shutdown=30,
    )
