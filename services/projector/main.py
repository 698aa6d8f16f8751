"""Entry point: ``roger-xero projector`` (consumer, outbox relay and read API in one process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.projector.api import read_router
from services.projector.application import SyncApplication
from services.projector.consumer import Projector
from services.projector.views import sample_documents
from shared.db import open_pool
from shared.http import install_common
from shared.logging import get_logger
from shared.service import Running, run_service, running_worker, worker_readiness
from shared.settings import ProjectorSettings, api_docs

log = get_logger("projector")


def create_app(settings: ProjectorSettings) -> FastAPI:
    running: list[Running] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        es_app = await asyncio.to_thread(
            SyncApplication, settings.database_url, settings.roger_app_url
        )
        pool = await open_pool(settings.database_url)
        projector = Projector(settings, es_app, pool)
        app.include_router(read_router(settings, pool, projector.producer))
        try:
            async with running_worker(projector, "projector", pool, running):
                yield
        finally:
            await pool.close()
            es_app.close()

    app = FastAPI(title="roger-xero projector", lifespan=lifespan, **api_docs(settings.env))

    async def documents() -> None:
        if running:
            await sample_documents(running[0].pool)

    install_common(app, worker_readiness(running), samplers=[documents])
    return app


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    run_service("projector", create_app, host, port, lambda s: s.projector_port, ProjectorSettings)
