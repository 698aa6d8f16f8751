"""What the integration page shows of a company's sync, read from the projector's read API.

The documents' states live in the projector's read model (its own tables); the connect flow
does not read them itself, nor import the projector. It asks the projector's HTTP read API
(``integration-api.md``: ``/summary``, ``/documents?state=``, ``/synced-per-hour``) with the
first of its service tokens, and a person's Retry goes to the same API's ``POST .../retry``,
which checks the document failed and publishes ``DocumentRetryRequested`` on Kafka itself.

Errors: ``Unavailable`` when the projector cannot be reached or answers 5xx; the page then
says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from shared.settings import ConnectionsSettings

# The page lists at most this many failed and waiting documents (the counts say the rest).
LISTED = 50
TIMEOUT_S = 5.0


class Unavailable(Exception):
    """The projector's read API did not answer usefully."""


@dataclass(frozen=True)
class SyncStatus:
    counts: dict[str, dict[str, int]]  # kind -> state -> documents
    oldest_pending_age_s: float | None
    failed: list[dict[str, Any]]  # documents as the read API shows them (with ``xero_url``)
    waiting: list[dict[str, Any]]
    synced: list[dict[str, Any]]  # the latest few, for their links into Xero
    per_hour: list[dict[str, Any]] = field(default_factory=list)  # [{"hour", "synced"}]


class SyncStatusReader:
    """One HTTP client to the projector for the life of the connect router."""

    def __init__(self, settings: ConnectionsSettings, transport: Any = None) -> None:
        token = settings.service_tokens[0].get_secret_value()
        self._http = httpx.AsyncClient(
            base_url=settings.projector_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, **params: Any) -> Any:
        try:
            r = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise Unavailable(str(exc)) from exc
        if r.status_code != 200:
            raise Unavailable(f"GET {path}: {r.status_code}")
        return r.json()

    async def status(self, company_id: str) -> SyncStatus:
        """Counts, the failed and waiting documents (at most ``LISTED`` each), the latest
        synced ones and the documents synced per hour over the last 7 days."""
        base = f"/v1/companies/{company_id}"
        summary = await self._get(f"{base}/summary")
        failed = await self._get(f"{base}/documents", state="failed", limit=LISTED)
        waiting = await self._get(f"{base}/documents", state="waiting", limit=LISTED)
        synced = await self._get(f"{base}/documents", state="synced", limit=LISTED)
        hours = await self._get(f"{base}/synced-per-hour")
        # Instants, not text: an ISO string with another offset would sort wrong.
        latest = sorted(
            synced["documents"],
            key=lambda d: datetime.fromisoformat(d["updated_at"]),
            reverse=True,
        )
        return SyncStatus(
            counts=summary["counts"],
            oldest_pending_age_s=summary["oldest_pending_age_s"],
            failed=failed["documents"],
            waiting=waiting["documents"],
            synced=latest[:10],
            per_hour=hours["hours"],
        )

    async def retry(self, company_id: str, kind: str, roger_id: str) -> tuple[bool, str]:
        """(True, "") once the projector took the retry (202), else (False, why): its own
        message for 404/409/422. Raises ``Unavailable``."""
        path = f"/v1/companies/{company_id}/documents/{kind}/{quote(roger_id, safe='')}/retry"
        try:
            r = await self._http.post(path)
        except httpx.HTTPError as exc:
            raise Unavailable(str(exc)) from exc
        if r.status_code == 202:
            return True, ""
        if r.status_code >= 500:
            raise Unavailable(f"POST retry: {r.status_code}")
        try:
            message = str(r.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = f"the retry was refused ({r.status_code})"
        return False, message
