"""How each service process runs: uvicorn with our logging, and readiness of its worker."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from shared.http import database_ok
from shared.logging import configure_logging, get_logger
from shared.settings import ServiceSettings, SettingsRefused, load_settings

S = TypeVar("S", bound=ServiceSettings)
log = get_logger("service")


class Worker(Protocol):
    """A service's background worker: a consumer loop, or what owns one."""

    @property
    def kafka_ok(self) -> bool: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Running:
    """A service's background worker, once its lifespan has started it."""

    worker: Worker
    task: asyncio.Task[None]
    pool: AsyncConnectionPool


@asynccontextmanager
async def running_worker(
    worker: Worker,
    name: str,
    pool: AsyncConnectionPool,
    running: list[Running] | None = None,
    closing: Sequence[Callable[[], Awaitable[object]]] = (),
) -> AsyncIterator[Running]:
    """Runs ``worker.run()`` as a task for the duration of the block (a lifespan's body); on
    exit asks it to stop, waits until it has (graceful shutdown), then awaits each of
    ``closing`` in order (clients, then the pool), even if stopping failed. Appends it to
    ``running`` (for ``worker_readiness``) while it runs."""
    entry = Running(worker, asyncio.create_task(worker.run(), name=name), pool)
    if running is not None:
        running.append(entry)
    log.info("worker_started", worker=name)
    try:
        yield entry
    finally:
        try:
            worker.stop()
            await entry.task
            if running is not None:
                running.remove(entry)
            log.info("worker_stopped", worker=name)
        finally:
            for close in closing:
                await close()


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
    also: Sequence[type[ServiceSettings]] = (),
) -> None:
    """Runs one service under uvicorn with its own settings class (and ``also``, the classes
    the same process reads later, checked now).

    Exits with status 2 and clear lines (no traceback, no value: it may be a secret) naming
    every refused variable at once, e.g. development secrets outside development
    (``shared.settings``).
    """
    # RX_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR): read before the settings, so that a refusal
    # of the settings is logged at the level asked for too.
    configure_logging(name, os.environ.get("RX_LOG_LEVEL", "INFO").upper())
    try:
        settings = load_settings(settings_class, *also)
        app = create_app(settings)
    except SettingsRefused as exc:
        sys.stderr.write(f"{name}: cannot start:\n{exc}\n")
        raise SystemExit(2) from None
    uvicorn.run(
        app,
        host=host,
        port=port or default_port(settings),
        log_config=None,
        # Named, not "auto": a missing uvloop then fails at start instead of running slower.
        loop="uvloop",
        # h11, not httptools: h11 refuses a request whose line and headers pass 16 KiB (400);
        # httptools has no such bound, so one caller could make ingest buffer and re-copy
        # megabytes of headers before the signature is even checked.
        http="h11",
        # Longer than the longest Xero call, so a writer finishes the call in hand.
        timeout_graceful_shutdown=30,
    )
