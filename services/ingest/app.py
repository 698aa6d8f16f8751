"""Ingest: Roger events in over HTTP and ``roger.events``, domain events out on Kafka.

Handlers here do I/O only; what counts as valid lives in ``intake`` and
``shared.contracts.roger_events``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from aiokafka import AIOKafkaProducer, ConsumerRecord
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from services.connections.metrics import sample_needs_reconnect
from services.connections.routes import connect_router
from services.ingest.intake import EventTooLarge, Intake, domain_record, read_body, read_record
from services.ingest.seen import EventConflict, SeenEvents, sort_out
from services.ingest.signature import verify
from services.xero_inbound.routes import inbound_router
from shared.contracts.roger_events import RogerEvent
from shared.contracts.topics import DOMAIN_EVENTS, ROGER_EVENTS
from shared.db import open_pool
from shared.http import ApiError, install_common
from shared.logging import get_logger
from shared.messaging.consumer import Unprocessable, consumer_loop
from shared.messaging.dead_letters import DeadLetterWriter
from shared.messaging.kafka import durable_producer, kafka_security
from shared.service import Running, running_worker
from shared.settings import ConnectionsSettings, IngestSettings, api_docs

log = get_logger("ingest")

EVENTS_IN = Counter("rx_ingest_events_total", "Roger events received", ["source", "outcome"])
# Out, by the contract's type (bill.submitted, ...: a closed set, so a bounded label).
EVENTS_OUT = Counter(
    "rx_ingest_published_total", "Roger events published as domain events", ["type"]
)
REQUESTS = Counter("rx_ingest_requests_total", "POST /v1/events requests", ["status"])


class Ingest:
    """The two ways in share one path out: validate, skip known ids, publish, remember."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None  # set by the lifespan (needs a loop)
        self.seen: SeenEvents | None = None

    async def publish(
        self, events: list[RogerEvent], source: Literal["http", "kafka"]
    ) -> tuple[int, int]:
        """Puts new events on the domain topic and waits for every ack (acks=all).

        Returns (accepted, duplicates). Dedupes per (company_id, event id); publishes nothing
        and raises ``EventConflict`` if an id comes again with another body, ``EventTooLarge``
        if an event would not fit in a Kafka record.
        """
        assert self.seen is not None and self.producer is not None
        stored = await self.seen.hashes((e.company_id, e.id) for e in events)
        try:
            new, duplicates = sort_out(events, stored)
        except EventConflict as conflict:
            EVENTS_IN.labels(source, "conflict").inc(len(conflict.conflicts))
            raise
        # Every record is built (and its size checked) before the first is sent.
        records = [(e, domain_record(e, source)) for e, _ in new]
        pending = [
            await self.producer.send(
                DOMAIN_EVENTS,
                value,
                key=e.company_id.encode(),
                headers=[("rx-event-id", e.id.encode()), ("rx-type", e.type.encode())],
            )
            for e, value in records
        ]
        await asyncio.gather(*pending)
        await self.seen.mark_published((e.company_id, e.id, digest) for e, digest in new)
        fresh = [e for e, _ in new]
        EVENTS_IN.labels(source, "accepted").inc(len(fresh))
        EVENTS_IN.labels(source, "duplicate").inc(duplicates)
        for type_, count in collections.Counter(e.type for e in fresh).items():
            EVENTS_OUT.labels(type_).inc(count)
        for e in fresh:
            log.info(
                "event_accepted", source=source, company_id=e.company_id, event_id=e.id, type=e.type
            )
        return len(fresh), duplicates


def _refusal(intake: Intake) -> ApiError:
    if intake.malformed:
        return ApiError(422, "malformed", intake.malformed)
    message, details = intake.refusal()
    return ApiError(422, "invalid_events", message, details)


def create_app(settings: IngestSettings, connections: ConnectionsSettings | None = None) -> FastAPI:
    """Ingest's app; it also serves the connect flow (``services.connections``), whose
    settings are read from the environment unless given."""
    ingest = Ingest(settings)

    async def on_roger_event(record: ConsumerRecord[Any, Any]) -> None:
        # At least once: the offset is committed only after the event is on the domain topic
        # or its record in the dead-letter topic (shared.messaging.consumer).
        event, reason = read_record(record.value, record.key)
        if event is None:
            EVENTS_IN.labels("kafka", "dead_lettered").inc()
            raise Unprocessable(reason or "invalid")
        try:
            await ingest.publish([event], "kafka")
        except (EventConflict, EventTooLarge) as refused:
            raise Unprocessable(str(refused)) from refused

    running: list[Running] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_url)
        ingest.seen = SeenEvents(pool)
        await ingest.seen.setup()
        # One durable producer (acks=all, idempotent, records up to MAX_RECORD_BYTES) for the
        # domain events and the dead letters alike.
        producer = ingest.producer = durable_producer(
            settings.kafka_bootstrap, "rx-ingest", kafka_security(settings)
        )
        await producer.start()
        dead_letters = DeadLetterWriter(producer)
        topic_loop = consumer_loop(
            settings, "rx-ingest", [ROGER_EVENTS], on_roger_event, dead_letters
        )
        closing = [producer.stop, pool.close]
        async with running_worker(topic_loop, "ingest", pool, running, closing):
            yield

    app = FastAPI(title="roger-xero ingest", lifespan=lifespan, **api_docs(settings.env))
    app.state.ingest = ingest

    async def ready() -> dict[str, bool]:
        kafka_ok = bool(running) and running[0].worker.kafka_ok
        db_ok = True
        try:
            assert ingest.seen is not None
            await ingest.seen.already_published(["readyz"])
        except Exception:  # noqa: BLE001 - readiness reports, it does not raise
            db_ok = False
        return {"kafka": kafka_ok, "database": db_ok}

    async def needs_reconnect() -> None:
        if running:
            await sample_needs_reconnect(running[0].pool)

    install_common(app, ready, samplers=[needs_reconnect])
    app.include_router(connect_router(connections or ConnectionsSettings()))
    app.include_router(inbound_router())  # Xero's webhooks in, roger.sync-back out

    @app.post("/v1/events", status_code=202)
    async def post_events(request: Request) -> JSONResponse:
        body = await _limited_body(request, settings.max_body_bytes)
        problem = verify(
            request.headers.get("Roger-Signature"),
            body,
            [s.get_secret_value() for s in settings.webhook_secrets],
            time.time(),
            settings.signature_tolerance_s,
        )
        if problem:
            REQUESTS.labels("401").inc()
            raise ApiError(401, "bad_signature", problem)
        intake = read_body(body)
        if intake.malformed or intake.invalid:
            REQUESTS.labels("422").inc()
            raise _refusal(intake)
        try:
            accepted, duplicates = await ingest.publish(intake.events, "http")
        except EventConflict as conflict:
            REQUESTS.labels("409").inc()
            raise ApiError(
                409,
                "event_conflict",
                f"{conflict}; none of the batch was accepted",
                [c.as_dict() for c in conflict.conflicts],
            ) from conflict
        except EventTooLarge as too_large:
            REQUESTS.labels("413").inc()
            raise ApiError(413, "event_too_large", str(too_large)) from too_large
        REQUESTS.labels("202").inc()
        return JSONResponse({"accepted": accepted, "duplicates": duplicates}, status_code=202)

    return app


async def _limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit():
        # Length first: int() of a 5,000-digit header would raise (a 500, not a 413).
        digits = declared.lstrip("0") or "0"
        if len(digits) > len(str(limit)) or int(digits) > limit:
            REQUESTS.labels("413").inc()
            raise ApiError(413, "too_large", f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            REQUESTS.labels("413").inc()
            raise ApiError(413, "too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
