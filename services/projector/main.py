"""Entry point: ``roger-xero projector`` (consumer, outbox relay and read API in one process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from services.projector.api import read_router
from services.projector.application import SyncApplication
from services.projector.consumer import Projector
from shared.db import open_pool
from shared.http import database_ok, install_common
from shared.logging import configure_logging, get_logger
from shared.settings import Settings

log = get_logger("projector")


@dataclass
class _Running:
    projector: Projector
    task: asyncio.Task[None]
    pool: AsyncConnectionPool


def create_app(settings: Settings) -> FastAPI:
    running: list[_Running] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        es_app = await asyncio.to_thread(
            SyncApplication, settings.database_url, settings.roger_app_url
        )
        pool = await open_pool(settings.database_url)
        projector = Projector(settings, es_app, pool)
        task = asyncio.create_task(projector.run(), name="projector")
        app.include_router(read_router(settings, pool, projector.producer))
        running.append(_Running(projector, task, pool))
        log.info("projector_started")
        try:
            yield
        finally:
            projector.stop()
            await task
            await pool.close()
            es_app.close()
            log.info("projector_stopped")

    app = FastAPI(title="roger-xero projector", lifespan=lifespan)

    async def ready() -> dict[str, bool]:
        if not running:
            return {"kafka": False, "database": False}
        r = running[0]
        return {
            "kafka": r.projector.kafka_ok and not r.task.done(),
            "database": await database_ok(r.pool),
        }

    install_common(app, ready)
    return app


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    configure_logging("projector")
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.projector_port,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
