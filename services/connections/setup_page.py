"""The setup page at /setup/{company_id}: the help article's steps, server-rendered.

Auth: Roger's backend asks ``POST /v1/companies/{id}/xero/setup-session`` (service
bearer token) for a link; the link's signed session becomes an HttpOnly,
SameSite=Lax cookie scoped to ``/setup/{id}``, so it works for that company only
and only until it expires. Every form carries a CSRF field derived from the
session. The form handlers are server-side and call the same ``Connector``
methods as the API. Starting the OAuth flow here also sets a cookie on the
callback path that binds the state to this browser.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.connections import session, templates
from services.connections.flow import Connector
from services.connections.setup_rules import company_id_ok
from shared.http import ApiError
from shared.settings import Settings

SESSION_COOKIE = "rx_setup"
BINDING_COOKIE = "rx_connect_binding"

_REASONS = {
    "access_denied": "You chose Cancel on Xero's page, so nothing was connected.",
    "state_expired": "The sign-in at Xero took longer than 10 minutes. Please connect again.",
    "invalid_grant": "Xero did not accept the sign-in (it was used or expired). Please try again.",
    "xero_unreachable": "Xero could not be reached. Please try again in a moment.",
}


def _reason_text(reason: str) -> str:
    return _REASONS.get(reason, f"Connecting to Xero failed ({reason}). Please try again.")


def page_router(settings: Settings, connector: Callable[[], Awaitable[Connector]]) -> APIRouter:
    router = APIRouter(prefix="/setup/{company_id}", include_in_schema=False)
    keys = [k.get_secret_value() for k in settings.token_keys]
    secure = urlsplit(settings.ingest_public_url).scheme == "https"

    def base(company_id: str) -> str:
        return f"/setup/{company_id}"

    def current_session(request: Request, company_id: str) -> str | None:
        if not company_id_ok(company_id):
            return None
        value = request.cookies.get(SESSION_COOKIE)
        return value if session.valid_for(value, company_id, time.time(), keys) else None

    def html(body: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(body, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
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
                return html(templates.connection_page(here, csrf, view, notice), status)
            if view["status"] in ("pending_setup", "connected"):
                row = await c.tokens.row(company_id)
                chosen = row.tenant_id if row else ""
                if step == "organisation" or not chosen:
                    orgs = await c.organisations(company_id)
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
                )
                return html(page, status)
        except ApiError as exc:
            notice += templates.message(exc.message, "err")
            if exc.code not in ("needs_reconnect", "not_connected"):
                return html(templates.connect_step(here, csrf, view["status"], notice), 502)
            view = await c.connection(company_id)
        return html(templates.connect_step(here, csrf, view["status"], notice), status)

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
            if not company_id_ok(company_id) or not session.valid_for(
                link, company_id, time.time(), keys
            ):
                return denied()
            # Into a cookie, and out of the address bar and the history.
            rest = {k: v for k, v in request.query_params.items() if k != "session"}
            target = base(company_id) + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            expires = int(link.split(".")[1])
            response.set_cookie(
                SESSION_COOKIE,
                link,
                max_age=max(1, expires - int(time.time())),
                path=base(company_id),
                httponly=True,
                samesite="lax",
                secure=secure,
            )
            return response
        sess = current_session(request, company_id)
        if sess is None:
            return denied()
        notice = ""
        if status == "connected":
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

    async def posted(request: Request, company_id: str) -> tuple[str | None, dict[str, str]]:
        sess = current_session(request, company_id)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if sess is None or not session.csrf_ok(sess, form.get("csrf"), keys):
            return None, form
        return sess, form

    def back(company_id: str, **params: str) -> RedirectResponse:
        query = f"?{urlencode(params)}" if params else ""
        return RedirectResponse(base(company_id) + query, status_code=303)

    @router.post("/connect", response_model=None)
    async def connect(request: Request, company_id: str) -> Response:
        sess, _ = await posted(request, company_id)
        if sess is None:
            return denied()
        cookie, browser_key = session.new_binding()
        after = settings.ingest_public_url.rstrip("/") + base(company_id)
        try:
            url = await (await connector()).start(company_id, after, browser_key)
        except ApiError as exc:
            return await render(company_id, sess, templates.message(exc.message, "err"))
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            BINDING_COOKIE,
            cookie,
            max_age=settings.connect_state_ttl_s,
            path="/v1/xero/callback",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        return response

    @router.post("/organisation", response_model=None)
    async def organisation(request: Request, company_id: str) -> Response:
        sess, form = await posted(request, company_id)
        if sess is None:
            return denied()
        try:
            await (await connector()).choose_organisation(company_id, form.get("tenant_id", ""))
        except ApiError as exc:
            notice = templates.message(exc.message, "err")
            return await render(company_id, sess, notice, "organisation", exc.status)
        return back(company_id)

    @router.post("/finish", response_model=None)
    async def finish(request: Request, company_id: str) -> Response:
        sess, form = await posted(request, company_id)
        if sess is None:
            return denied()
        c = await connector()
        row = await c.tokens.row(company_id)
        try:
            await c.finish(
                company_id,
                row.tenant_id if row else "",
                form.get("default_account_code", ""),
                form.get("default_payment_account_code", ""),
                form.get("import_categories") == "yes",
            )
        except ApiError as exc:
            notice = templates.message(exc.message, "err")
            return await render(company_id, sess, notice, status=exc.status)
        return back(company_id, done="finished")

    @router.post("/categories", response_model=None)
    async def categories(request: Request, company_id: str) -> Response:
        sess, _ = await posted(request, company_id)
        if sess is None:
            return denied()
        try:
            await (await connector()).import_categories(company_id)
        except ApiError as exc:
            return await render(company_id, sess, templates.message(exc.message, "err"))
        return back(company_id, done="imported")

    @router.post("/disconnect", response_model=None)
    async def disconnect(request: Request, company_id: str) -> Response:
        sess, _ = await posted(request, company_id)
        if sess is None:
            return denied()
        await (await connector()).disconnect(company_id)
        return back(company_id, done="disconnected")

    return router
