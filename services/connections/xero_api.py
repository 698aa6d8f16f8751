"""The few Xero calls the connect flow makes: token endpoint, revocation, connections,
and two reads of the Accounting API (Organisation, Accounts).

Errors carry Xero's error *code* only: a token endpoint body or a URL with a code
in it never reaches a message, a log line or a response.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.xero.token_store import NeedsReconnect


class XeroCallFailed(Exception):
    """Xero refused or could not be reached; ``code`` is safe to show."""

    def __init__(self, code: str, status: int | None = None) -> None:
        super().__init__(code)
        self.code, self.status = code, status


class XeroUnauthorized(XeroCallFailed):
    """401 on an API call: the access token is dead (expired, revoked, or the app removed)."""


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"http_{response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    # Only a short, known-shaped code: the body is Xero's, and never echoed whole.
    if isinstance(error, str) and error.replace("_", "").isalnum() and len(error) < 64:
        return error
    return f"http_{response.status_code}"


class XeroApi:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_url: str,
        revoke_url: str,
        identity_url: str,
        accounting_url: str,
        timeout_s: float,
    ) -> None:
        self._auth = (client_id, client_secret)
        self._token_url, self._revoke_url = token_url, revoke_url
        self._identity = identity_url.rstrip("/")
        self._accounting = accounting_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        try:
            # client_secret_basic, as Xero's auth-code flow documents it.
            return await self._http.post(url, data=form, auth=self._auth)
        except httpx.HTTPError as exc:
            raise XeroCallFailed("xero_unreachable") from exc

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
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
            raise XeroCallFailed(_oauth_error(response), response.status_code)
        token_set: dict[str, Any] = response.json()
        if not token_set.get("refresh_token"):
            raise XeroCallFailed("no_refresh_token")
        return token_set

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A TokenStore refresher: invalid_grant means a person must connect again."""
        response = await self._post_form(
            self._token_url, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if response.status_code == 200:
            return response.json()  # type: ignore[no-any-return]
        code = _oauth_error(response)
        if code == "invalid_grant":
            raise NeedsReconnect("invalid_grant")
        raise XeroCallFailed(code, response.status_code)

    async def revoke(self, refresh_token: str) -> None:
        response = await self._post_form(self._revoke_url, {"token": refresh_token})
        if response.status_code != 200:
            raise XeroCallFailed(_oauth_error(response), response.status_code)

    async def _get(self, url: str, access_token: str, tenant_id: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        if tenant_id:
            headers["xero-tenant-id"] = tenant_id
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise XeroCallFailed("xero_unreachable") from exc
        if response.status_code == 401:
            raise XeroUnauthorized("xero_unauthorized", 401)
        if response.status_code == 403:
            raise XeroCallFailed("organisation_not_accessible", 403)
        if response.status_code == 429:
            raise XeroCallFailed("xero_rate_limited", 429)
        if response.status_code != 200:
            raise XeroCallFailed(f"xero_http_{response.status_code}", response.status_code)
        return response.json()

    async def connections(self, access_token: str) -> list[dict[str, Any]]:
        rows = await self._get(f"{self._identity}/connections", access_token)
        return [r for r in rows if r.get("tenantType", "ORGANISATION") == "ORGANISATION"]

    async def delete_connection(self, access_token: str, connection_id: str) -> bool:
        try:
            response = await self._http.delete(
                f"{self._identity}/connections/{connection_id}",
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except httpx.HTTPError as exc:
            raise XeroCallFailed("xero_unreachable") from exc
        if response.status_code == 401:
            raise XeroUnauthorized("xero_unauthorized", 401)
        # 404: already gone at Xero, which is what we wanted.
        return response.status_code in (204, 200, 404)

    async def organisation(self, access_token: str, tenant_id: str) -> dict[str, Any]:
        body = await self._get(f"{self._accounting}/Organisation", access_token, tenant_id)
        orgs = body.get("Organisations") or []
        return orgs[0] if orgs else {}

    async def accounts(self, access_token: str, tenant_id: str) -> list[dict[str, Any]]:
        body = await self._get(f"{self._accounting}/Accounts", access_token, tenant_id)
        return list(body.get("Accounts") or [])
