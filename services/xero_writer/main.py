"""Entry point: ``roger-xero writer`` (command consumer, Xero calls, health and metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from services.xero_writer.attempts import Attempts
from services.xero_writer.scheduler import Writer
from services.xero_writer.xero_client import XeroClient
from shared.db import open_pool
from shared.http import database_ok, install_common
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.token_store import TokenStore

log = get_logger("xero_writer")


@dataclass
class _Running:
    writer: Writer
    task: asyncio.Task[None]
    pool: AsyncConnectionPool


def create_app(settings: Settings) -> FastAPI:
    running: list[_Running] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_url, max_size=16)
        tokens = TokenStore(pool, [k.get_secret_value() for k in settings.token_keys])
        await tokens.setup()
        attempts = Attempts(pool)
        await attempts.setup()
        xero = XeroClient(
            settings.xero_accounting_url,
            settings.xero_token_url,
            settings.xero_client_id,
            settings.xero_client_secret.get_secret_value(),
            settings.xero_timeout_s,
        )
        writer = Writer(settings, tokens, attempts, xero)
        task = asyncio.create_task(writer.run(), name="writer")
        running.append(_Running(writer, task, pool))
        log.info("writer_started")
        try:
            yield
        finally:
            writer.stop()
            await task
            await xero.aclose()
            await pool.close()
            log.info("writer_stopped")

    app = FastAPI(title="roger-xero xero_writer", lifespan=lifespan)

    async def ready() -> dict[str, bool]:
        if not running:
            return {"kafka": False, "database": False}
        r = running[0]
        return {
            "kafka": r.writer.kafka_ok and not r.task.done(),
            "database": await database_ok(r.pool),
        }

    install_common(app, ready)
    return app


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    configure_logging("xero_writer")
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.writer_port,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
