"""xero_inbound's HTTP route and workers, served by the ingest process (``inbound_router``).

- ``POST /v1/xero/webhooks``: Xero's webhooks. 413 for a body over ``MAX_WEBHOOK_BYTES``
  (refused while it streams in, never read whole); 401 unless ``x-xero-signature``
  verifies under one of ``RX_XERO_WEBHOOK_KEYS`` (checked before the JSON is parsed); an
  empty ``events`` list (Xero's intent-to-receive check) is answered 200; otherwise each
  event goes on ``rx.xero-notifications.v1`` (key: tenant id) and the answer, 200, waits
  only for Kafka's acks (Xero wants it within 5 s).
- Worker ``rx-xero-inbound``: each notification -> the document read from Xero ->
  ``roger.sync-back`` events (``sync_back``'s rules) for every company connected to it.
  Nothing here ever writes to Xero.
- Worker ``rx-xero-inbound-writes``: our writer's results (bills' status and total, and
  the payments it deleted), so our own writes are recognised and not echoed.
- The poller (``poller.py``, unless ``RX_INBOUND_POLL_INTERVAL_S`` is 0): what changed in
  Xero since it last looked, as notifications on the same topic, for the same worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.xero_inbound.notifications import XeroEvent, XeroPayload
from services.xero_inbound.poll_store import PollStore
from services.xero_inbound.poller import Poller, rules_of
from services.xero_inbound.polling import Remaining, reserve_left
from services.xero_inbound.signature import signed_by_xero
from services.xero_inbound.store import InboundStore
from services.xero_inbound.sync_back import (
    OUR_PAYMENT_PREFIX,
    BillView,
    Change,
    ContactView,
    bill_changes,
    bill_view,
    contact_changes,
    contact_view,
    deleted_payments,
    roger_document,
)
from shared.contracts.results import XeroResult
from shared.contracts.topics import ROGER_SYNC_BACK, XERO_NOTIFICATIONS, XERO_RESULTS
from shared.db import open_pool
from shared.logging import get_logger
from shared.messaging.consumer import consumer_loop
from shared.messaging.dead_letters import DeadLetterWriter
from shared.messaging.kafka import durable_producer, kafka_security
from shared.settings import InboundSettings
from shared.xero.client import XeroClient
from shared.xero.errors import Forbidden, NeedsReconnect, RateLimited, Refused
from shared.xero.token_store import NotConnected, TokenStore

log = get_logger("xero_inbound")

_BILL_RESULTS = {"XeroBillCreated", "XeroBillUpdated", "XeroBillVoided"}
_GRACE_STEP_S = 0.2
# Xero's webhook payloads are a few KB (events are thin: ids, no documents); a bigger body
# is refused with 413 as it streams in, so unsigned junk cannot fill the process's memory.
MAX_WEBHOOK_BYTES = 1 << 20


class Inbound:
    """The parts the route and the workers share, set by the lifespan."""

    def __init__(self, settings: InboundSettings | None) -> None:
        # None: read from the environment when the lifespan starts (a process that only
        # builds the app, e.g. for its OpenAPI document, needs no secrets).
        self._settings = settings
        self.keys: list[str] = []
        self.producer: AIOKafkaProducer | None = None
        self.store: InboundStore | None = None
        self.tokens: TokenStore | None = None
        self.xero: XeroClient | None = None

    @property
    def settings(self) -> InboundSettings:
        if self._settings is None:
            self._settings = InboundSettings()
        return self._settings

    def start(self) -> InboundSettings:
        """Reads the settings (raising pydantic's ``ValidationError`` on bad ones)."""
        settings = self.settings
        self.keys = [k.get_secret_value() for k in settings.xero_webhook_keys]
        return settings

    async def on_results(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Remembers our writer's latest result per bill, and each payment it deleted (as
        status ``DELETED``, keyed by the PaymentID): a partition's fetched results in one
        statement. An unreadable result raises: the loop goes one by one and dead-letters it."""
        writes: list[tuple[str, str | None, Decimal | None, datetime]] = []
        for record in records:
            result = XeroResult.from_bytes(record.value or b"")
            if result.type in _BILL_RESULTS and result.xero_id:
                writes.append(
                    (result.xero_id, result.xero_status, result.xero_total, result.recorded_at)
                )
            elif result.type == "XeroPaymentDeleted" and result.xero_id:
                writes.append((result.xero_id, "DELETED", None, result.recorded_at))
        if writes:
            assert self.store is not None
            await self.store.record_writes(writes)

    async def on_result(self, record: ConsumerRecord[Any, Any]) -> None:
        await self.on_results([record])

    async def on_notification(self, record: ConsumerRecord[Any, Any]) -> None:
        """One Xero event -> ``roger.sync-back`` events (none for our own writes)."""
        assert self.store is not None and self.tokens is not None and self.xero is not None
        event = XeroEvent.from_bytes(record.value or b"")
        if event.event_category not in ("INVOICE", "CONTACT"):
            return
        companies = await self.store.companies(event.tenant_id)
        if not companies:
            return
        if not event.document and self._left_to_polling(event, "reserve"):
            return
        try:
            # The poller hands over what it read; a webhook's event is thin: read it.
            document = event.document or await self._read(companies[0], event)
        except (NotConnected, NeedsReconnect, Forbidden) as gone:
            log.info("sync_back_skipped", tenant_id=event.tenant_id, reason=str(gone))
            return
        except RateLimited:
            # Retrying here would spend the writer's minute again and again; the poller
            # reads the document within its interval (it is changed after its cursor).
            if self._left_to_polling(event, "rate_limited"):
                return
            raise
        if document is None:
            return
        if event.event_category == "INVOICE":
            if document.get("Type") != "ACCPAY":
                return
            now: BillView | ContactView = bill_view(document)
            changes = await self._bill_changes(event, bill_view(document))
        else:
            now = contact_view(document)
            seen = await self.store.seen(event.tenant_id, event.resource_id)
            before = ContactView.model_validate(seen[0]) if seen else None
            changes = contact_changes(before, now)
        await self._publish(companies, event.tenant_id, changes)
        await self.store.remember(
            event.tenant_id, event.resource_id, event.event_category, now.model_dump(mode="json")
        )

    def _left_to_polling(self, event: XeroEvent, why: str) -> bool:
        """With polling on, a thin event is left to it when Xero answered 429
        (``why="rate_limited"``) or when Xero's last word on the organisation's remaining
        calls is under the writer's reserves (``why="reserve"``): the writer comes first."""
        settings = self.settings
        if settings.inbound_poll_interval_s <= 0:
            return False
        if why == "reserve":
            latest = self.xero.remaining if self.xero is not None else {}
            seen = latest.get(event.tenant_id.lower(), Remaining())
            if reserve_left(datetime.now(UTC), seen, rules_of(settings)).go:
                return False
        log.info(
            "sync_back_left_to_polling",
            tenant_id=event.tenant_id,
            resource_id=event.resource_id,
            reason=why,
        )
        return True

    async def _read(self, company_id: str, event: XeroEvent) -> dict[str, Any] | None:
        assert self.tokens is not None and self.xero is not None
        access = await self.tokens.access(company_id, self.xero.refresh)
        collection = "Invoices" if event.event_category == "INVOICE" else "Contacts"
        try:
            body = await self.xero.call(
                "GET",
                f"/{collection}/{event.resource_id}",
                tenant_id=event.tenant_id,
                access_token=access.access_token,
                params={"unitdp": "4"},
            )
        except Refused as refused:
            if refused.status == 404:
                return None
            raise
        found = body.get(collection) or []
        return found[0] if found else None

    async def _bill_changes(self, event: XeroEvent, now: BillView) -> list[Change]:
        assert self.store is not None
        seen = await self.store.seen(event.tenant_id, event.resource_id)
        before = BillView.model_validate(seen[0]) if seen else None
        looked_at = seen[1] if seen else None
        app_url = self.settings.roger_app_url
        deadline = time.monotonic() + self.settings.inbound_echo_grace_s
        gone = [p.xero_id for p in deleted_payments(before, now)]
        while True:
            write = await self.store.our_write(now.xero_id)
            ours = await self.store.deleted_by_us(gone) if gone else frozenset[str]()
            changes = bill_changes(before, now, app_url, write, looked_at, ours)
            claimable = [
                c
                for c in changes
                if c.payment is None
                or (
                    c.type == "PaymentDeletedInXero"
                    and c.payment.reference.startswith(OUR_PAYMENT_PREFIX)
                )
            ]
            # Our writer's result and Xero's webhook travel apart: a change of a synced bill
            # (or a deletion of a payment we made) that looks like Xero's own waits a little
            # for the result that would claim it.
            if not claimable or roger_document(now.url, app_url) is None:
                return changes
            if time.monotonic() >= deadline:
                return changes
            await asyncio.sleep(_GRACE_STEP_S)

    async def notify(self, events: list[XeroEvent]) -> None:
        """The poller's findings on the webhooks' topic (key: tenant id, as the route's)."""
        assert self.producer is not None
        pending = [
            await self.producer.send(
                XERO_NOTIFICATIONS, event.to_bytes(), key=event.tenant_id.lower().encode()
            )
            for event in events
        ]
        await asyncio.gather(*pending)

    async def _publish(self, companies: list[str], tenant_id: str, changes: list[Change]) -> None:
        assert self.producer is not None
        detected_at = datetime.now(UTC)
        pending = []
        for company_id in companies:
            for change in changes:
                event = change.addressed(
                    company_id, tenant_id, self.settings.roger_app_url, detected_at
                )
                pending.append(
                    await self.producer.send(
                        ROGER_SYNC_BACK,
                        event.to_bytes(),
                        key=company_id.encode(),
                        headers=[("rx-type", event.type.encode())],
                    )
                )
                log.info("sync_back", company_id=company_id, type=event.type, xero_id=event.xero_id)
        await asyncio.gather(*pending)


async def capped_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to exceed ``limit`` bytes: by its
    ``Content-Length`` (nothing read), or while it streams in (at most ``limit`` bytes plus
    one chunk read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def inbound_router(
    settings: InboundSettings | None = None,
    *,
    inbound: Inbound | None = None,
    max_body: int = MAX_WEBHOOK_BYTES,
) -> APIRouter:
    """The webhook route plus, for the router's lifespan, the two workers. ``inbound``: the
    shared parts, for a test that starts them itself; ``max_body``: the largest webhook
    body accepted (bytes)."""
    inbound = inbound if inbound is not None else Inbound(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        config = inbound.start()
        pool = await open_pool(config.database_url, max_size=4)
        inbound.tokens = TokenStore(pool, [k.get_secret_value() for k in config.token_keys])
        await inbound.tokens.setup()
        inbound.store = InboundStore(pool)
        await inbound.store.setup()
        poll_store = PollStore(pool)
        await poll_store.setup()
        inbound.xero = XeroClient.for_app(config)
        producer = durable_producer(
            config.kafka_bootstrap, "rx-xero-inbound", kafka_security(config)
        )
        await producer.start()
        inbound.producer = producer
        dead_letters = DeadLetterWriter(producer)
        loops = [
            consumer_loop(
                config,
                "rx-xero-inbound",
                [XERO_NOTIFICATIONS],
                inbound.on_notification,
                dead_letters,
            ),
            consumer_loop(
                config,
                "rx-xero-inbound-writes",
                [XERO_RESULTS],
                inbound.on_result,
                dead_letters,
                handle_batch=inbound.on_results,
            ),
        ]
        tasks = [asyncio.create_task(loop.run(), name=loop.name) for loop in loops]
        poller = None
        if config.inbound_poll_interval_s > 0:
            poller = Poller(
                config,
                poll_store,
                inbound.store,
                inbound.tokens,
                inbound.xero,
                inbound.notify,
            )
            tasks.append(asyncio.create_task(poller.run(), name="rx-xero-inbound-poller"))
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()
            if poller is not None:
                poller.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            inbound.producer = None
            await producer.stop()
            await inbound.xero.aclose()
            await pool.close()

    router = APIRouter(lifespan=lifespan)

    @router.post("/v1/xero/webhooks", include_in_schema=False)
    async def xero_webhooks(request: Request) -> JSONResponse:
        if not inbound.keys:
            return JSONResponse({}, status_code=503)  # not started yet
        body = await capped_body(request, max_body)
        if body is None:
            log.warning("xero_webhook_too_large", limit=max_body)
            return JSONResponse({}, status_code=413)
        if not signed_by_xero(body, request.headers.get("x-xero-signature"), inbound.keys):
            return JSONResponse({}, status_code=401)
        try:
            payload = XeroPayload.model_validate_json(body)
        except ValidationError:
            # Signed by Xero yet unreadable: nothing a retry could fix; say so in the log.
            log.warning("xero_webhook_unreadable", size=len(body))
            return JSONResponse({}, status_code=200)
        producer = inbound.producer
        if payload.events and producer is None:
            return JSONResponse({}, status_code=503)
        pending = [
            await producer.send(
                XERO_NOTIFICATIONS,
                # Xero's events are thin: a ``document`` in one is not Xero's; dropped.
                event.model_copy(update={"document": None}).to_bytes(),
                key=event.tenant_id.lower().encode(),
            )
            for event in payload.events
            if producer is not None
        ]
        await asyncio.gather(*pending)
        return JSONResponse({}, status_code=200)

    return router
