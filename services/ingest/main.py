"""Entry point: ``roger-xero ingest``."""

from __future__ import annotations

from services.ingest.app import create_app
from shared.service import run_service
from shared.settings import ConnectionsSettings, InboundSettings, IngestSettings


def run(host: str = "127.0.0.1", port: int | None = None) -> None:
    # The ingest process also serves the connect flow and Xero's webhooks: their settings are
    # checked at start too, so a refusal names every variable at once.
    run_service(
        "ingest",
        create_app,
        host,
        port,
        lambda s: s.ingest_port,
        IngestSettings,
        also=(ConnectionsSettings, InboundSettings),
    )
