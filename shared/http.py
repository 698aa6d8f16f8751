"""What every service's HTTP side has in common: the error shape, health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logging import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    """An error the caller should see as ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


Sampler = Callable[[], Awaitable[None]]


class PrintablePaths:
    """ASGI middleware: a path holding a control character (a NUL or newline in an id) is a
    422 for every service; no route of ours takes one, and otherwise it is a routing miss or
    a database error (PostgreSQL text cannot hold a NUL)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if any(ord(c) < 32 or ord(c) == 127 for c in path):
            body = error_body("invalid_path", "the path holds a control character")
            await JSONResponse(body, 422)(scope, receive, send)
            return
        await self.app(scope, receive, send)


# A scrape must answer even when the database is slow: a sampler gets this long, then its
# gauges keep their last value (Prometheus scrapes every 15 s by default).
SAMPLE_TIMEOUT_S = 2.0


def install_common(
    app: FastAPI,
    ready: Callable[[], Awaitable[dict[str, bool]]],
    samplers: Sequence[Sampler] = (),
) -> None:
    """Error handlers that never leak a stack trace, plus /healthz, /readyz and /metrics.

    ``samplers`` set gauges that are read from the database (e.g. the age of the oldest
    pending document) just before each scrape, so they cost nothing between scrapes; one that
    fails or takes over ``SAMPLE_TIMEOUT_S`` is logged and skipped, never failing the scrape.
    """

    app.add_middleware(PrintablePaths)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return JSONResponse(error_body("invalid_request", "invalid request", details), 422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", error=repr(exc), exc_info=exc)
        return JSONResponse(error_body("internal", "internal error"), status_code=500)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        for sample in samplers:
            try:
                await asyncio.wait_for(sample(), SAMPLE_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
                log.warning(
                    "metrics_sample_failed",
                    sampler=getattr(sample, "__name__", "?"),
                    error=repr(exc),
                )
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)


async def database_ok(pool: Any) -> bool:
    """Readiness: the pool hands out a connection that answers."""
    try:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        return False
    return True


def bearer_guard(tokens: list[str]) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency: the caller must present one of the service tokens."""
    import hmac

    async def guard(request: Request) -> None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise ApiError(401, "unauthorized", "missing bearer token")
        # compare_digest against every token, so timing does not reveal which one is close.
        matches = [hmac.compare_digest(presented.encode(), t.encode()) for t in tokens]
        if not any(matches):
            raise ApiError(401, "unauthorized", "unknown bearer token")

    return guard
