"""The connect endpoints of integration-api.md, plus the setup page, as one router for ingest.

``connect_router(settings)`` is all ``create_app`` needs: the router brings its own
lifespan (database pool, Kafka producer, the outbox relay, and a consumer of Xero's
answers for "last sync", through the shared consumer loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from services.connections import profiles, session
from services.connections.flow import Connector
from services.connections.setup_page import (
    BINDING_COOKIE,
    BINDING_PATH,
    assets_router,
    page_headers,
    page_router,
    page_session,
    set_page_session,
)
from services.connections.setup_rules import company_id_ok, tenant_id_ok
from services.connections.sync_status import SyncStatusReader
from services.connections.templates import refusal_page
from shared.contracts.commands import BillStatus, LockDatePolicy
from shared.contracts.results import XeroResult
from shared.contracts.topics import XERO_RESULTS
from shared.db import open_pool
from shared.http import ApiError, bearer_guard, error_body
from shared.logging import get_logger
from shared.messaging.consumer import ConsumerLoop
from shared.messaging.dead_letters import DeadLetterWriter
from shared.messaging.kafka import durable_producer, kafka_security
from shared.messaging.outbox import OutboxRelay
from shared.settings import ConnectionsSettings

log = get_logger("connections")

_SYNCED = {"XeroContactLinked", "XeroBillCreated", "XeroPaymentCreated"}


def company(company_id: str) -> str:
    if not company_id_ok(company_id):
        raise ApiError(
            422,
            "invalid_company_id",
            "company_id must be 1..64 characters of [A-Za-z0-9_-]",
            [{"field": "company_id", "message": "invalid"}],
        )
    return company_id


class ConnectBody(BaseModel):
    redirect_after: str = Field(min_length=1, max_length=2000)


# Rust regex (pydantic-core): "$" is the end of the string, no trailing newline slips past.
_TENANT = r"^[A-Za-z0-9-]{1,64}$"


class OrganisationBody(BaseModel):
    tenant_id: str = Field(pattern=_TENANT)


class ConnectionBody(BaseModel):
    tenant_id: str = Field(pattern=_TENANT)
    default_account_code: str = Field(min_length=1, max_length=20)
    default_payment_account_code: str = Field(min_length=1, max_length=20)
    import_categories: bool = False
    # A document dated on or before the organisation's lock date: "fail" (shown failed with
    # the fix) or "next_open_day" (posted on the first open day, said on the document).
    lock_date_policy: LockDatePolicy = "fail"
    # The status new bills get in Xero: "DRAFT", "SUBMITTED" (awaiting approval) or
    # "AUTHORISED" (awaiting payment; payments and credit allocations need it).
    bill_status: BillStatus = "AUTHORISED"


class Holder:
    """The connector once the lifespan has opened the pool; handlers wait for it."""

    def __init__(self) -> None:
        self.connector: Connector | None = None
        self.ready = asyncio.Event()

    async def get(self) -> Connector:
        await self.ready.wait()
        assert self.connector is not None
        return self.connector


def connect_router(settings: ConnectionsSettings) -> APIRouter:
    holder = Holder()
    sync_status = SyncStatusReader(settings)

    async def on_results(records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Xero's answers tell when each company last synced, and the day's calls left: a
        partition's fetched answers in one transaction, the latest word per company (issue
        14: a transaction per answer was a fifth of ingest's time). An unreadable answer
        raises: the loop then goes record by record and dead-letters it."""
        synced: dict[str, datetime] = {}
        budgets: dict[str, tuple[int, datetime]] = {}
        for record in records:
            result = XeroResult.from_bytes(record.value or b"")
            company, at = result.company_id, result.recorded_at
            if result.type in _SYNCED:
                synced[company] = max(synced.get(company, at), at)
            if result.day_calls_remaining is not None:
                heard = budgets.get(company)
                if heard is None or heard[1] < at:
                    budgets[company] = (result.day_calls_remaining, at)
        if synced or budgets:
            connector = await holder.get()
            await profiles.results_heard(
                connector.pool,
                synced.items(),
                [(company, left, at) for company, (left, at) in budgets.items()],
            )

    async def on_result(record: ConsumerRecord[Any, Any]) -> None:
        await on_results([record])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings.database_url, max_size=6)
        producer = durable_producer(
            settings.kafka_bootstrap, "rx-connections", kafka_security(settings)
        )
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
            security=kafka_security(settings),
            group_id="rx-ingest-connect" + settings.group_suffix,
            topics=[XERO_RESULTS],
            handle=on_result,
            handle_batch=on_results,
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
            await sync_status.aclose()
            await producer.stop()
            await pool.close()

    router = APIRouter(lifespan=lifespan)
    router.include_router(_api(settings, holder))
    router.include_router(_callback(settings, holder))
    router.include_router(page_router(settings, holder.get, sync_status))
    router.include_router(assets_router())
    return router


def _api(settings: ConnectionsSettings, holder: Holder) -> APIRouter:
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
        if tenant_id is not None and not tenant_id_ok(tenant_id):
            raise ApiError(422, "invalid_tenant_id", "tenant_id must match [A-Za-z0-9-]{1,64}")
        return await (await holder.get()).accounts(company(company_id), tenant_id)

    @api.put("/xero/connection")
    async def finish(company_id: str, body: ConnectionBody) -> dict[str, Any]:
        return await (await holder.get()).finish(
            company(company_id),
            body.tenant_id,
            body.default_account_code,
            body.default_payment_account_code,
            body.import_categories,
            body.lock_date_policy,
            body.bill_status,
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
        """A link to the setup page for one person, for Roger's web app to redirect to:
        ``{url, expires_at}`` (Unix s; at most 30 minutes away whatever is configured),
        valid until the company's next connect or disconnect."""
        connector = await holder.get()
        token, expires_at = await page_session(settings, connector, company(company_id))
        base = settings.ingest_public_url.rstrip("/")
        return {"url": f"{base}/setup/{company_id}?session={token}", "expires_at": expires_at}

    return api


def _callback(settings: ConnectionsSettings, holder: Holder) -> APIRouter:
    router = APIRouter()
    secure = urlsplit(settings.ingest_public_url).scheme == "https"

    def refused(request: Request, refusal: ApiError) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            page = HTMLResponse(refusal_page(refusal.message), status_code=refusal.status)
            return page_headers(page)
        return JSONResponse(error_body(refusal.code, refusal.message), status_code=refusal.status)

    @router.get("/v1/xero/authorize", response_model=None, include_in_schema=False)
    async def launch(request: Request, state: str = "") -> Response:
        """The authorize link a connect started over the API gives: its first visit binds the
        flow to this browser (a cookie whose hash is stored with the state), then on to Xero."""
        if not state or len(state) > 128 or not state.isascii():
            response = refused(request, ApiError(400, "missing_state", "no state in the link"))
            response.headers["Cache-Control"] = "no-store"
            return response
        cookie = request.cookies.get(BINDING_COOKIE)
        if not cookie or len(cookie) > 128 or not cookie.isascii():
            cookie, key = session.new_binding()
        else:
            key = session.binding_key(cookie)
        try:
            url = await (await holder.get()).launch(state, key)
        except ApiError as exc:
            response = refused(request, exc)
        else:
            response = RedirectResponse(url, status_code=303)
            response.set_cookie(
                BINDING_COOKIE,
                cookie,
                max_age=settings.connect_state_ttl_s,
                path=BINDING_PATH,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @router.get("/v1/xero/callback", response_model=None)
    async def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> Response:
        binding = request.cookies.get(BINDING_COOKIE)
        connector = await holder.get()
        outcome = await connector.callback(
            code=code,
            state=state,
            error=error,
            browser_key=session.binding_key(binding) if binding else None,
        )
        if outcome.redirect is not None:
            response: Response = RedirectResponse(outcome.redirect, status_code=303)
            if outcome.page_session_for is not None:
                # The new grant ended the page's session (a new connection version); the
                # browser that just proved it started this flow from the page keeps going.
                await set_page_session(response, settings, connector, outcome.page_session_for)
        else:
            assert outcome.refusal is not None
            response = refused(request, outcome.refusal)
        # The code is in this URL: nobody should cache it or pass it on as a referrer.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        if outcome.redirect is not None:
            response.delete_cookie(BINDING_COOKIE, path=BINDING_PATH)
        return response

    return router
