"""Xero's webhooks, as the sandbox sends them.

A subscription (admin API: `PUT /_sandbox/webhooks`) names a delivery URL and a webhook
key, for one app (`client_id`: only tenants that app is connected to) or for every
organisation (`client_id` null). As Xero does (developer.xero.com/documentation/guides/
webhooks/overview), the sandbox first checks the receiver's *intent to receive*: a
correctly signed empty payload must be answered 200 and a wrongly signed one 401, or the
subscription stays `INTENT_FAILED` and gets nothing.

Changes are found by fingerprinting an organisation's invoices, credit notes and contacts
after each change through the Accounting API or the admin API: a new id is a CREATE, a
changed fingerprint an UPDATE (payments show as UPDATEs of their invoice, as in Xero).
Events are batched per delivery, signed `x-xero-signature: base64(HMAC-SHA256(key, raw
body))`, and a delivery not answered 200 is retried with backoff (`attempts`, default 8).
`lose: true` on a subscription drops every delivery (for tests of the polling safety net).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .runtime import Sandbox
    from .state import Organisation

log = logging.getLogger(__name__)

# Xero's categories for the collections the sandbox keeps (xero-webhooks.yaml).
_COLLECTIONS = (
    ("INVOICE", "Invoices", "invoices", "InvoiceID"),
    ("CREDITNOTE", "CreditNotes", "credit_notes", "CreditNoteID"),
    ("CONTACT", "Contacts", "contacts", "ContactID"),
)
_MAX_BACKOFF_SECONDS = 30.0


def sign(key: str, body: bytes) -> str:
    """Xero's `x-xero-signature`: base64 of HMAC-SHA256 of the raw body with the key."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def _event_date(moment: datetime) -> str:
    # Xero writes eventDateUtc without an offset and with milliseconds.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


@dataclass
class Delivery:
    """One POST to a subscription's URL, as tests read it back."""

    subscription: str
    first_sequence: int
    last_sequence: int
    events: int
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False
    lost: bool = False


@dataclass
class Subscription:
    id: str
    url: str
    key: str
    client_id: str | None
    status: str = "PENDING"  # OK | INTENT_FAILED
    lose: bool = False
    attempts: int = 8
    pending: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "client_id": self.client_id,
            "status": self.status,
            "lose": self.lose,
            "attempts": self.attempts,
        }


class Webhooks:
    """The sandbox's subscriptions, change detection and delivery log."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._seen: dict[str, dict[tuple[str, str], str]] = {}

    def close(self) -> None:
        for sub in self.subscriptions.values():
            if sub.task is not None:
                sub.task.cancel()
        self.subscriptions.clear()
        self.deliveries.clear()

    # -------------------------------------------------------------- change detection

    def baseline(self, org: Organisation) -> None:
        """Remember the organisation as it is, so only later changes are announced."""
        self._seen[org.tenant_id] = self._fingerprints(org)

    def observe(self, sandbox: Sandbox, org: Organisation) -> None:
        """Queue an event for each document of `org` created or changed since last seen."""
        if not self.subscriptions:
            # Nobody to tell, and ``subscribe`` takes a fresh baseline: fingerprinting every
            # document after every write was most of the sandbox's time in a benchmark.
            self._seen.pop(org.tenant_id, None)
            return
        before = self._seen.get(org.tenant_id, {})
        after = self._fingerprints(org)
        self._seen[org.tenant_id] = after
        moment = sandbox.now()
        events = []
        for (category, resource_id), print_ in after.items():
            old = before.get((category, resource_id))
            if old == print_:
                continue
            collection = next(c[1] for c in _COLLECTIONS if c[0] == category)
            events.append(
                {
                    "resourceUrl": f"https://api.xero.com/api.xro/2.0/{collection}/{resource_id}",
                    "resourceId": resource_id,
                    "tenantId": org.tenant_id,
                    "tenantType": "ORGANISATION",
                    "eventCategory": category,
                    "eventType": "CREATE" if old is None else "UPDATE",
                    "eventDateUtc": _event_date(moment),
                }
            )
        if not events:
            return
        for sub in self.subscriptions.values():
            if sub.status != "OK" or not self._serves(sandbox, sub, org.tenant_id):
                continue
            sub.pending.extend(events)
            sub.wake.set()
            self._ensure_sender(sub)

    @staticmethod
    def _fingerprints(org: Organisation) -> dict[tuple[str, str], str]:
        prints: dict[tuple[str, str], str] = {}
        for category, _, attribute, _ in _COLLECTIONS:
            for resource_id, document in getattr(org, attribute).items():
                digest = hashlib.blake2b(repr(sorted(document.items())).encode(), digest_size=12)
                prints[(category, resource_id)] = digest.hexdigest()
        return prints

    @staticmethod
    def _serves(sandbox: Sandbox, sub: Subscription, tenant_id: str) -> bool:
        if sub.client_id is None:
            return True
        return any(
            c.client_id == sub.client_id and c.tenant_id == tenant_id
            for c in sandbox.state.connections.values()
        )

    # -------------------------------------------------------------- subscriptions

    async def subscribe(
        self,
        sandbox: Sandbox,
        url: str,
        key: str,
        client_id: str | None,
        lose: bool = False,
        attempts: int = 8,
    ) -> Subscription:
        """Add (or replace, for the same app) a subscription after the intent check.

        Only changes made after this call are announced."""
        for org in sandbox.state.organisations.values():
            self.baseline(org)
        old = next((s for s in self.subscriptions.values() if s.client_id == client_id), None)
        if old is not None:
            if old.task is not None:
                old.task.cancel()
            del self.subscriptions[old.id]
        sub = Subscription(
            id=secrets.token_hex(8), url=url, key=key, client_id=client_id, lose=lose
        )
        sub.attempts = attempts
        sub.status = "OK" if await self._intent_to_receive(sub) else "INTENT_FAILED"
        self.subscriptions[sub.id] = sub
        return sub

    async def _intent_to_receive(self, sub: Subscription) -> bool:
        # Xero's check: a correctly signed empty payload must get 200, a wrongly signed
        # one 401 (developer.xero.com/documentation/guides/webhooks/configuring-your-server).
        payload = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0}
        body = json.dumps({**payload, "entropy": _entropy()}).encode()
        bad = sign(secrets.token_hex(16), body)
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                good = await http.post(sub.url, content=body, headers=_headers(sign(sub.key, body)))
                wrong = await http.post(sub.url, content=body, headers=_headers(bad))
        except httpx.HTTPError:
            return False
        return good.status_code == 200 and wrong.status_code == 401

    # -------------------------------------------------------------- delivery

    def _ensure_sender(self, sub: Subscription) -> None:
        if sub.task is None or sub.task.done():
            sub.task = asyncio.get_running_loop().create_task(self._send_loop(sub))

    async def _send_loop(self, sub: Subscription) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                await sub.wake.wait()
                sub.wake.clear()
                # Let a burst of changes gather into one payload, as Xero batches them.
                await asyncio.sleep(0.05)
                events, sub.pending = sub.pending, []
                if events:
                    await self._deliver(http, sub, events)

    async def _deliver(
        self, http: httpx.AsyncClient, sub: Subscription, events: list[dict[str, Any]]
    ) -> None:
        first = sub.sequence + 1
        sub.sequence += len(events)
        record = Delivery(sub.id, first, sub.sequence, len(events))
        self.deliveries.append(record)
        if sub.lose:
            record.lost = True
            return
        body = json.dumps(
            {
                "events": events,
                "firstEventSequence": first,
                "lastEventSequence": sub.sequence,
                "entropy": _entropy(),
            }
        ).encode()
        headers = _headers(sign(sub.key, body))
        backoff = 0.2
        for _ in range(sub.attempts):
            try:
                response = await http.post(sub.url, content=body, headers=headers)
                record.statuses.append(response.status_code)
                if response.status_code == 200:
                    record.delivered = True
                    return
            except httpx.HTTPError as exc:
                record.statuses.append(type(exc).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
        log.warning("webhook delivery %s..%s to %s failed", first, sub.sequence, sub.url)


def _headers(signature: str) -> dict[str, str]:
    return {"content-type": "application/json", "x-xero-signature": signature}
