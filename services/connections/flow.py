"""The connect flow's steps, one method each; the HTTP API and the setup page both call these.

Every state change goes through the token store with its fact in the connection
outbox (same transaction), so the connection's history on Kafka is exactly what
happened here. Failures become ``ApiError``s with a code a person can act on;
none carries a token, a code or Xero's raw answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from cryptography.fernet import Fernet, MultiFernet
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from services.connections import oauth, profiles
from services.connections.pending import PendingStates
from services.connections.setup_rules import (
    account_view,
    categories_event,
    connection_view,
    organisation_view,
    setup_problems,
)
from shared.contracts.commands import BillStatus, LockDatePolicy
from shared.contracts.domain_events import ConnectionData
from shared.contracts.topics import ROGER_CATEGORIES
from shared.http import ApiError
from shared.logging import get_logger
from shared.messaging import outbox as connection_outbox
from shared.messaging.outbox import connection_fact
from shared.settings import ConnectionsSettings
from shared.xero.client import Forbidden, Unauthorized, XeroClient, XeroError
from shared.xero.token_store import (
    CONNECTED,
    PENDING_SETUP,
    NeedsReconnect,
    NotConnected,
    TokenStore,
)

log = get_logger("ingest.connect")


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


T = TypeVar("T")

_NOT_CONNECTED = ApiError(409, "not_connected", "the company is not connected to Xero")
_NEEDS_RECONNECT = ApiError(
    409,
    "needs_reconnect",
    "Xero no longer accepts this company's connection: connect it again",
)


@dataclass(frozen=True)
class CallbackOutcome:
    """Where the callback sends the browser, or why it refuses to (no redirect).

    ``page_session_for`` names the company when the flow was started from its setup page
    and a new grant was stored: that browser gets a fresh setup session, since the new
    connection version ended the old one.
    """

    redirect: str | None
    refusal: ApiError | None = None
    page_session_for: str | None = None


_FOREIGN = ApiError(
    400,
    "foreign_state",
    "This Xero sign-in was started in another browser, so it cannot be finished here. "
    "Open the Xero setup from Roger in this browser and connect again.",
)
_UNKNOWN = ApiError(400, "unknown_state", "this sign-in link is unknown or already used")


def redirect_uri(settings: ConnectionsSettings) -> str:
    return settings.xero_redirect_uri or settings.ingest_public_url.rstrip("/") + (
        "/v1/xero/callback"
    )


class Connector:
    def __init__(
        self,
        settings: ConnectionsSettings,
        pool: AsyncConnectionPool,
        wake_relay: Callable[[], None],
        xero: XeroClient | None = None,
    ) -> None:
        keys = [k.get_secret_value() for k in settings.token_keys]
        self.settings, self.pool, self._wake = settings, pool, wake_relay
        self.tokens = TokenStore(pool, keys)
        self.states = PendingStates(
            pool, MultiFernet([Fernet(k.encode()) for k in keys]), settings.connect_state_ttl_s
        )
        self.xero = xero or XeroClient.for_app(settings)
        self.redirect_uri = redirect_uri(settings)
        # redirect_after may only lead back to Roger (or to our own setup page).
        self.redirect_origins = oauth.allowed_origins(
            settings.connect_redirect_origins, settings.roger_app_url
        ) | oauth.allowed_origins("", settings.ingest_public_url)

    async def setup(self) -> None:
        await self.tokens.setup()
        await self.states.setup()
        await profiles.setup(self.pool)

    async def aclose(self) -> None:
        await self.xero.aclose()

    # ---------------------------------------------------------------- OAuth

    async def start(
        self,
        company_id: str,
        redirect_after: str,
        browser_key: str | None = None,
        started_by: str = "api",
    ) -> str:
        """Starts a connect flow: Xero's authorize URL when ``browser_key`` binds it to a
        browser already, else our launch link (``/v1/xero/authorize?state=...``), whose
        first visit binds it. Raises ``ApiError`` 422 ``invalid_redirect_after``."""
        if not oauth.redirect_after_ok(redirect_after, self.redirect_origins):
            raise ApiError(
                422,
                "invalid_redirect_after",
                "redirect_after must be a path or a URL on an allowed origin: "
                + ", ".join(sorted(self.redirect_origins)),
                [{"field": "redirect_after", "message": "origin not allowed"}],
            )
        state, verifier = await self.states.start(
            company_id, redirect_after, browser_key, started_by
        )
        log.info("connect_started", company_id=company_id, by=started_by)
        if browser_key is None:
            base = self.settings.ingest_public_url.rstrip("/")
            return f"{base}/v1/xero/authorize?{urlencode({'state': state})}"
        return self._authorize_url(state, verifier)

    def _authorize_url(self, state: str, verifier: str) -> str:
        return oauth.authorize_url(
            self.settings.xero_authorize_url,
            self.settings.xero_client_id,
            self.redirect_uri,
            state,
            verifier,
        )

    async def launch(self, state: str, browser_key: str) -> str:
        """The launch link's visit: binds the flow to this browser (first visit only) and
        gives Xero's authorize URL. Raises ``ApiError`` 400 (unknown or foreign state)."""
        taken = await self.states.claim(state, browser_key)
        if taken.pending is None:
            log.warning("connect_launch_refused", reason=taken.refusal)
            raise _FOREIGN if taken.refusal == "foreign" else _UNKNOWN
        return self._authorize_url(state, taken.pending.verifier)

    async def callback(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        browser_key: str | None,
    ) -> CallbackOutcome:
        if not state:
            return CallbackOutcome(None, ApiError(400, "missing_state", "no state in callback"))
        taken = await self.states.take(state, browser_key)
        pending = taken.pending
        if pending is None:
            # Another browser (or none) finishing someone's sign-in: it must not land in
            # that company; the state stays for the browser that started it.
            log.warning("connect_state_refused", reason=taken.refusal)
            return CallbackOutcome(None, _FOREIGN if taken.refusal == "foreign" else _UNKNOWN)
        company_id = pending.company_id
        back = pending.redirect_after
        if oauth.expired(pending, datetime.now(UTC)):
            log.warning("connect_state_refused", company_id=company_id, reason="expired")
            return CallbackOutcome(oauth.with_status(back, "error", "state_expired"))
        if error:
            reason = error if error.replace("_", "").isalnum() and len(error) < 64 else "refused"
            log.info("connect_declined", company_id=company_id, reason=reason)
            return CallbackOutcome(oauth.with_status(back, "error", reason))
        if not code:
            return CallbackOutcome(oauth.with_status(back, "error", "missing_code"))
        try:
            token_set = await self.xero.exchange_code(code, pending.verifier, self.redirect_uri)
            claims = oauth.token_claims(token_set["access_token"])
            event = _text_claim(claims, "authentication_event_id")
            user = _text_claim(claims, "xero_userid")
            rows = await self.xero.connections(token_set["access_token"])
            # Only what this consent authorised: the user's older connections to our app
            # (another company's organisation, say) are not offered here.
            authorised = [r for r in rows if event is None or r.get("authEventId") == event]
            kept = await self._kept(company_id, token_set["access_token"], authorised)
        except XeroError as exc:
            log.warning("connect_exchange_failed", company_id=company_id, reason=exc.code)
            return CallbackOutcome(oauth.with_status(back, "error", exc.code))
        facts = [
            connection_fact(
                company_id, "XeroConnectionAuthorized", {"organisations": len(authorised)}
            )
        ]
        if kept is not None:
            facts.append(
                connection_fact(company_id, "XeroConnectionEstablished", kept.model_dump())
            )

        async def mark(conn: AsyncConnection[Any]) -> None:
            await profiles.authorized(conn, company_id, event, user, kept=kept is not None)
            if kept is not None:
                await profiles.organisation_chosen(
                    conn, company_id, kept.tenant_id, kept.organisation_name, kept.base_currency
                )

        await self.tokens.put(
            company_id,
            kept.tenant_id if kept else "",
            token_set,
            status=CONNECTED if kept else PENDING_SETUP,
            facts=tuple(facts),
            also=mark,
        )
        self._wake()
        log.info(
            "connect_authorized",
            company_id=company_id,
            organisations=len(authorised),
            kept_defaults=kept is not None,
        )
        page = company_id if pending.started_by == "page" else None
        return CallbackOutcome(oauth.with_status(back, "connected"), page_session_for=page)

    async def _kept(
        self, company_id: str, access_token: str, authorised: list[dict[str, Any]]
    ) -> ConnectionData | None:
        """The company's earlier organisation and defaults, when this consent authorised the
        same organisation again and the defaults still fit its chart; else None (choose)."""
        profile = await profiles.get(self.pool, company_id)
        if profile is None or not profile.tenant_id:
            return None
        expense, payment = profile.default_account_code, profile.default_payment_account_code
        if not expense or not payment:
            return None
        if profile.tenant_id not in {r.get("tenantId") for r in authorised}:
            return None
        try:
            org = await self.xero.organisation(access_token, profile.tenant_id)
            chart = await self.xero.accounts(access_token, profile.tenant_id)
        except XeroError as exc:
            # Not fatal: the person chooses again, as after any first consent.
            log.info("kept_defaults_unchecked", company_id=company_id, reason=exc.code)
            return None
        if setup_problems(chart, expense, payment):
            return None
        return ConnectionData(
            tenant_id=profile.tenant_id,
            organisation_name=org.get("Name"),
            base_currency=org.get("BaseCurrency"),
            default_account_code=expense,
            default_payment_account_code=payment,
            lock_date_policy=_policy(profile.lock_date_policy),
            bill_status=_bill_status(profile.bill_status),
        )

    # ---------------------------------------------------------------- Xero reads

    async def _with_token(self, company_id: str, call: Callable[[str, str], Awaitable[T]]) -> T:
        """Runs ``call(access_token, tenant_id)``; one forced refresh if Xero answers 401."""
        try:
            access = await self.tokens.access(company_id, self.xero.refresh, allow_pending=True)
            try:
                return await call(access.access_token, access.tenant_id)
            except Unauthorized:
                access = await self.tokens.access(
                    company_id, self.xero.refresh, force=True, allow_pending=True
                )
                return await call(access.access_token, access.tenant_id)
        except NotConnected as exc:
            raise _NOT_CONNECTED from exc
        except NeedsReconnect as exc:
            self._wake()  # the store recorded the fact; let it out now
            raise _NEEDS_RECONNECT from exc
        except XeroError as exc:
            # Only Xero's code: its messages and the token endpoint's body stay out of answers.
            status = 403 if isinstance(exc, Forbidden) else 502
            raise ApiError(status, exc.code, f"Xero could not answer: {exc.code}") from exc

    async def _consented(self, company_id: str, token: str, chosen: str) -> list[dict[str, Any]]:
        """Xero's connections of this company's consent (its ``authEventId``), plus the
        organisation already chosen; all of them for tokens stored without a consent
        (``establish``, the developer path)."""
        rows = await self.xero.connections(token)
        event, _ = await profiles.consent(self.pool, company_id)
        if event is None:
            return rows
        return [r for r in rows if r.get("authEventId") == event or r["tenantId"] == chosen]

    async def organisations(self, company_id: str) -> list[dict[str, Any]]:
        """The organisations this company's consent authorised: ``[{tenant_id, name,
        base_currency}]``. Raises ``ApiError`` (409 not connected / needs reconnect, 502)."""

        async def read(token: str, chosen: str) -> list[dict[str, Any]]:
            views = []
            for c in await self._consented(company_id, token, chosen):
                try:
                    org = await self.xero.organisation(token, c["tenantId"])
                except Unauthorized:
                    raise
                except XeroError:
                    org = {}
                views.append(organisation_view(c, org))
            return views

        return await self._with_token(company_id, read)

    async def _granted(self, company_id: str, tenant_id: str) -> None:
        async def read(token: str, chosen: str) -> set[str]:
            return {c["tenantId"] for c in await self._consented(company_id, token, chosen)}

        if tenant_id not in await self._with_token(company_id, read):
            raise ApiError(
                422,
                "unknown_organisation",
                "this company's Xero connection does not include that organisation",
            )

    async def _chart(self, company_id: str, tenant_id: str) -> list[dict[str, Any]]:
        async def read(token: str, _: str) -> list[dict[str, Any]]:
            return await self.xero.accounts(token, tenant_id)

        return await self._with_token(company_id, read)

    async def _organisation(self, company_id: str, tenant_id: str) -> dict[str, Any]:
        async def read(token: str, _: str) -> dict[str, Any]:
            return await self.xero.organisation(token, tenant_id)

        return await self._with_token(company_id, read)

    async def _chosen_tenant(self, company_id: str, tenant_id: str | None) -> str:
        row = await self.tokens.row(company_id)
        if row is None:
            raise _NOT_CONNECTED
        if tenant_id and tenant_id != row.tenant_id:
            await self._granted(company_id, tenant_id)
            return tenant_id
        if not row.tenant_id:
            raise ApiError(409, "no_organisation", "choose the Xero organisation first")
        return row.tenant_id

    async def accounts(self, company_id: str, tenant_id: str | None) -> list[dict[str, Any]]:
        tenant = await self._chosen_tenant(company_id, tenant_id)
        return [account_view(a) for a in await self._chart(company_id, tenant)]

    # ---------------------------------------------------------------- setup

    async def choose_organisation(self, company_id: str, tenant_id: str) -> dict[str, Any]:
        await self._granted(company_id, tenant_id)
        org = await self._organisation(company_id, tenant_id)
        name, currency = org.get("Name"), org.get("BaseCurrency")
        fact = connection_fact(
            company_id,
            "XeroOrganisationChosen",
            {"tenant_id": tenant_id, "organisation_name": name, "base_currency": currency},
        )

        async def mark(conn: AsyncConnection[Any]) -> None:
            await profiles.organisation_chosen(conn, company_id, tenant_id, name, currency)

        # Choosing (again) means setting defaults again: the status goes back to pending.
        if not await self.tokens.choose(company_id, tenant_id, PENDING_SETUP, fact, also=mark):
            raise _NOT_CONNECTED
        self._wake()
        return await self.connection(company_id)

    async def finish(
        self,
        company_id: str,
        tenant_id: str,
        default_account_code: str,
        default_payment_account_code: str,
        import_categories: bool,
        lock_date_policy: LockDatePolicy = "fail",
        bill_status: BillStatus = "AUTHORISED",
    ) -> dict[str, Any]:
        await self._granted(company_id, tenant_id)
        org = await self._organisation(company_id, tenant_id)
        chart = await self._chart(company_id, tenant_id)
        problems = setup_problems(chart, default_account_code, default_payment_account_code)
        if problems:
            raise ApiError(
                422, "invalid_defaults", "; ".join(p["message"] for p in problems), problems
            )
        name, currency = org.get("Name"), org.get("BaseCurrency")
        data = ConnectionData(
            tenant_id=tenant_id,
            organisation_name=name,
            base_currency=currency,
            default_account_code=default_account_code,
            default_payment_account_code=default_payment_account_code,
            lock_date_policy=lock_date_policy,
            bill_status=bill_status,
        )
        row = await self.tokens.row(company_id)
        facts = []
        if row is not None and row.tenant_id != tenant_id:
            facts.append(
                connection_fact(
                    company_id,
                    "XeroOrganisationChosen",
                    {"tenant_id": tenant_id, "organisation_name": name, "base_currency": currency},
                )
            )
        facts.append(connection_fact(company_id, "XeroConnectionEstablished", data.model_dump()))

        async def mark(conn: AsyncConnection[Any]) -> None:
            await profiles.organisation_chosen(conn, company_id, tenant_id, name, currency)
            await profiles.finished(
                conn,
                company_id,
                default_account_code,
                default_payment_account_code,
                lock_date_policy,
                bill_status,
            )
            if import_categories:
                await connection_outbox.add(conn, self._categories_row(company_id, chart))

        if not await self.tokens.choose(company_id, tenant_id, CONNECTED, *facts, also=mark):
            raise _NOT_CONNECTED
        self._wake()
        log.info("connect_finished", company_id=company_id, categories=import_categories)
        return await self.connection(company_id)

    def _categories_row(
        self, company_id: str, chart: list[dict[str, Any]]
    ) -> connection_outbox.OutboxRow:
        body = categories_event(company_id, chart, datetime.now(UTC))
        return connection_outbox.json_row(
            str(uuid.uuid4()), company_id, ROGER_CATEGORIES, "categories", body
        )

    async def import_categories(self, company_id: str) -> int:
        row = await self.tokens.row(company_id)
        if row is None or row.status != CONNECTED:
            if row is not None and row.status == "needs_reconnect":
                raise _NEEDS_RECONNECT
            raise ApiError(409, "not_connected", "finish the Xero setup before importing")
        chart = await self._chart(company_id, row.tenant_id)
        categories = self._categories_row(company_id, chart)
        async with self.pool.connection() as conn, conn.transaction():
            await connection_outbox.add(conn, categories)
        self._wake()
        log.info("categories_import_queued", company_id=company_id)
        return sum(1 for a in chart if a.get("Code"))

    async def connection(self, company_id: str) -> dict[str, Any]:
        row = await self.tokens.row(company_id)
        view = connection_view(
            row.status if row else None, await profiles.get(self.pool, company_id)
        )
        view["history"] = await profiles.history(self.pool, company_id)
        return view

    # ---------------------------------------------------------------- disconnect

    async def disconnect(self, company_id: str) -> dict[str, Any]:
        row = await self.tokens.row(company_id)
        if row is None:
            view = await self.connection(company_id)
            return {**view, "revoked_at_xero": False}
        event, user = await profiles.consent(self.pool, company_id)
        # Companies sharing the Xero user share its grant at Xero: revoking the refresh token
        # would end theirs too, and deleting an organisation they use would cut them off.
        others = await profiles.sharing_user(self.pool, company_id, user) if user else []
        theirs = {tenant for _, tenant in others}
        connection_deleted = await self._delete_at_xero(company_id, row.tenant_id, event, theirs)
        # XeroConnectionLost: the projector already makes later documents wait on it.
        fact = connection_fact(
            company_id,
            "XeroConnectionLost",
            {"tenant_id": row.tenant_id or None, "reason": "disconnected"},
        )

        async def mark(conn: AsyncConnection[Any]) -> None:
            await profiles.disconnected(conn, company_id)

        # Ours go first: should revocation fail, nothing of the grant is left on our side.
        token_set = await self.tokens.remove(company_id, fact, also=mark)
        self._wake()
        revoked = False
        if others:
            log.info("revoke_skipped", company_id=company_id, reason="grant_shared")
        elif token_set and token_set.get("refresh_token"):
            try:
                await self.xero.revoke(token_set["refresh_token"])
                revoked = True
            except XeroError as exc:
                log.warning("revoke_failed", company_id=company_id, reason=exc.code)
        log.info(
            "disconnected",
            company_id=company_id,
            revoked=revoked,
            connection_deleted=connection_deleted,
        )
        return {**await self.connection(company_id), "revoked_at_xero": revoked}

    async def _delete_at_xero(
        self, company_id: str, tenant_id: str, event: str | None, keep: set[str]
    ) -> bool:
        """Deletes this company's connections at Xero (``DELETE /connections/{id}``): its
        organisation, or before one is chosen, those its consent authorised; never one in
        ``keep`` (used by another company of the same Xero user). True if one was deleted."""

        def ours(c: dict[str, Any]) -> bool:
            if c["tenantId"] in keep:
                return False
            if tenant_id:
                return bool(c["tenantId"] == tenant_id)
            return event is not None and c.get("authEventId") == event

        async def delete(token: str, _: str) -> bool:
            done = False
            for c in await self.xero.connections(token):
                if ours(c):
                    done = await self.xero.delete_connection(token, c["id"]) or done
            return done

        try:
            return await self._with_token(company_id, delete)
        except ApiError as exc:
            # A dead grant has no connection left to delete; revocation still runs.
            log.info("xero_connection_not_deleted", company_id=company_id, reason=exc.code)
            return False


def _policy(kept: str) -> LockDatePolicy:
    """The lock-date policy a profile keeps; anything unknown is the default."""
    return "next_open_day" if kept == "next_open_day" else "fail"


def _bill_status(kept: str) -> BillStatus:
    """The status for new bills a profile keeps; anything unknown is the default."""
    return "DRAFT" if kept == "DRAFT" else "SUBMITTED" if kept == "SUBMITTED" else "AUTHORISED"
