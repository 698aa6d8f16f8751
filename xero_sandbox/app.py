"""The ASGI application: routes, and the path every Accounting API call takes.

Order per call, as Xero's gateway does it: token → tenant → scope → rate limits → injected
gateway faults → idempotency → the handler → persistence → post-processing faults (delay,
dropped connection).
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import admin, admin_accountant, admin_books, auth
from .accounting import router, validation
from .accounting.common import NOT_FOUND, ApiError, Ctx, Raw
from .faults import plan_for
from .idempotency import (
    MAX_KEY_LENGTH,
    StoredResponse,
    fingerprint,
    mismatch_message,
    too_long_message,
)
from .limits import retry_after_header
from .runtime import Sandbox
from .wire import dumps, problem

log = logging.getLogger("xero_sandbox")

JSON = "application/json; charset=utf-8"
_ENVELOPE_ID = re.compile(rb'^\{"Id":"([0-9a-f-]{36})"')


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON, headers=headers)


def _stored(result: Any) -> StoredResponse:
    if isinstance(result, Raw):
        return StoredResponse(result.status, result.body, result.media_type, {})
    if isinstance(result, ApiError):
        if isinstance(result.body, str | bytes):
            raw = result.body.encode() if isinstance(result.body, str) else result.body
            return StoredResponse(result.status, raw, result.media_type, {})
        return StoredResponse(result.status, dumps(result.body).encode(), JSON, {})
    return StoredResponse(200, dumps(result).encode(), JSON, {})


def _error_500() -> StoredResponse:
    # As real 500s were quoted whole (XeroAPI/xero-node#510, #539): four fields, no Type.
    body = {
        "Title": "An error occurred",
        "Detail": "An error occurred in Xero. Check the API Status page "
        "http://status.developer.xero.com for current service status.",
        "Status": 500,
        "Instance": str(uuid.uuid4()),
    }
    return StoredResponse(500, dumps(body).encode(), JSON, {})


def _error_503() -> StoredResponse:
    # A single organisation "offline" (migrating): Xero answers in plain text.
    return StoredResponse(503, b"The Organisation is Offline", "text/plain", {})


class _Drop(Response):
    """Close the connection without a single byte of answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        abort = scope.get("sandbox.abort")
        if abort is not None and abort():
            return
        # Fallback when the transport is out of reach: promise a body, then fail mid-way.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000")],
            }
        )
        raise ConnectionAbortedError("sandbox dropped the connection")


class _AbortAware:
    """Outermost ASGI layer: gives handlers a way to cut the TCP connection.

    uvicorn's `send` is a bound method of its per-request cycle, which holds the transport.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cycle = getattr(send, "__self__", None)

            def abort() -> bool:
                transport = getattr(cycle, "transport", None)
                if transport is None:
                    return False
                cycle.disconnected = True  # type: ignore[union-attr]
                transport.abort()
                return True

            scope["sandbox.abort"] = abort
        await self.app(scope, receive, send)


async def accounting_endpoint(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    method = request.method.upper()
    path = "/" + request.path_params.get("rest", "")
    found = router.match(method, path)
    if found is None:
        return _finish(
            sandbox,
            request,
            Response(NOT_FOUND.encode(), status_code=404, media_type="text/html; charset=utf-8"),
        )
    route, params = found
    body = await request.body()
    now = sandbox.now()
    try:
        caller = auth.resolve_caller(sandbox, request)
    except auth.ApiAuthError as exc:
        return _finish(sandbox, request, _json_response(exc.status, exc.body()))
    tenant_raw = request.headers.get("xero-tenant-id")
    limits = sandbox.settings.limits
    try:
        auth.check_tenant(sandbox, caller, tenant_raw)
        auth.check_scope(caller, route.collection, method)
    except auth.ApiAuthError as exc:
        headers = sandbox.limiter.headers(now, caller.client_id, None, limits)
        return _finish(sandbox, request, _json_response(exc.status, exc.body(), headers))
    tenant_id = (tenant_raw or "").strip().lower()
    refusal = sandbox.limiter.admit(now, caller.client_id, tenant_id, limits)
    if refusal is not None:
        headers = sandbox.limiter.headers(now, caller.client_id, tenant_id, limits)
        headers["X-Rate-Limit-Problem"] = refusal.problem
        if refusal.retry_after_virtual is not None:
            headers["Retry-After"] = retry_after_header(
                refusal.retry_after_virtual, sandbox.clock.speed
            )
        detail = problem(429, "Too Many Requests", f"Rate limit exceeded: {refusal.problem}")
        return _finish(sandbox, request, _json_response(429, detail, headers))
    try:
        stored, drop = await _admitted(sandbox, request, route, params, caller, tenant_id, body)
    finally:
        sandbox.limiter.release(caller.client_id, tenant_id)
    headers = dict(stored.headers)
    headers.update(sandbox.limiter.headers(sandbox.now(), caller.client_id, tenant_id, limits))
    if drop:
        return _Drop()
    response = Response(
        stored.body, status_code=stored.status, media_type=stored.media_type, headers=headers
    )
    return _finish(sandbox, request, response)


async def _admitted(
    sandbox: Sandbox,
    request: Request,
    route: router.RouteSpec,
    params: dict[str, str],
    caller: auth.Caller,
    tenant_id: str,
    body: bytes,
) -> tuple[StoredResponse, bool]:
    method = request.method.upper()
    plan = plan_for(sandbox.settings, tenant_id, method, sandbox.rng)
    if plan.latency_seconds:
        await asyncio.sleep(plan.latency_seconds)
    if plan.error_status == 503:
        return _error_503(), False
    if plan.error_status == 500:
        return _error_500(), False
    key = request.headers.get("idempotency-key")
    entry = None
    if key is not None and method in ("POST", "PUT", "PATCH"):
        if len(key) > MAX_KEY_LENGTH:
            body_400 = {
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": too_long_message(key),
            }
            return StoredResponse(400, dumps(body_400).encode(), JSON, {}), False
        fp = fingerprint(method, request.url.path, request.url.query, tenant_id, body)
        while True:
            existing = sandbox.idempotency.lookup(caller.client_id, key, sandbox.now())
            if existing is None:
                entry = sandbox.idempotency.begin(
                    caller.client_id, key, fp, sandbox.now(), sandbox.settings.idempotency_seconds
                )
                break
            if existing.fingerprint != fp:
                body_400 = {
                    "ErrorNumber": 10,
                    "Type": "ValidationException",
                    "Message": mismatch_message(key),
                }
                return StoredResponse(400, dumps(body_400).encode(), JSON, {}), False
            await existing.done.wait()
            if existing.response is not None:
                # A replay runs nothing, so it cannot be dropped or delayed mid-change.
                return existing.response, False
    try:
        stored = _run(sandbox, request, route, params, caller, tenant_id, body)
    except BaseException:
        if entry is not None:
            sandbox.idempotency.abandon(caller.client_id, key or "", entry)
        raise
    if entry is not None:
        sandbox.idempotency.finish(entry, stored)
    if plan.delay_seconds:
        await asyncio.sleep(plan.delay_seconds)
    return stored, plan.drop


def _run(
    sandbox: Sandbox,
    request: Request,
    route: router.RouteSpec,
    params: dict[str, str],
    caller: auth.Caller,
    tenant_id: str,
    body: bytes,
) -> StoredResponse:
    org = sandbox.state.organisations[tenant_id]
    ctx = Ctx(
        sandbox=sandbox,
        org=org,
        caller=caller,
        method=request.method.upper(),
        path_params=params,
        query={k.lower(): v for k, v in request.query_params.items()},
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        now=sandbox.now(),
        path="/" + request.path_params.get("rest", ""),
    )
    if len(body) > sandbox.settings.request_max_bytes and not route.raw_body:
        return StoredResponse(413, b"Request Entity Too Large", "text/plain", {})
    try:
        result = route.handler(ctx)
    except ApiError as exc:
        result = exc
    except Exception:
        # A bug here must look like Xero's 500, and be visible to the tests.
        sandbox.errors.append(f"{request.method} {request.url}\n{traceback.format_exc()}")
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return _error_500()
    if ctx.changed:
        # Summarised batches answered 400 may still have kept their good elements.
        sandbox.save()
        sandbox.changed(tenant_id)
    return _stored(result)


def _finish(sandbox: Sandbox, request: Request, response: Response) -> Response:
    # Xero stamps every Accounting API answer, errors included, with an id its support
    # can trace; on an envelope it is the envelope's own `Id` (recorded GET /Organisation).
    body = bytes(response.body)
    envelope_id = _ENVELOPE_ID.match(body[:60])
    response.headers["Xero-Correlation-Id"] = (
        envelope_id.group(1).decode() if envelope_id else str(uuid.uuid4())
    )
    sandbox.record(
        request.method.upper(),
        request.url.path,
        response.status_code,
        response.media_type or "",
        bytes(response.body),
    )
    return response


def create_app(state: Path | None = None, sandbox: Sandbox | None = None) -> Any:
    """The sandbox as an ASGI app; `state` keeps its books in a SQLite file."""
    runtime = sandbox or Sandbox(state)
    methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]
    routes = [
        Route("/api.xro/2.0/{rest:path}", accounting_endpoint, methods=methods),
        Route("/connections", auth.connections_endpoint, methods=["GET"]),
        Route("/Connections", auth.connections_endpoint, methods=["GET"]),
        Route("/connections/{id}", auth.connection_delete_endpoint, methods=["DELETE"]),
        Route("/Connections/{id}", auth.connection_delete_endpoint, methods=["DELETE"]),
        Route("/connect/token", auth.token_endpoint, methods=["POST"]),
        Route("/connect/revocation", auth.revocation_endpoint, methods=["POST"]),
        Route("/identity/connect/authorize", auth.authorize_page, methods=["GET"]),
        Route("/identity/connect/authorize", auth.authorize_submit, methods=["POST"]),
        *admin.routes(),
        *admin_books.routes(),
        *admin_accountant.routes(),
    ]
    validation.warm_up()
    app = Starlette(routes=routes)
    app.state.sandbox = runtime
    return _AbortAware(app)
