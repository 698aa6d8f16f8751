"""The setup page at /setup/{company_id}: the help article's steps, server-rendered.

Auth: Roger's backend asks ``POST /v1/companies/{id}/xero/setup-session`` (service
bearer token) for a link; the link's signed session becomes an HttpOnly,
SameSite=Lax cookie scoped to ``/setup/{id}``, so it works for that company only,
for at most 30 minutes, and only until the company's next connect or disconnect
(the connection version inside it). Every form carries a CSRF field derived from
the session; form bodies are read only after the session is checked, and at most
``MAX_FORM_BYTES`` of them. The form handlers are server-side and call the same
``Connector`` methods as the API. Starting the OAuth flow here also sets a cookie
on ``/v1/xero/`` that binds the state to this browser.

Every page goes out with a strict Content-Security-Policy (its one style and one
script allowed by hash, nothing else), ``frame-ancestors 'none'`` and no referrer to
other sites.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prometheus_client import REGISTRY

from services.connections import integration_view, oauth, profiles, session, templates
from services.connections.flow import Connector
from services.connections.setup_rules import company_id_ok, tenant_id_ok
from services.connections.sync_status import SyncStatusReader, Unavailable
from shared.http import ApiError
from shared.logging import get_logger
from shared.settings import ConnectionsSettings

log = get_logger("connections")

SESSION_COOKIE = "rx_setup"
BINDING_COOKIE = "rx_connect_binding"
# The binding cookie goes to the launch link and the callback, nowhere else.
BINDING_PATH = "/v1/xero/"
# The largest form of the page is well under 1 KiB; nothing legitimate comes near this.
MAX_FORM_BYTES = 64 * 1024

_REASONS = {
    "access_denied": "You chose Cancel on Xero's page, so nothing was connected.",
    "state_expired": "The sign-in at Xero took longer than 10 minutes. Please connect again.",
    "invalid_grant": "Xero did not accept the sign-in (it was used or expired). Please try again.",
    "xero_unreachable": "Xero could not be reached. Please try again in a moment.",
}


def _reason_text(reason: str) -> str:
    known = _REASONS.get(reason)
    if known:
        return known
    shown = reason if reason.replace("_", "").isalnum() and len(reason) <= 64 else "unknown"
    return f"Connecting to Xero failed ({shown}). Please try again."


def content_security_policy(form_targets: str = "", scripts: str = "") -> str:
    """The pages' CSP: only our hashed style and script (plus ``scripts``, hash sources of
    the integration page's two served scripts); forms post to us (and, for the connect
    button, which redirects there, Xero's authorize page); never framed."""
    return (
        "default-src 'none'; "
        f"style-src '{templates.STYLE_HASH}'; "
        f"script-src '{templates.SCRIPT_HASH}'{(' ' + scripts) if scripts else ''}; "
        f"form-action 'self'{(' ' + form_targets) if form_targets else ''}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def page_headers(response: Response, form_targets: str = "", scripts: str = "") -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(form_targets, scripts)
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with the
    # page's own form posts (Fetch, "serializing a request origin"), and those are refused as
    # cross-origin (``posted``); other sites still get no referrer.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


async def page_session(
    settings: ConnectionsSettings, connector: Connector, company_id: str
) -> tuple[str, int]:
    """(session, expires_at Unix s) for the company's setup page, bound to its current
    connection version; at most ``session.MAX_SESSION_S`` long whatever is configured."""
    ttl = max(1, min(settings.setup_session_ttl_s, session.MAX_SESSION_S))
    expires_at = int(time.time()) + ttl
    version = await profiles.version(connector.pool, company_id)
    keys = [k.get_secret_value() for k in settings.token_keys]
    return session.issue(company_id, expires_at, version, keys), expires_at


def _set_session_cookie(
    response: Response, settings: ConnectionsSettings, company_id: str, value: str, expires: int
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max(1, expires - int(time.time())),
        path=f"/setup/{company_id}",
        httponly=True,
        samesite="lax",
        secure=urlsplit(settings.ingest_public_url).scheme == "https",
    )


async def set_page_session(
    response: Response, settings: ConnectionsSettings, connector: Connector, company_id: str
) -> None:
    """A fresh session cookie for a browser that just changed the connection version itself."""
    value, expires = await page_session(settings, connector, company_id)
    _set_session_cookie(response, settings, company_id, value, expires)


class _TooLarge(Exception):
    pass


async def _read_form(request: Request) -> dict[str, str] | None:
    """The url-encoded form, at most ``MAX_FORM_BYTES``; None when it is not one.
    Raises ``_TooLarge``."""
    declared = request.headers.get("content-length")
    if declared is not None and (
        not (declared.isascii() and declared.isdigit())
        or len(declared) > 12
        or int(declared) > MAX_FORM_BYTES
    ):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _TooLarge
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


def assets_router() -> APIRouter:
    """``GET /setup-assets/{name}``: the integration page's scripts (a fixed set, no paths)."""
    router = APIRouter(prefix=integration_view.ASSETS_PATH.rstrip("/"), include_in_schema=False)

    @router.get("/{name}", response_model=None)
    async def asset(name: str) -> Response:
        found = integration_view.ASSETS.get(name)
        if found is None:
            return Response(status_code=404)
        response = Response(found.body, media_type="text/javascript; charset=utf-8")
        response.headers["X-Content-Type-Options"] = "nosniff"
        # The names carry the version; the page pins the content by its hash anyway.
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    return router


def day_calls_remaining(tenant_id: str | None) -> int | None:
    """Xero's X-DayLimit-Remaining for the organisation as this process last heard it (the
    shared Xero client's gauge ``rx_xero_day_calls_remaining``), or None."""
    if not tenant_id:
        return None
    value = REGISTRY.get_sample_value("rx_xero_day_calls_remaining", {"tenant_id": tenant_id})
    return int(value) if value is not None else None


def page_router(
    settings: ConnectionsSettings,
    connector: Callable[[], Awaitable[Connector]],
    sync_status: SyncStatusReader,
) -> APIRouter:
    router = APIRouter(prefix="/setup/{company_id}", include_in_schema=False)
    keys = [k.get_secret_value() for k in settings.token_keys]
    xero = oauth.origin(settings.xero_authorize_url) or ""

    def base(company_id: str) -> str:
        return f"/setup/{company_id}"

    async def current_session(request: Request, company_id: str) -> str | None:
        """The request's session cookie when it is valid for this company now: signature,
        company, expiry (capped) and connection version (one query, after the rest)."""
        if not company_id_ok(company_id):
            return None
        value = request.cookies.get(SESSION_COOKIE)
        claims = session.read(value, keys)
        if value is None or claims is None or claims.company_id != company_id:
            return None
        version = await profiles.version((await connector()).pool, company_id)
        return value if session.valid_for(value, company_id, time.time(), keys, version) else None

    def html(body: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(body, status_code=status)
        page_headers(response, xero)
        return response

    def denied() -> HTMLResponse:
        return html(templates.session_missing_page(), 401)

    async def render(
        company_id: str, sess: str, notice: str = "", step: str | None = None, status: int = 200
    ) -> HTMLResponse:
        c = await connector()
        csrf = session.csrf_token(sess, keys)
        here = base(company_id)
        view = await c.connection(company_id)
        try:
            if view["status"] == "connected" and step != "organisation":
                return await integration(company_id, sess, notice, status)
            if view["status"] in ("pending_setup", "connected"):
                row = await c.tokens.row(company_id)
                chosen = row.tenant_id if row else ""
                if step == "organisation" or not chosen:
                    orgs = await c.organisations(company_id)
                    if not chosen and len(orgs) == 1:
                        chosen = orgs[0]["tenant_id"]  # the one organisation just authorised
                    page = templates.organisation_step(here, csrf, orgs, chosen, notice)
                    return html(page, status)
                accounts = await c.accounts(company_id, None)
                page = templates.defaults_step(
                    here,
                    csrf,
                    view.get("organisation_name") or chosen,
                    accounts,
                    view.get("default_account_code"),
                    view.get("default_payment_account_code"),
                    notice,
                    view.get("lock_date_policy") or "fail",
                    view.get("bill_status") or "AUTHORISED",
                )
                return html(page, status)
        except ApiError as exc:
            notice += templates.message(exc.message, "err")
            if exc.code not in ("needs_reconnect", "not_connected"):
                return html(templates.connect_step(here, csrf, view["status"], notice), 502)
            view = await c.connection(company_id)
        return html(templates.connect_step(here, csrf, view["status"], notice), status)

    async def integration(
        company_id: str, sess: str, notice: str = "", status: int = 200
    ) -> HTMLResponse:
        """The integration page, in whatever state the connection is."""
        view = await (await connector()).connection(company_id)
        try:
            sync = await sync_status.status(company_id)
        except Unavailable as exc:
            log.warning("sync_status_unavailable", company_id=company_id, error=str(exc))
            sync = None
        # The writer's word (it spends the budget) when there is one; else this process's.
        kept = await profiles.get((await connector()).pool, company_id)
        budget = (
            integration_view.Budget(kept.day_calls_remaining, kept.day_calls_seen_at)
            if kept is not None and kept.day_calls_remaining is not None
            else integration_view.Budget(day_calls_remaining(view.get("tenant_id")))
        )
        csrf = session.csrf_token(sess, keys)
        page = integration_view.integration_page(base(company_id), csrf, view, sync, budget, notice)
        response = HTMLResponse(page, status_code=status)
        page_headers(response, xero, integration_view.SCRIPT_SOURCES)
        return response

    @router.get("", response_model=None)
    async def show(
        request: Request,
        company_id: str,
        status: str | None = None,
        reason: str | None = None,
        step: str | None = None,
        done: str | None = None,
    ) -> Response:
        link = request.query_params.get("session")
        if link is not None:
            if not company_id_ok(company_id):
                return denied()
            version = await profiles.version((await connector()).pool, company_id)
            if not session.valid_for(link, company_id, time.time(), keys, version):
                return denied()
            claims = session.read(link, keys)
            assert claims is not None
            # Into a cookie, and out of the address bar and the history.
            rest = {k: v for k, v in request.query_params.items() if k != "session"}
            target = base(company_id) + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            page_headers(response)
            # The link's own URL carries the session: not even our own pages get it as referrer.
            response.headers["Referrer-Policy"] = "no-referrer"
            _set_session_cookie(response, settings, company_id, link, claims.expires_at)
            return response
        sess = await current_session(request, company_id)
        if sess is None:
            return denied()
        notice = ""
        if status == "connected":
            c = await connector()
            if (await c.connection(company_id))["status"] == "connected":
                notice = templates.message(
                    "Connected to Xero again: the same organisation and default accounts are kept."
                )
            else:
                notice = templates.message("Connected to Xero. Now choose the organisation.")
        elif status == "error":
            notice = templates.message(_reason_text(reason or "unknown"), "err")
        elif done:
            notice = templates.message(
                {
                    "finished": "Setup finished: Roger now syncs to Xero.",
                    "imported": "Categories are being imported into Roger.",
                    "disconnected": "Disconnected from Xero.",
                }.get(done, "")
            )
        return await render(company_id, sess, notice, step)

    @router.get("/integration", response_model=None)
    async def integration_page(
        request: Request, company_id: str, done: str | None = None
    ) -> Response:
        sess = await current_session(request, company_id)
        if sess is None:
            return denied()
        notice = ""
        if done == "retried":
            notice = templates.message("Sent to Xero again. The page shows how it went.")
        return await integration(company_id, sess, notice)

    @router.post("/retry", response_model=None)
    async def retry(request: Request, company_id: str) -> Response:
        """A person's Retry of a failed document: the projector's retry (which publishes
        ``DocumentRetryRequested``), then back to the integration page."""
        got = await posted(request, company_id)
        if isinstance(got, Response):
            return got
        sess, form = got
        kind, roger_id = form.get("kind", ""), form.get("roger_id", "")
        if kind not in integration_view.KIND_NAMES or not 0 < len(roger_id) <= 512:
            return html(templates.form_refused_page(), 403)
        try:
            took, why = await sync_status.retry(company_id, kind, roger_id)
        except Unavailable:
            took, why = False, "The retry could not be sent right now. Try again in a moment."
        if not took:
            return await integration(company_id, sess, templates.message(why, "err"), 409)
        response = RedirectResponse(f"{base(company_id)}/integration?done=retried", status_code=303)
        page_headers(response)
        return response

    ours = oauth.origin(settings.ingest_public_url)

    async def posted(request: Request, company_id: str) -> tuple[str, dict[str, str]] | Response:
        """(session, form) of a valid post, or the answer to send instead: 401 without a
        valid session (the body is not read at all without one), 403 when the browser says
        the form came from another origin or its CSRF field is wrong, 413 when the body is
        over ``MAX_FORM_BYTES``."""
        sess = await current_session(request, company_id)
        if sess is None:
            return denied()
        # Defence in depth beside the CSRF field: browsers send Origin on every POST
        # (OWASP CSRF cheat sheet, "verifying origin with standard headers").
        origin = request.headers.get("origin")
        if origin is not None and oauth.origin(origin) != ours:
            return html(templates.form_refused_page(), 403)
        try:
            form = await _read_form(request)
        except _TooLarge:
            return html(templates.too_large_page(), 413)
        if form is None or not session.csrf_ok(sess, form.get("csrf"), keys):
            return html(templates.form_refused_page(), 403)
        return sess, form

    def back(company_id: str, **params: str) -> RedirectResponse:
        query = f"?{urlencode(params)}" if params else ""
        response = RedirectResponse(base(company_id) + query, status_code=303)
        page_headers(response)
        return response

    @router.post("/connect", response_model=None)
    async def connect(request: Request, company_id: str) -> Response:
        got = await posted(request, company_id)
        if isinstance(got, Response):
            return got
        sess, _ = got
        cookie, browser_key = session.new_binding()
        after = settings.ingest_public_url.rstrip("/") + base(company_id)
        try:
            url = await (await connector()).start(company_id, after, browser_key, "page")
        except ApiError as exc:
            return await render(company_id, sess, templates.message(exc.message, "err"))
        response = RedirectResponse(url, status_code=303)
        page_headers(response)
        response.set_cookie(
            BINDING_COOKIE,
            cookie,
            max_age=settings.connect_state_ttl_s,
            path=BINDING_PATH,
            httponly=True,
            samesite="lax",
            secure=urlsplit(settings.ingest_public_url).scheme == "https",
        )
        return response

    @router.post("/organisation", response_model=None)
    async def organisation(request: Request, company_id: str) -> Response:
        got = await posted(request, company_id)
        if isinstance(got, Response):
            return got
        sess, form = got
        tenant_id = form.get("tenant_id", "")
        try:
            if not tenant_id_ok(tenant_id):
                raise ApiError(422, "invalid_tenant_id", "Choose one of the organisations.")
            await (await connector()).choose_organisation(company_id, tenant_id)
        except ApiError as exc:
            notice = templates.message(exc.message, "err")
            return await render(company_id, sess, notice, "organisation", exc.status)
        return back(company_id)

    @router.post("/finish", response_model=None)
    async def finish(request: Request, company_id: str) -> Response:
        got = await posted(request, company_id)
        if isinstance(got, Response):
            return got
        sess, form = got
        c = await connector()
        row = await c.tokens.row(company_id)
        try:
            await c.finish(
                company_id,
                row.tenant_id if row else "",
                form.get("default_account_code", "")[:20],
                form.get("default_payment_account_code", "")[:20],
                form.get("import_categories") == "yes",
                "next_open_day" if form.get("lock_date_policy") == "next_open_day" else "fail",
                templates.bill_status_of(form.get("bill_status", "")),
            )
        except ApiError as exc:
            notice = templates.message(exc.message, "err")
            return await render(company_id, sess, notice, status=exc.status)
        return back(company_id, done="finished")

    @router.post("/categories", response_model=None)
    async def categories(request: Request, company_id: str) -> Response:
        got = await posted(request, company_id)
        if isinstance(got, Response):
            return got
        sess, _ = got
        try:
            await (await connector()).import_categories(company_id)
        except ApiError as exc:
            return await render(company_id, sess, templates.message(exc.message, "err"))
        return back(company_id, done="imported")

    @router.post("/disconnect", response_model=None)
    async def disconnect(request: Request, company_id: str) -> Response:
        got = await posted(request, company_id)
        if isinstance(got, Response):
            return got
        c = await connector()
        await c.disconnect(company_id)
        # Disconnecting ended every setup link of the company; this person's page goes on.
        response = back(company_id, done="disconnected")
        await set_page_session(response, settings, c, company_id)
        return response

    return router
