"""Entry point: ``roger-xero projector`` (consumer, outbox relay and read API in one process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from services.projector.api import read_router
from services.projector.application import SyncApplication
from services.projector.consumer import Projector
from shared.db import open_pool
from shared.http import install_common
from shared.logging import configure_logging, get_logger
from shared.settings import Settings

log = get_logger("projector")


def create_app(settings: Settings) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        es_app = await asyncio.to_thread(SyncApplication, settings.database_url, settings.roger_app_url)
        pool = await open_pool(settings.database_url)
        projector = Projector(settings, es_app, pool)
        task = asyncio.create_task(projector.run(), name="projector")
        app.include_router(read_router(settings, pool, projector.producer))
        state.update(projector=projector, pool=pool, task=task)
        log.info("projector_started", port=settings.projector_port)
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
        projector = state.get("projector")
        task = state.get("task")
        alive = isinstance(task, asyncio.Task) and not task.done()
        db_ok = True
        try:
            async with state["pool"].connection() as conn:  # type: ignore[attr-defined]
                await conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001
            db_ok = False
        return {"kafka": bool(projector and projector.kafka_ok and alive), "database": db_ok}

    install_common(app, ready)
    return app


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    configure_logging("projector")
    settings = Settings()
    uvicorn.run(
        create_app(settings), host=host, port=port or settings.projector_port,
        log_config=None, timeout_graceful_shutdown=30,
    )
