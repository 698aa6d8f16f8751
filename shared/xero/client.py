"""The one Xero client: token endpoint, identity (connections) and the Accounting API.

Serves the writer (``call``: any Accounting API call with tenant, Idempotency-Key, JSON or
raw bytes) and the connect flow (``exchange_code``, ``revoke``, ``connections``,
``delete_connection``, ``organisation``, ``accounts``). ``refresh`` is the token store's
refresher (``shared.xero.token_store.TokenStore.access``), the only refresh there is.

Every failure is one of ``shared.xero.errors`` (re-exported here). A token endpoint's body
never leaves this module: its errors carry only Xero's OAuth error *code*.

Async httpx keeps the event loop free (xero-python is synchronous); the JSON follows Xero's
spec (PascalCase, ``/Date(ms)/`` dates in answers; docs/xero/xero-facts.md).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from prometheus_client import Counter, Gauge, Histogram

from shared.logging import get_logger
from shared.settings import XeroAppSettings
from shared.xero.errors import (
    Forbidden,
    NeedsReconnect,
    RateLimited,
    Refused,
    Unauthorized,
    Unavailable,
    XeroError,
)

__all__ = [
    "Forbidden",
    "NeedsReconnect",
    "RateLimited",
    "Refused",
    "Remaining",
    "Unauthorized",
    "Unavailable",
    "XeroClient",
    "XeroError",
    "validation_messages",
    "xero_moment",
]

# Xero sends Retry-After for the minute and day limits only (xero-facts.md §3).
DEFAULT_RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class Remaining:
    """What Xero said was left of an organisation's limits on its last answer
    (``X-DayLimit-Remaining``, ``X-MinLimit-Remaining``; docs/xero/xero-facts.md §3)."""

    day: int | None = None
    minute: int | None = None
    observed_at: datetime | None = None


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

log = get_logger("xero_client")

CALLS = Counter(
    "rx_xero_calls_total",
    "Accounting API calls by endpoint (first path segment), method and HTTP status",
    ["endpoint", "method", "status"],
)
CALL_SECONDS = Histogram(
    "rx_xero_call_seconds", "Accounting API call duration", ["endpoint", "method"]
)


def endpoint_of(path: str) -> str:
    """``/Invoices/abc/Attachments/x.pdf`` -> ``Invoices``: a bounded metric label."""
    return path.strip("/").split("/", 1)[0] or "?"


# Xero's own count of what is left of the organisation's 5,000 calls a day, from the
# X-DayLimit-Remaining header of every Accounting API answer (alert RxXeroDayBudgetNearlySpent).
DAY_CALLS_REMAINING = Gauge(
    "rx_xero_day_calls_remaining",
    "calls left in Xero's day limit for the organisation, as Xero last said",
    ["tenant_id"],
)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def validation_messages(element: dict[str, Any]) -> list[str]:
    """Xero's own messages for one element, including nested ones (e.g. its Contact)."""
    messages = [e.get("Message", "") for e in element.get("ValidationErrors") or []]
    for nested in ("Contact", "Invoice", "Account"):
        inner = element.get(nested)
        if isinstance(inner, dict):
            messages += [e.get("Message", "") for e in inner.get("ValidationErrors") or []]
    return [m for m in messages if m]


def refusal_message(body: Any, text: str) -> str:
    """What Xero said in a refused answer: its validation messages, else its Message."""
    if isinstance(body, dict):
        elements = body.get("Elements") or []
        messages = [m for el in elements if isinstance(el, dict) for m in validation_messages(el)]
        if messages:
            return "; ".join(messages)
        for key in ("Message", "Detail", "Title"):
            if body.get(key):
                return str(body[key])
    return text[:500] or "refused"


def oauth_error_code(response: httpx.Response) -> str:
    """The token endpoint's ``error`` (e.g. ``invalid_grant``), else ``http_<status>``.

    Only a short, known-shaped code: the body is Xero's, and is never echoed whole.
    """
    try:
        body = response.json()
    except ValueError:
        return f"http_{response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and error.replace("_", "").isalnum() and len(error) < 64:
        return error
    return f"http_{response.status_code}"


def retry_after_s(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After") or DEFAULT_RETRY_AFTER_S))
    except ValueError:  # an HTTP date: Xero sends seconds, so this is someone else's proxy
        return DEFAULT_RETRY_AFTER_S


def raise_for_answer(what: str, response: httpx.Response) -> None:
    """Raises the taxonomy's error for any answer but 2xx; ``what`` names the call in logs."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429:
        raise RateLimited(
            retry_after_s(response), response.headers.get("X-Rate-Limit-Problem", "unknown")
        )
    if status >= 500:
        raise Unavailable(f"{what} answered {status}: {response.text[:200]}", status=status)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if status == 401:
        raise Unauthorized(refusal_message(body, response.text))
    if status == 403:
        raise Forbidden(refusal_message(body, response.text))
    raise Refused(status, refusal_message(body, response.text), body)


class XeroClient:
    """One app's Xero client. ``timeout_s`` bounds each call (the writer keeps it well under
    Kafka's max poll interval); URLs are Xero's or the sandbox's."""

    @classmethod
    def for_app(
        cls, settings: XeroAppSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> XeroClient:
        """The client of our Xero app as the service's settings describe it (``RX_XERO_*``)."""
        return cls(
            settings.xero_accounting_url,
            settings.xero_token_url,
            settings.xero_client_id,
            settings.xero_client_secret.get_secret_value(),
            settings.xero_timeout_s,
            revoke_url=settings.xero_revoke_url,
            identity_url=settings.xero_identity_url,
            transport=transport,
        )

    def __init__(
        self,
        accounting_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout_s: float,
        *,
        revoke_url: str = "",
        identity_url: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._accounting = accounting_url.rstrip("/")
        self._token_url, self._revoke_url = token_url, revoke_url
        self._identity = identity_url.rstrip("/")
        self._client_auth = (client_id, client_secret)
        # Tenant id (lower case) -> what Xero last said was left of its limits.
        self.remaining: dict[str, Remaining] = {}
        # ``transport``: tests answer in-process (httpx.MockTransport); None is the network.
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=5.0), transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------- token endpoint

    async def _post_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        try:
            # client_secret_basic, as Xero's auth-code flow documents it.
            return await self._http.post(url, data=form, auth=self._client_auth)
        except httpx.HTTPError as exc:
            # Only the exception's type: its text may carry the URL, and a form holds secrets.
            raise Unavailable(f"token endpoint: {type(exc).__name__}") from exc

    @staticmethod
    def _token_refusal(response: httpx.Response) -> XeroError:
        code = oauth_error_code(response)
        if response.status_code >= 500:
            return Unavailable(f"token endpoint answered {response.status_code}", code=code)
        return Refused(response.status_code, f"token endpoint refused: {code}", None, code=code)

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """Authorization code + PKCE verifier -> Xero's token set (``access_token``,
        ``refresh_token``, ``expires_in`` s, ``scope``, ...).

        Raises ``Refused`` (``code``: Xero's OAuth error, e.g. ``invalid_grant``; or
        ``no_refresh_token`` without offline_access) or ``Unavailable``.
        """
        response = await self._post_form(
            self._token_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        if response.status_code != 200:
            raise self._token_refusal(response)
        token_set: dict[str, Any] = response.json()
        if not token_set.get("refresh_token"):
            raise Refused(200, "no refresh token granted", None, code="no_refresh_token")
        return token_set

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A ``TokenStore`` refresher: refresh token -> Xero's new token set.

        Raises ``NeedsReconnect`` (invalid_grant: a person must connect again),
        ``Unavailable`` (5xx, unreachable) or ``Refused`` (any other refusal, with its code).
        """
        response = await self._post_form(
            self._token_url, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if response.status_code == 200:
            return response.json()  # type: ignore[no-any-return]
        refusal = self._token_refusal(response)
        if refusal.code == "invalid_grant":
            raise NeedsReconnect("invalid_grant")
        raise refusal

    async def revoke(self, refresh_token: str) -> None:
        """Revokes the grant at Xero. Raises ``Refused`` or ``Unavailable``."""
        response = await self._post_form(self._revoke_url, {"token": refresh_token})
        if response.status_code != 200:
            raise self._token_refusal(response)

    # ---------------------------------------------------------------- identity

    async def _send(
        self, what: str, method: str, url: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}") from exc

    async def connections(self, access_token: str) -> list[dict[str, Any]]:
        """The organisations the token may use: Xero's ``/connections`` rows (``id``,
        ``tenantId``, ``tenantName``, ...), organisations only. Raises ``XeroError``."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        response = await self._send("connections", "GET", f"{self._identity}/connections", headers)
        raise_for_answer("GET /connections", response)
        rows = response.json()
        return [r for r in rows if r.get("tenantType", "ORGANISATION") == "ORGANISATION"]

    async def delete_connection(self, access_token: str, connection_id: str) -> bool:
        """Removes one organisation from the grant; True when it is gone at Xero (404: it was
        already). Raises ``Unauthorized`` (dead token) or ``Unavailable`` (unreachable)."""
        response = await self._send(
            "delete connection",
            "DELETE",
            f"{self._identity}/connections/{connection_id}",
            {"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code == 401:
            raise Unauthorized("delete connection: 401")
        return response.status_code in (200, 204, 404)

    # ---------------------------------------------------------------- Accounting API

    async def call(
        self,
        method: str,
        path: str,
        *,
        tenant_id: str,
        access_token: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        idempotency_key: str | None = None,
        if_modified_since: datetime | None = None,
    ) -> dict[str, Any]:
        """One Accounting API call (``path`` under ``/api.xro/2.0``): ``body`` as JSON, or
        ``content`` as raw bytes (attachments). Returns Xero's decoded 2xx answer.
        ``if_modified_since`` (aware): only what changed after it, sent as the SDK sends it
        (ISO 8601, docs/xero/xero-facts.md).

        Raises ``RateLimited``, ``Unavailable``, ``Unauthorized``, ``Forbidden`` or
        ``Refused`` (a 400 batch answer keeps its ``Elements`` in ``body``).
        """
        headers = {
            "Authorization": f"Bearer {access_token}",
            "xero-tenant-id": tenant_id,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, default=_json_default).encode()
        elif content is not None:
            headers["Content-Type"] = "application/octet-stream"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if if_modified_since is not None:
            headers["If-Modified-Since"] = if_modified_since.astimezone(UTC).isoformat()
        what = f"{method} {path}"
        started = time.monotonic()
        response = await self._send(
            what, method, self._accounting + path, headers, params=params, content=content
        )
        took = time.monotonic() - started
        endpoint = endpoint_of(path)
        CALLS.labels(endpoint, method, str(response.status_code)).inc()
        CALL_SECONDS.labels(endpoint, method).observe(took)
        # Xero's support asks for its correlation id when a call went wrong.
        log.info(
            "xero_call",
            method=method,
            endpoint=endpoint,
            status=response.status_code,
            duration_ms=round(took * 1000),
            tenant_id=tenant_id,
            xero_correlation_id=response.headers.get("Xero-Correlation-Id"),
        )
        day = _count(response.headers.get("X-DayLimit-Remaining"))
        minute = _count(response.headers.get("X-MinLimit-Remaining"))
        if day is not None:
            DAY_CALLS_REMAINING.labels(tenant_id).set(day)
        if day is not None or minute is not None:
            self.remaining[tenant_id.lower()] = Remaining(day, minute, datetime.now(UTC))
        raise_for_answer(what, response)
        return response.json()  # type: ignore[no-any-return]

    async def organisation(self, access_token: str, tenant_id: str) -> dict[str, Any]:
        """Xero's Organisation (``Name``, ``BaseCurrency``, ...); {} if it sent none."""
        body = await self.call(
            "GET", "/Organisation", tenant_id=tenant_id, access_token=access_token
        )
        orgs = body.get("Organisations") or []
        return orgs[0] if orgs else {}

    async def accounts(self, access_token: str, tenant_id: str) -> list[dict[str, Any]]:
        """The organisation's chart of accounts, as Xero's ``Accounts`` rows."""
        body = await self.call("GET", "/Accounts", tenant_id=tenant_id, access_token=access_token)
        return list(body.get("Accounts") or [])


def xero_moment(value: Any) -> datetime | None:
    """Xero's ``/Date(ms)/`` or ``/Date(ms+zzzz)/`` (epoch milliseconds, UTC; the offset
    only says where it was written) or an ISO 8601 text, as an aware UTC datetime; None
    when absent or unreadable."""
    if value is None or value == "":
        return None
    text = str(value)
    found = _MS_DATE.match(text)
    if found:
        try:
            return datetime.fromtimestamp(int(found.group(1)) / 1000, UTC)
        except (ValueError, OverflowError, OSError):  # out of datetime's range
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
