"""Entry point: ``roger-xero ingest``."""

from __future__ import annotations

import uvicorn

from services.ingest.app import create_app
from shared.logging import configure_logging
from shared.settings import Settings


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    configure_logging("ingest")
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.ingest_port,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
