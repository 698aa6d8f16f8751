"""How each service process runs: uvicorn with our logging, and readiness of its worker."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from shared.http import database_ok
from shared.logging import configure_logging
from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


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
    create_app: Callable[[S], FastAPI],
    host: str,
    port: int | None,
    default_port: Callable[[S], int],
    settings_class: type[S],
) -> None:
    """Runs one service under uvicorn with its own settings class.

    Exits with status 2 and one clear line (no traceback) when the settings are refused,
    e.g. development secrets outside development (``shared.settings``).
    """
    configure_logging(name)
    try:
        settings = settings_class()
        app = create_app(settings)
    except ValidationError as exc:
        sys.stderr.write(f"{name}: cannot start: {exc}\n")
        raise SystemExit(2) from None
    uvicorn.run(
        app,
        host=host,
        port=port or default_port(settings),
        log_config=None,
        # Longer than the longest Xero call, so a writer finishes the call in hand.
        timeout_graceful_shutdown=30,
    )
