"""The admin API under /_sandbox/: set up clients, organisations and grants; read ledgers;
turn the knobs. Not part of Xero: tests and the demo drive the sandbox through it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import ALL_SCOPES, create_grant, issue_token_set
from .settings import SettingsError
from .state import Client, new_organisation
from .wire import dumps, loads, new_id

if TYPE_CHECKING:
    from .runtime import Sandbox

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    return loads(raw)


async def register_client(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        data = await _body(request)
    except ValueError:
        return _error("body must be JSON")
    if not isinstance(data, dict):
        return _error("body must be a JSON object")
    client_id = str(data.get("client_id") or secrets.token_hex(16).upper())
    secret = str(data.get("client_secret") or secrets.token_urlsafe(36))
    uris = data.get("redirect_uris") or []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        return _error("redirect_uris must be a list of strings")
    sandbox.state.clients[client_id] = Client(
        client_id=client_id,
        client_secret=secret,
        redirect_uris=uris,
        name=str(data.get("name") or "Sandbox app " + client_id[:6]),
    )
    sandbox.save()
    return _json({"client_id": client_id, "client_secret": secret, "redirect_uris": uris}, 201)


async def create_organisation(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        data = await _body(request)
    except ValueError:
        return _error("body must be JSON")
    if not isinstance(data, dict):
        return _error("body must be a JSON object")
    name = str(data.get("name") or "").strip()
    base = str(data.get("base_currency") or "").strip().upper()
    currencies = data.get("currencies") or []
    if not name:
        return _error("name is required")
    if not _CURRENCY.match(base):
        return _error("base_currency must be an ISO 4217 code")
    if not isinstance(currencies, list) or not all(
        isinstance(c, str) and _CURRENCY.match(c.upper()) for c in currencies
    ):
        return _error("currencies must be a list of ISO 4217 codes")
    org = new_organisation(name, base, [c.upper() for c in currencies], sandbox.now())
    sandbox.state.organisations[org.tenant_id] = org
    sandbox.save()
    return _json({"tenant_id": org.tenant_id, "name": org.name, "short_code": org.short_code}, 201)


async def list_organisations(request: Request) -> Response:
    sandbox = _sandbox(request)
    return _json(
        [
            {
                "tenant_id": o.tenant_id,
                "name": o.name,
                "base_currency": o.base_currency,
                "currencies": o.currencies,
            }
            for o in sandbox.state.organisations.values()
        ]
    )


async def create_grant_endpoint(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        data = await _body(request)
    except ValueError:
        return _error("body must be JSON")
    if not isinstance(data, dict):
        return _error("body must be a JSON object")
    client_id = str(data.get("client_id") or "")
    if client_id not in sandbox.state.clients:
        return _error("unknown client_id")
    tenant_ids = [str(t).lower() for t in data.get("tenant_ids") or []]
    unknown = [t for t in tenant_ids if t not in sandbox.state.organisations]
    if unknown:
        return _error(f"unknown tenant_ids: {unknown}")
    scopes = data.get("scopes") or ALL_SCOPES
    if isinstance(scopes, str):
        scopes = scopes.split()
    user_id = str(data.get("user_id") or new_id())
    grant = create_grant(sandbox, client_id, tenant_ids, [str(s) for s in scopes], user_id)
    token_set = issue_token_set(sandbox, grant)
    sandbox.save()
    return JSONResponse(token_set)


async def ledger(request: Request) -> Response:
    from .accounting.ledger import ledger_of

    sandbox = _sandbox(request)
    org = sandbox.state.organisations.get(request.path_params["tenant_id"].lower())
    if org is None:
        return _error("unknown tenant", 404)
    return _json(ledger_of(sandbox, org))


async def get_settings(request: Request) -> Response:
    return _json(_sandbox(request).settings.to_json())


async def put_settings(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        patch = await _body(request)
        if not isinstance(patch, dict):
            raise SettingsError("settings must be a JSON object")
        advance = patch.get("advance_clock_seconds")
        if advance is not None and (
            isinstance(advance, bool)
            or not isinstance(advance, int | float)
            and not hasattr(advance, "is_finite")
        ):
            raise SettingsError("advance_clock_seconds must be a number")
        patch = _plain(patch)
        sandbox.settings.merge(patch)
    except (SettingsError, ValueError) as exc:
        return _error(str(exc))
    sandbox.apply_settings_side_effects(patch)
    return _json(sandbox.settings.to_json())


def _plain(value: Any) -> Any:
    """Decimals from our JSON parser become floats for the settings dataclasses."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


async def advance_clock(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        data = _plain(await _body(request))
        seconds = float(data.get("seconds", 0))
    except (ValueError, TypeError, AttributeError):
        return _error("seconds must be a number")
    sandbox.clock.advance(seconds)
    return _json({"now": sandbox.now().isoformat()})


async def reset(request: Request) -> Response:
    _sandbox(request).reset()
    return _json({"status": "reset"})


async def exchanges(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        after = int(request.query_params.get("after", "0"))
    except ValueError:
        after = 0
    rows = [
        {
            "seq": e.seq,
            "method": e.method,
            "path": e.path,
            "status": e.status,
            "media_type": e.media_type,
            "body": base64.b64encode(e.body).decode(),
        }
        for e in sandbox.exchanges
        if e.seq > after
    ]
    return _json(rows)


async def errors(request: Request) -> Response:
    return _json(_sandbox(request).errors)


async def health(request: Request) -> Response:
    sandbox = _sandbox(request)
    return _json({"status": "ok", "now": sandbox.now().isoformat()})


def attachment_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def routes() -> list[Route]:
    return [
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/clients", register_client, methods=["POST"]),
        Route("/_sandbox/organisations", create_organisation, methods=["POST"]),
        Route("/_sandbox/organisations", list_organisations, methods=["GET"]),
        Route("/_sandbox/organisations/{tenant_id}/ledger", ledger, methods=["GET"]),
        Route("/_sandbox/grants", create_grant_endpoint, methods=["POST"]),
        Route("/_sandbox/settings", get_settings, methods=["GET"]),
        Route("/_sandbox/settings", put_settings, methods=["PUT"]),
        Route("/_sandbox/clock/advance", advance_clock, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/exchanges", exchanges, methods=["GET"]),
        Route("/_sandbox/errors", errors, methods=["GET"]),
    ]
