"""Entry point: ``roger-xero writer`` (command consumer, Xero calls, health and metrics)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.xero_writer import shared_limits
from services.xero_writer.attempts import Attempts
from services.xero_writer.scheduler import Writer
from shared.db import open_pool
from shared.http import install_common
from shared.logging import get_logger
from shared.service import Running, run_service, running_worker, worker_readiness
from shared.settings import WriterSettings, api_docs
from shared.xero.client import XeroClient
from shared.xero.token_store import TokenStore

log = get_logger("xero_writer")


def create_app(settings: WriterSettings) -> FastAPI:
    running: list[Running] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Autocommit: the writer's statements stand alone (or say conn.transaction()), and a
        # COMMIT round trip per statement was a tenth of its time (issue 14).
        pool = await open_pool(settings.database_url, max_size=16, autocommit=True)
        tokens = TokenStore(
            pool, [k.get_secret_value() for k in settings.token_keys], keep_access=True
        )
        await tokens.setup()
        attempts = Attempts(pool)
        await attempts.setup()
        await shared_limits.setup(pool)
        xero = XeroClient.for_app(settings)
        writer = Writer(settings, tokens, attempts, xero)
        async with running_worker(writer, "writer", pool, running, [xero.aclose, pool.close]):
            yield

    app = FastAPI(title="roger-xero xero_writer", lifespan=lifespan, **api_docs(settings.env))

    install_common(app, worker_readiness(running))
    return app


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    run_service("xero_writer", create_app, host, port, lambda s: s.writer_port, WriterSettings)
