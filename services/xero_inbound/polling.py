"""Polling's decisions as pure functions: how many calls an organisation's day allows the
poller, whether it may call now, what to ask Xero for, and which of a page's items become
notifications for the sync-back worker (the same ``XeroEvent`` a webhook brings).

Sources: Xero's limits (docs/xero/xero-facts.md §3: 5,000 calls a day and 60 a minute per
organisation per app; ``X-DayLimit-Remaining`` / ``X-MinLimit-Remaining`` on every answer);
``If-Modified-Since`` and ``page`` on GET Invoices/CreditNotes/Payments/Contacts (§4; pages
of 100). Times are aware UTC datetimes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.xero_inbound.notifications import XeroEvent
from shared.xero.client import Remaining, xero_moment

PAGE_SIZE = 100  # Xero's default page size
# Resuming a read cut short (a budget stop, the next page), ask from a little before the
# last change fed: others may share its moment. ``fresh`` drops what was already fed.
OVERLAP = timedelta(seconds=1)
# Xero's UpdatedDateUTC is to the millisecond: after a read that reached its end, everything
# up to the last change fed has been fed, so the next read asks for what is newer.
TICK = timedelta(milliseconds=1)
MINUTE = timedelta(minutes=1)
# After Xero said the day is under the reserve, ask again (one call) only this much later:
# the day window is the organisation's and only an answer tells where it stands.
DAY_BACKOFF_S = 3600.0
# The document attached to a notification (so the worker need not read it again) leaves out
# its lines: sync-back never looks at them, and a bill of thousands of lines is megabytes.
_NOT_ATTACHED = ("LineItems",)


@dataclass(frozen=True)
class Resource:
    """One collection the poller reads: Xero's name for it, its id field, extra query."""

    name: str
    id_field: str
    params: Mapping[str, str] = field(default_factory=dict)


RESOURCES: tuple[Resource, ...] = (
    Resource("Invoices", "InvoiceID", {"where": 'Type=="ACCPAY"'}),
    Resource("CreditNotes", "CreditNoteID", {"where": 'Type=="ACCPAYCREDIT"'}),
    Resource("Payments", "PaymentID"),
    # Archived (and merged) contacts are left out of lists unless asked for.
    Resource("Contacts", "ContactID", {"includeArchived": "true"}),
)


@dataclass(frozen=True)
class Cursor:
    """Where a tenant's reading of one resource stands: the latest ``UpdatedDateUTC`` fed
    (None: never read), the ids fed at exactly that moment (ties are not fed twice), and
    whether the read that got there reached the last page."""

    at: datetime | None = None
    ids: frozenset[str] = frozenset()
    complete: bool = False


@dataclass(frozen=True)
class Rules:
    """The poller's settings for one decision. ``budget``: its calls a UTC day;
    ``day_reserve`` / ``minute_reserve``: what it leaves the writer; ``day_backoff_s``: how
    long after seeing the day under its reserve it asks Xero again."""

    budget: int
    day_reserve: int
    minute_reserve: int
    day_backoff_s: float


@dataclass(frozen=True)
class Decision:
    """``go``, or why not (``budget_spent``, ``day_reserve``, ``minute_reserve``) and the
    earliest moment worth trying again."""

    go: bool
    reason: str = "ok"
    retry_at: datetime | None = None


def day_budget(calls_per_day: int, share: float) -> int:
    """The poller's calls a UTC day: ``floor(share x calls_per_day)`` (10% of 5,000: 500).
    The epsilon keeps 0.1 x 5000 at 500 despite binary floating point."""
    return max(0, math.floor(calls_per_day * share + 1e-9))


def utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def next_utc_midnight(now: datetime) -> datetime:
    day = utc_day(now) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def may_call(now: datetime, calls_today: int, remaining: Remaining, rules: Rules) -> Decision:
    """May the poller make one more call for the organisation now?

    No when its own calls today reached ``rules.budget`` (until the next UTC midnight);
    when Xero last said fewer than ``day_reserve`` calls were left today (until
    ``day_backoff_s`` after that answer: the next call then asks again); when it last said
    fewer than ``minute_reserve`` were left this minute (until a minute after that answer:
    Xero's minute window has turned by then)."""
    if calls_today >= rules.budget:
        return Decision(False, "budget_spent", next_utc_midnight(now))
    return reserve_left(now, remaining, rules)


def reserve_left(now: datetime, remaining: Remaining, rules: Rules) -> Decision:
    """``may_call`` without the poller's own budget: is Xero's last word on what is left
    for the organisation at least the writer's reserves? (The webhook worker asks this
    before reading a document, and leaves the change to polling when not.)"""
    seen = remaining.observed_at
    if seen is not None:
        if remaining.day is not None and remaining.day < rules.day_reserve:
            until = seen + timedelta(seconds=rules.day_backoff_s)
            if now < until:
                return Decision(False, "day_reserve", until)
        if remaining.minute is not None and remaining.minute < rules.minute_reserve:
            until = seen + MINUTE
            if now < until:
                return Decision(False, "minute_reserve", until)
    return Decision(True)


def due(now: datetime, next_at: datetime | None) -> bool:
    """A tenant is due when it was never polled or its next poll time has come."""
    return next_at is None or next_at <= now


def if_modified_since(cursor: Cursor) -> datetime | None:
    """The ``If-Modified-Since`` for the next read, or None to read everything (first read
    of the resource).

    After a complete read: just after the last change fed. Otherwise (a read to resume,
    or the next page of one): ``OVERLAP`` before it, as others may share its moment."""
    if cursor.at is None:
        return None
    return cursor.at + TICK if cursor.complete else cursor.at - OVERLAP


def next_page(
    since: datetime | None, page: int, fed_any: bool, cursor: Cursor
) -> tuple[datetime | None, int]:
    """After a full page: what to ask for next. A page that fed something moves the query
    on (``If-Modified-Since`` from the cursor, page 1), so a change made while we read
    cannot shift an unread item onto a page already read; a page of nothing new (a run of
    changes at one moment longer than a page) takes the next page of the same query.
    Each call thus feeds something or moves a page on."""
    moved = if_modified_since(cursor)
    if fed_any and moved != since:
        return moved, 1
    return since, page + 1


def updated_at(item: Mapping[str, Any]) -> datetime | None:
    return xero_moment(item.get("UpdatedDateUTC"))


def fresh(resource: Resource, items: Iterable[Mapping[str, Any]], cursor: Cursor) -> list[Any]:
    """The items not fed yet: changed after the cursor, or at it and not among its ids.
    Items without an ``UpdatedDateUTC`` are always fresh (never silently dropped)."""
    out = []
    for item in items:
        moment = updated_at(item)
        if cursor.at is None or moment is None or moment > cursor.at:
            out.append(item)
        elif moment == cursor.at and str(item.get(resource.id_field)) not in cursor.ids:
            out.append(item)
    return out


def advance(cursor: Cursor, resource: Resource, items: Iterable[Mapping[str, Any]]) -> Cursor:
    """The cursor after feeding ``items`` (a page read in ``UpdatedDateUTC`` order)."""
    at, ids = cursor.at, set(cursor.ids)  # the read goes on: not complete
    for item in items:
        moment = updated_at(item)
        if moment is None:
            continue
        key = str(item.get(resource.id_field))
        if at is None or moment > at:
            at, ids = moment, {key}
        elif moment == at:
            ids.add(key)
    return Cursor(at, frozenset(ids))


def _event(
    category: str, collection: str, xero_id: str, tenant_id: str, when: datetime | None
) -> dict[str, Any]:
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/{collection}/{xero_id}",
        "resourceId": xero_id,
        "eventDateUtc": (when or datetime.now(UTC)).isoformat(),
        "eventType": "UPDATE",
        "eventCategory": category,
        "tenantId": tenant_id,
        "tenantType": "ORGANISATION",
    }


def notifications(
    resource: Resource, items: Iterable[Mapping[str, Any]], tenant_id: str, fed: set[str]
) -> list[XeroEvent]:
    """What a page's fresh items mean for the sync-back worker, as webhook events.

    - a bill or contact: its INVOICE / CONTACT event, with the document attached (less its
      lines) so the worker compares it without reading it again;
    - a bill payment, or a bill credit note's allocation: an INVOICE event for the bill it
      touched (no document: the worker reads the bill), unless already fed in this round.

    ``fed``: ids of bills fed in this round, updated here."""
    events: list[XeroEvent] = []

    def bill(invoice_id: Any, when: datetime | None, document: Any = None) -> None:
        if not invoice_id or str(invoice_id) in fed:
            return
        fed.add(str(invoice_id))
        raw = _event("INVOICE", "Invoices", str(invoice_id), tenant_id, when)
        if document is not None:
            raw["document"] = {k: v for k, v in document.items() if k not in _NOT_ATTACHED}
        events.append(XeroEvent.model_validate(raw))

    for item in items:
        when = updated_at(item)
        if resource.name == "Invoices" and item.get("Type") == "ACCPAY":
            bill(item.get("InvoiceID"), when, item)
        elif resource.name == "Contacts" and item.get("ContactID"):
            raw = _event("CONTACT", "Contacts", str(item["ContactID"]), tenant_id, when)
            raw["document"] = dict(item)
            events.append(XeroEvent.model_validate(raw))
        elif resource.name == "Payments":
            invoice = item.get("Invoice") or {}
            if item.get("PaymentType") == "ACCPAYPAYMENT" or invoice.get("Type") == "ACCPAY":
                bill(invoice.get("InvoiceID"), when)
        elif resource.name == "CreditNotes" and item.get("Type") == "ACCPAYCREDIT":
            for allocation in item.get("Allocations") or []:
                bill((allocation.get("Invoice") or {}).get("InvoiceID"), when)
    return events
