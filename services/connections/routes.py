"""The connect endpoints of integration-api.md, plus the setup page, as one router for ingest.

``connect_router(settings)`` is all ``create_app`` needs: the router brings its own
lifespan (database pool, Kafka producer, the outbox relay, and a consumer of Xero's
answers for "last sync", through the shared consumer loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from services.connections import profiles, session
from services.connections.flow import Connector
from services.connections.setup_page import BINDING_COOKIE, page_router
from services.connections.setup_rules import company_id_ok
from services.connections.templates import refusal_page
from shared.contracts.results import XeroResult
from shared.contracts.topics import XERO_RESULTS
from shared.db import open_pool
from shared.http import ApiError, bearer_guard, error_body
from shared.logging import get_logger
from shared.messaging.consumer import ConsumerLoop
from shared.messaging.dead_letters import DeadLetterWriter
from shared.messaging.kafka import durable_producer
from shared.messaging.outbox import OutboxRelay
from shared.settings import Settings

log = get_logger("connections")

_SYNCED = {"XeroContactLinked", "XeroBillCreated", "XeroPaymentCreated"}


def company(company_id: str) -> str:
    if not company_id_ok(company_id):
        raise ApiError(422, "invalid_company_id", "company_id must match [A-Za-z0-9_-]{1,64}")
    return company_id


class ConnectBody(BaseModel):
    redirect_after: str = Field(min_length=1, max_length=2000)


class OrganisationBody(BaseModel):
    tenant_id: str = Field(min_length=1, max_length=64)


class ConnectionBody(BaseModel):
    tenant_id: str = Field(min_length=1, max_length=64)
    default_account_code: str = Field(min_length=1, max_length=20)
    default_payment_account_code: str = Field(min_length=1, max_length=20)
    import_categories: bool = False


class Holder:
    """The connector once the lifespan has opened the pool; handlers wait for it."""

    def __init__(self) -> None:
        self.connector: Connector | None = None
        self.ready = asyncio.Event()

    async def get(self) -> Connector:
        await self.ready.wait()
        assert self.connector is not None
        return self.connector


def connect_router(settings: Settings) -> APIRouter:
    holder = Holder()

    async def on_result(record: ConsumerRecord[Any, Any]) -> None:
        """Xero's answers tell when a company last synced."""
        result = XeroResult.from_bytes(record.value or b"")  # unreadable: dead-lettered
        if result.type in _SYNCED:
            connector = await holder.get()
            await profiles.synced(connector.pool, result.company_id, result.recorded_at)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_url, max_size=6)
        producer = durable_producer(settings.kafka_bootstrap, "rx-connections")
        await producer.start()
        dead_letters = DeadLetterWriter(producer)
        await OutboxRelay.setup(pool)
        relay = OutboxRelay(
            pool,
            producer,
            dead_letters,
            name="connections",
            resend_after_s=settings.command_resend_after_s,
        )
        results = ConsumerLoop(
            name="rx-connections",
            bootstrap=settings.kafka_bootstrap,
            group_id="rx-ingest-connect" + settings.group_suffix,
            topics=[XERO_RESULTS],
            handle=on_result,
            dead_letters=dead_letters,
        )
        connector = Connector(settings, pool, relay.wake)
        await connector.setup()
        holder.connector = connector
        holder.ready.set()
        relay.start()
        results_task = asyncio.create_task(results.run(), name="connections-results")
        try:
            yield
        finally:
            results.stop()
            await results_task
            await relay.stop()
            await connector.aclose()
            await producer.stop()
            await pool.close()

    router = APIRouter(lifespan=lifespan)
    router.include_router(_api(settings, holder))
    router.include_router(_callback(holder))
    router.include_router(page_router(settings, holder.get))
    return router


def _api(settings: Settings, holder: Holder) -> APIRouter:
    guard = bearer_guard([t.get_secret_value() for t in settings.service_tokens])
    api = APIRouter(prefix="/v1/companies/{company_id}", dependencies=[Depends(guard)])

    @api.post("/xero/connect")
    async def connect(company_id: str, body: ConnectBody) -> dict[str, str]:
        url = await (await holder.get()).start(company(company_id), body.redirect_after)
        return {"authorize_url": url}

    @api.get("/xero/organisations")
    async def organisations(company_id: str) -> list[dict[str, Any]]:
        return await (await holder.get()).organisations(company(company_id))

    @api.put("/xero/organisation")
    async def choose(company_id: str, body: OrganisationBody) -> dict[str, Any]:
        connector = await holder.get()
        return await connector.choose_organisation(company(company_id), body.tenant_id)

    @api.get("/xero/accounts")
    async def accounts(company_id: str, tenant_id: str | None = None) -> list[dict[str, Any]]:
        return await (await holder.get()).accounts(company(company_id), tenant_id)

    @api.put("/xero/connection")
    async def finish(company_id: str, body: ConnectionBody) -> dict[str, Any]:
        return await (await holder.get()).finish(
            company(company_id),
            body.tenant_id,
            body.default_account_code,
            body.default_payment_account_code,
            body.import_categories,
        )

    @api.get("/xero/connection")
    async def connection(company_id: str) -> dict[str, Any]:
        return await (await holder.get()).connection(company(company_id))

    @api.delete("/xero/connection")
    async def disconnect(company_id: str) -> dict[str, Any]:
        return await (await holder.get()).disconnect(company(company_id))

    @api.post("/xero/categories/import", status_code=202)
    async def import_categories(company_id: str) -> dict[str, Any]:
        count = await (await holder.get()).import_categories(company(company_id))
        return {"importing": True, "categories": count}

    @api.post("/xero/setup-session")
    async def setup_session(company_id: str) -> dict[str, Any]:
        """A link to the setup page for one person, for Roger's web app to redirect to."""
        expires_at = int(time.time()) + settings.setup_session_ttl_s
        keys = [k.get_secret_value() for k in settings.token_keys]
        token = session.issue(company(company_id), expires_at, keys)
        base = settings.ingest_public_url.rstrip("/")
        return {"url": f"{base}/setup/{company_id}?session={token}", "expires_at": expires_at}

    return api


def _callback(holder: Holder) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/xero/callback", response_model=None)
    async def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> Response:
        binding = request.cookies.get(BINDING_COOKIE)
        outcome = await (await holder.get()).callback(
            code=code,
            state=state,
            error=error,
            browser_key=session.binding_key(binding) if binding else None,
        )
        if outcome.redirect is not None:
            response: Response = RedirectResponse(outcome.redirect, status_code=303)
        else:
            refusal = outcome.refusal
            assert refusal is not None
            if "text/html" in request.headers.get("accept", ""):
                response = HTMLResponse(refusal_page(refusal.message), status_code=refusal.status)
            else:
                response = JSONResponse(
                    error_body(refusal.code, refusal.message), status_code=refusal.status
                )
        # The code is in this URL: nobody should cache it or pass it on as a referrer.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.delete_cookie(BINDING_COOKIE, path="/v1/xero/callback")
        return response

    return router
