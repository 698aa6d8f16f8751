"""Entry point: ``roger-xero writer`` (command consumer, Xero calls, health and metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from services.xero_writer.attempts import Attempts
from services.xero_writer.scheduler import Writer
from services.xero_writer.xero_client import XeroClient
from shared.db import open_pool
from shared.http import install_common
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.token_store import TokenStore

log = get_logger("xero_writer")


def create_app(settings: Settings) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_url, max_size=16)
        tokens = TokenStore(pool, [k.get_secret_value() for k in settings.token_keys])
        await tokens.setup()
        attempts = Attempts(pool)
        await attempts.setup()
        xero = XeroClient(settings.xero_accounting_url, settings.xero_token_url, settings.xero_client_id,
                          settings.xero_client_secret.get_secret_value(), settings.xero_timeout_s)
        writer = Writer(settings, tokens, attempts, xero)
        task = asyncio.create_task(writer.run(), name="writer")
        state.update(writer=writer, task=task, pool=pool)
        log.info("writer_started", port=settings.writer_port)
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
        writer, task = state.get("writer"), state.get("task")
        alive = isinstance(task, asyncio.Task) and not task.done()
        db_ok = True
        try:
            async with state["pool"].connection() as conn:  # type: ignore[attr-defined]
                await conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001
            db_ok = False
        return {"kafka": bool(writer and writer.kafka_ok and alive), "database": db_ok}  # type: ignore[attr-defined]

    install_common(app, ready)
    return app


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    configure_logging("xero_writer")
    settings = Settings()
    uvicorn.run(create_app(settings), host=host, port=port or settings.writer_port,
                log_config=None, timeout_graceful_shutdown=30)
