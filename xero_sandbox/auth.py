"""OAuth 2.0 as Xero's identity service does it: codes, tokens, rotation, revocation, connections.

Token bodies and error bodies follow xero-facts.md §2; the SDK's exception handler matches
the exact body `{"error":"invalid_grant"}`, so errors are written byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .state import AccessToken, AuthCode, Connection, Grant, RefreshToken
from .wire import new_id, problem, token_expired_detail

if TYPE_CHECKING:
    from .runtime import Sandbox

ALL_SCOPES = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.transactions",
    "accounting.contacts",
    "accounting.settings",
    "accounting.attachments",
]

# The user behind the consent page: one person operating the sandbox in a browser.
BROWSER_USER = "00000000-0000-4000-8000-00000000b0b0"


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status

    def response(self) -> Response:
        # Compact separators: clients match the body text exactly.
        return Response(
            json.dumps({"error": self.error}, separators=(",", ":")),
            status_code=self.status,
            media_type="application/json",
        )


class ApiAuthError(Exception):
    """A refused accounting/identity API call, answered with Xero's problem body."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def body(self) -> dict[str, Any]:
        title = "Unauthorized" if self.status == 401 else "Forbidden"
        return problem(self.status, title, self.detail)


@dataclass
class Caller:
    """Who is calling the API: resolved from the bearer token."""

    token: str
    grant: Grant

    @property
    def client_id(self) -> str:
        return self.grant.client_id

    @property
    def scopes(self) -> list[str]:
        return self.grant.scopes


# ---------------------------------------------------------------- JWT-shaped tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(sandbox: Sandbox, claims: dict[str, Any]) -> str:
    # Xero's tokens are JWTs; clients may read claims such as authentication_event_id.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sandbox"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(sandbox.jwt_secret, f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


def issue_token_set(sandbox: Sandbox, grant: Grant) -> dict[str, Any]:
    now = sandbox.now()
    settings = sandbox.settings
    expires = now + timedelta(seconds=settings.access_token_seconds)
    epoch = int(now.timestamp())
    access = _jwt(
        sandbox,
        {
            "nbf": epoch,
            "exp": int(expires.timestamp()),
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": grant.client_id,
            "sub": grant.user_id.replace("-", ""),
            "auth_time": epoch,
            "xero_userid": grant.user_id,
            "global_session_id": grant.grant_id.replace("-", ""),
            "sid": grant.grant_id.replace("-", ""),
            "jti": secrets.token_hex(16),
            "authentication_event_id": grant.auth_event_id,
            "scope": grant.scopes,
        },
    )
    sandbox.state.access_tokens[access] = AccessToken(grant_id=grant.grant_id, expires_at=expires)
    token_set: dict[str, Any] = {}
    if "openid" in grant.scopes:
        token_set["id_token"] = _jwt(
            sandbox,
            {
                "nbf": epoch,
                "exp": epoch + 300,
                "iss": "https://identity.xero.com",
                "aud": grant.client_id,
                "sub": grant.user_id.replace("-", ""),
                "auth_time": epoch,
                "xero_userid": grant.user_id,
                "global_session_id": grant.grant_id.replace("-", ""),
                "sid": grant.grant_id.replace("-", ""),
                "email": "sandbox.user@example.com",
                "given_name": "Sandbox",
                "family_name": "User",
            },
        )
    token_set["access_token"] = access
    token_set["expires_in"] = settings.access_token_seconds
    token_set["token_type"] = "Bearer"
    if "offline_access" in grant.scopes:
        refresh = secrets.token_urlsafe(32)
        sandbox.state.refresh_tokens[refresh] = RefreshToken(
            grant_id=grant.grant_id,
            issued_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
        token_set["refresh_token"] = refresh
    token_set["scope"] = " ".join(grant.scopes)
    return token_set


def create_grant(
    sandbox: Sandbox, client_id: str, tenant_ids: list[str], scopes: list[str], user_id: str
) -> Grant:
    now = sandbox.now()
    grant = Grant(
        grant_id=new_id(),
        client_id=client_id,
        user_id=user_id,
        scopes=list(dict.fromkeys(scopes)),
        auth_event_id=new_id(),
    )
    sandbox.state.grants[grant.grant_id] = grant
    for tenant_id in tenant_ids:
        existing = sandbox.state.connection_for(client_id, user_id, tenant_id)
        if existing:
            # Reconnecting keeps the connection id; Xero then shows created != updated.
            existing.updated = now
            existing.auth_event_id = grant.auth_event_id
        else:
            connection = Connection(
                id=new_id(),
                client_id=client_id,
                user_id=user_id,
                tenant_id=tenant_id,
                auth_event_id=grant.auth_event_id,
                created=now,
                updated=now,
            )
            sandbox.state.connections[connection.id] = connection
    return grant


# ---------------------------------------------------------------- bearer checks


def resolve_caller(sandbox: Sandbox, request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiAuthError(401, "AuthenticationUnsuccessful")
    token = token.strip()
    record = sandbox.state.access_tokens.get(token)
    if record is None:
        raise ApiAuthError(401, "AuthenticationUnsuccessful")
    if sandbox.now() >= record.expires_at:
        raise ApiAuthError(401, token_expired_detail(record.expires_at))
    grant = sandbox.state.grants.get(record.grant_id)
    if grant is None or grant.revoked:
        raise ApiAuthError(401, "AuthenticationUnsuccessful")
    return Caller(token=token, grant=grant)


def check_tenant(sandbox: Sandbox, caller: Caller, tenant_id: str | None) -> None:
    if not tenant_id:
        raise ApiAuthError(403, "AuthenticationUnsuccessful")
    tenant_id = tenant_id.strip().lower()
    if tenant_id not in sandbox.state.organisations:
        raise ApiAuthError(403, "AuthenticationUnsuccessful")
    grant = caller.grant
    if sandbox.state.connection_for(grant.client_id, grant.user_id, tenant_id) is None:
        raise ApiAuthError(403, "AuthenticationUnsuccessful")


# Which scopes let a caller read (GET) or write each collection. Broad scopes as in the
# spec, plus the granular scopes Xero gives apps created since March 2026.
_SCOPES: dict[str, tuple[set[str], set[str]]] = {}


def _scope_rule(collections: list[str], write: set[str]) -> None:
    read = write | {s + ".read" for s in write}
    for name in collections:
        _SCOPES[name] = (read, write)


_scope_rule(["invoices", "creditnotes"], {"accounting.transactions", "accounting.invoices"})
_scope_rule(["payments"], {"accounting.transactions", "accounting.payments"})
_scope_rule(["banktransactions"], {"accounting.transactions", "accounting.banktransactions"})
_scope_rule(["contacts"], {"accounting.contacts"})
_scope_rule(
    ["accounts", "taxrates", "currencies", "organisation", "trackingcategories"],
    {"accounting.settings"},
)
_scope_rule(["attachments"], {"accounting.attachments"})


def check_scope(caller: Caller, collection: str, method: str) -> None:
    rule = _SCOPES.get(collection)
    if rule is None:
        return
    read, write = rule
    allowed = read if method in ("GET", "HEAD") else write
    if not allowed.intersection(caller.scopes):
        raise ApiAuthError(401, "AuthorizationUnsuccessful")


# ---------------------------------------------------------------- token endpoint


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client") from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client")
        return client_id, secret
    posted_id = form.get("client_id")
    if not posted_id:
        raise OAuthError("invalid_client")
    return posted_id, form.get("client_secret")


def _authenticate_client(
    sandbox: Sandbox, request: Request, form: dict[str, str], secret_optional: bool = False
) -> str:
    client_id, secret = _client_credentials(request, form)
    client = sandbox.state.clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_client")
    if secret is None and secret_optional:
        return client_id
    if secret is None or not hmac.compare_digest(secret, client.client_secret):
        raise OAuthError("invalid_client")
    return client_id


async def token_endpoint(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        form = await _form(request)
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            token_set = _refresh(sandbox, request, form)
        elif grant_type == "authorization_code":
            token_set = _exchange_code(sandbox, request, form)
        elif not grant_type:
            raise OAuthError("invalid_request")
        else:
            raise OAuthError("unsupported_grant_type")
    except OAuthError as exc:
        return exc.response()
    sandbox.save()
    return JSONResponse(token_set, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _refresh(sandbox: Sandbox, request: Request, form: dict[str, str]) -> dict[str, Any]:
    client_id = _authenticate_client(sandbox, request, form)
    token = form.get("refresh_token", "")
    record = sandbox.state.refresh_tokens.get(token)
    now = sandbox.now()
    if record is None or record.revoked or now >= record.expires_at:
        raise OAuthError("invalid_grant")
    grant = sandbox.state.grants.get(record.grant_id)
    if grant is None or grant.revoked or grant.client_id != client_id:
        raise OAuthError("invalid_grant")
    if record.superseded_at is not None:
        grace = timedelta(seconds=sandbox.settings.refresh_grace_seconds)
        if now >= record.superseded_at + grace:
            raise OAuthError("invalid_grant")
    requested = form.get("scope")
    if requested and not set(requested.split()).issubset(grant.scopes):
        raise OAuthError("invalid_scope")
    if record.superseded_at is None:
        record.superseded_at = now
    return issue_token_set(sandbox, grant)


def _exchange_code(sandbox: Sandbox, request: Request, form: dict[str, str]) -> dict[str, Any]:
    code_value = form.get("code", "")
    code = sandbox.state.codes.get(code_value)
    # A PKCE client has no secret; a confidential client must present one.
    pkce = code is not None and code.code_challenge is not None
    client_id = _authenticate_client(sandbox, request, form, secret_optional=pkce)
    if code is None or code.used or sandbox.now() >= code.expires_at:
        raise OAuthError("invalid_grant")
    if code.client_id != client_id or form.get("redirect_uri") != code.redirect_uri:
        code.used = True
        raise OAuthError("invalid_grant")
    if code.code_challenge is not None:
        verifier = form.get("code_verifier", "")
        if not _verifier_ok(verifier, code.code_challenge, code.code_challenge_method):
            code.used = True
            raise OAuthError("invalid_grant")
    code.used = True
    grant = create_grant(sandbox, client_id, code.tenant_ids, code.scopes, code.user_id)
    return issue_token_set(sandbox, grant)


_VERIFIER_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _verifier_ok(verifier: str, challenge: str, method: str | None) -> bool:
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER_CHARS:
        return False
    if method == "S256":
        computed = _b64(hashlib.sha256(verifier.encode()).digest())
    elif method == "plain":
        computed = verifier
    else:
        return False
    return hmac.compare_digest(computed, challenge)


async def revocation_endpoint(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        form = await _form(request)
        client_id = _authenticate_client(sandbox, request, form)
    except OAuthError as exc:
        return exc.response()
    token = form.get("token", "")
    record = sandbox.state.refresh_tokens.get(token)
    grant = sandbox.state.grants.get(record.grant_id) if record else None
    # RFC 7009: an unknown token is not an error; answer 200 and change nothing.
    if grant is not None and grant.client_id == client_id:
        revoke_grant(sandbox, grant)
        sandbox.save()
    return Response(status_code=200)


def revoke_grant(sandbox: Sandbox, grant: Grant) -> None:
    """Revoking a refresh token removes all of that user's connections to the app."""
    state = sandbox.state
    affected = [
        g.grant_id
        for g in state.grants.values()
        if g.client_id == grant.client_id and g.user_id == grant.user_id
    ]
    for grant_id in affected:
        state.grants[grant_id].revoked = True
    for record in state.refresh_tokens.values():
        if record.grant_id in affected:
            record.revoked = True
    for token, access in list(state.access_tokens.items()):
        if access.grant_id in affected:
            del state.access_tokens[token]
    for connection_id, connection in list(state.connections.items()):
        if connection.client_id == grant.client_id and connection.user_id == grant.user_id:
            del state.connections[connection_id]


# ---------------------------------------------------------------- connections


def _connection_json(sandbox: Sandbox, connection: Connection) -> dict[str, Any]:
    org = sandbox.state.organisations.get(connection.tenant_id)
    return {
        "id": connection.id,
        "authEventId": connection.auth_event_id,
        "tenantId": connection.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": org.name if org else "",
        "createdDateUtc": _identity_time(connection.created),
        "updatedDateUtc": _identity_time(connection.updated),
    }


def _identity_time(moment: datetime) -> str:
    # The identity API writes 7 fractional digits and no zone.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _identity_error(exc: ApiAuthError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status)


async def connections_endpoint(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        caller = resolve_caller(sandbox, request)
    except ApiAuthError as exc:
        return _identity_error(exc)
    grant = caller.grant
    event = request.query_params.get("authEventId")
    rows = [
        _connection_json(sandbox, c)
        for c in sandbox.state.connections.values()
        if c.client_id == grant.client_id
        and c.user_id == grant.user_id
        and (not event or c.auth_event_id == event)
    ]
    return JSONResponse(rows)


async def connection_delete_endpoint(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        caller = resolve_caller(sandbox, request)
    except ApiAuthError as exc:
        return _identity_error(exc)
    connection = sandbox.state.connections.get(request.path_params["id"].lower())
    grant = caller.grant
    if (
        connection is None
        or connection.client_id != grant.client_id
        or (connection.user_id != grant.user_id)
    ):
        return Response(status_code=404)
    del sandbox.state.connections[connection.id]
    sandbox.save()
    return Response(status_code=204)


# ---------------------------------------------------------------- consent page

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Xero Sandbox | Authorise</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}
button{{background:#13b5ea;color:#fff;border:0;padding:.6em 1.4em;font-size:1em}}</style>
</head><body>
<h1>{client} wants access to your Xero organisation</h1>
<p>Scopes requested: <code>{scopes}</code></p>
<form method="post">
{hidden}
<fieldset><legend>Organisations</legend>
{orgs}
</fieldset>
<p><button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="deny">Cancel</button></p>
</form></body></html>
"""


def _authorize_params(params: dict[str, str], sandbox: Sandbox) -> tuple[str, str]:
    client = sandbox.state.clients.get(params.get("client_id", ""))
    if client is None:
        raise ValueError("unauthorized_client: unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise ValueError("invalid_request: redirect_uri is not registered for this client")
    if params.get("response_type") != "code":
        raise ValueError("unsupported_response_type")
    method = params.get("code_challenge_method")
    if params.get("code_challenge") and method not in ("S256", "plain"):
        raise ValueError("invalid_request: code_challenge_method must be S256")
    return client.client_id, redirect_uri


async def authorize_page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    params = dict(request.query_params)
    try:
        client_id, _ = _authorize_params(params, sandbox)
    except ValueError as exc:
        return HTMLResponse(f"<h1>Error</h1><p>{html.escape(str(exc))}</p>", status_code=400)
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    orgs = (
        "\n".join(
            f'<label><input type="checkbox" name="tenant_id" value="{org.tenant_id}" checked> '
            f"{html.escape(org.name)} ({org.base_currency})</label><br>"
            for org in sandbox.state.organisations.values()
        )
        or "<p>No organisations yet: create one with POST /_sandbox/organisations.</p>"
    )
    page = _PAGE.format(
        client=html.escape(sandbox.state.clients[client_id].name),
        scopes=html.escape(params.get("scope", "")),
        hidden=hidden,
        orgs=orgs,
    )
    return HTMLResponse(page)


async def authorize_submit(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    form = await request.form()
    params = {k: str(v) for k, v in form.items() if k not in ("tenant_id", "decision")}
    # Query parameters count too, so a plain POST to the authorize URL works.
    for key, value in request.query_params.items():
        params.setdefault(key, value)
    try:
        client_id, redirect_uri = _authorize_params(params, sandbox)
    except ValueError as exc:
        return HTMLResponse(f"<h1>Error</h1><p>{html.escape(str(exc))}</p>", status_code=400)
    state = params.get("state")
    answer: dict[str, str] = {}
    if form.get("decision") == "deny":
        answer["error"] = "access_denied"
    else:
        tenant_ids = [str(t) for t in form.getlist("tenant_id")]
        tenant_ids = [t for t in tenant_ids if t in sandbox.state.organisations]
        scopes = params.get("scope", "").split()
        code = secrets.token_urlsafe(32)
        sandbox.state.codes[code] = AuthCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=params.get("login_hint") or BROWSER_USER,
            tenant_ids=tenant_ids,
            scopes=scopes,
            code_challenge=params.get("code_challenge") or None,
            code_challenge_method=(params.get("code_challenge_method") or "plain")
            if params.get("code_challenge")
            else None,
            expires_at=sandbox.now() + timedelta(seconds=sandbox.settings.code_seconds),
        )
        sandbox.save()
        answer["code"] = code
        answer["scope"] = " ".join(scopes)
    if state is not None:
        answer["state"] = state
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(answer), status_code=302)
