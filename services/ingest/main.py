"""Entry point: ``roger-xero ingest``."""

from __future__ import annotations

from services.ingest.app import create_app
from shared.service import run_service
from shared.settings import IngestSettings


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    run_service("ingest", create_app, host, port, lambda s: s.ingest_port, IngestSettings)
