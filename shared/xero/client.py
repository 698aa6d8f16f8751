"""Xero's Accounting API over httpx, with Xero's failures sorted into what we do about them.

Async httpx keeps the event loop free (xero-python is synchronous); the JSON
follows Xero's spec (PascalCase, ``/Date(ms)/`` dates in answers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from shared.xero.token_store import NeedsReconnect


class XeroError(Exception):
    """Base of every Xero failure the writer distinguishes."""


@dataclass
class RateLimited(XeroError):
    retry_after_s: float
    problem: str


@dataclass
class Unavailable(XeroError):
    """5xx, timeout or a dropped connection: the call may or may not have been applied."""

    detail: str


@dataclass
class Unauthorized(XeroError):
    detail: str


@dataclass
class Forbidden(XeroError):
    detail: str


@dataclass
class Refused(XeroError):
    """A 4xx Xero means: the request as sent will never succeed."""

    status: int
    message: str
    body: Any


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


def _refusal_message(body: Any, text: str) -> str:
    if isinstance(body, dict):
        elements = body.get("Elements") or []
        messages = [m for el in elements for m in validation_messages(el)]
        if messages:
            return "; ".join(messages)
        for key in ("Message", "Detail", "error_description", "error", "Title"):
            if body.get(key):
                return str(body[key])
    return text[:500] or "refused"


class XeroClient:
    def __init__(
        self,
        accounting_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout_s: float,
    ) -> None:
        self._base = accounting_url.rstrip("/")
        self._token_url = token_url
        self._client_auth = (client_id, client_secret)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self._token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=self._client_auth,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"token endpoint: {exc!r}") from exc
        if response.status_code == 400 and "invalid_grant" in response.text:
            raise NeedsReconnect("invalid_grant")
        if response.status_code >= 500:
            raise Unavailable(f"token endpoint answered {response.status_code}")
        if response.status_code != 200:
            raise Refused(
                response.status_code, f"token refresh refused: {response.text[:200]}", None
            )
        return response.json()  # type: ignore[no-any-return]

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
    ) -> dict[str, Any]:
        """One Accounting API call: ``body`` as JSON, or ``content`` as raw bytes (files)."""
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
        try:
            response = await self._http.request(
                method, self._base + path, params=params, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"{method} {path}: {type(exc).__name__}") from exc
        return self._answer(method, path, response)

    @staticmethod
    def _answer(method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 200:
            return response.json()  # type: ignore[no-any-return]
        if status == 429:
            retry_after = float(response.headers.get("Retry-After") or 5)
            raise RateLimited(retry_after, response.headers.get("X-Rate-Limit-Problem", "unknown"))
        if status >= 500:
            raise Unavailable(f"{method} {path} answered {status}: {response.text[:200]}")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if status == 401:
            raise Unauthorized(_refusal_message(body, response.text))
        if status == 403:
            raise Forbidden(_refusal_message(body, response.text))
        raise Refused(status, _refusal_message(body, response.text), body)
