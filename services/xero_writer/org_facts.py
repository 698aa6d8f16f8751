"""What the writer knows of each organisation, read from Xero and kept for a short while.

- tracking categories (``GET /TrackingCategories``: ACTIVE categories with their ACTIVE
  options) to check a line's tracking before it is sent (``tracking.py``);
- its bills (``bill_index.py``), read in full once and then only what changed, for the
  look-ups before creating bills;
- the organisation itself (``GET /Organisation``): its ``BaseCurrency``, to tell a
  foreign-currency payment, whose rate the document shows, from one in the base currency
  (``payment_ops.py``), and its ``PeriodLockDate`` and ``EndOfYearLockDate``
  (``lock_dates.py``), read again at once when a document looks locked or Xero names a lock
  date (the accountant may have just moved it).

Each is read once per organisation (tenant id) and kept ``TTL_S`` seconds: an accountant's
change in Xero is seen within minutes. Tracking is read again at once when a line names a
category or option that is not kept (it may have just been added), and forgotten when Xero
refuses a line's tracking (it may have just been archived).

``FACTS`` (a context variable) holds the writer's one cache in each lane (``scheduler.py``);
unset (an operation called on its own, as unit tests do), every batch reads afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from services.xero_writer.bill_index import BillIndex
from services.xero_writer.outcomes import Call

TTL_S = 300.0


@dataclass(frozen=True)
class Category:
    """One ACTIVE tracking category: Xero's ``Name`` and its ACTIVE options' names."""

    name: str
    options: tuple[str, ...]

    def option(self, wanted: str) -> str | None:
        """Xero's spelling of the option named ``wanted`` (Xero matches names in any case)."""
        return next((o for o in self.options if _same(o, wanted)), None)


@dataclass(frozen=True)
class Tracking:
    """An organisation's ACTIVE tracking categories, as read at ``read_at`` (monotonic s)."""

    categories: tuple[Category, ...]
    read_at: float

    def category(self, wanted: str) -> Category | None:
        return next((c for c in self.categories if _same(c.name, wanted)), None)


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def tracking_of(answer: dict[str, Any], read_at: float) -> Tracking:
    """Xero's ``GET /TrackingCategories`` answer -> its ACTIVE categories and options."""
    categories = tuple(
        Category(
            str(c.get("Name") or ""),
            tuple(
                str(o.get("Name") or "")
                for o in c.get("Options") or []
                if o.get("Status", "ACTIVE") == "ACTIVE"
            ),
        )
        for c in answer.get("TrackingCategories") or []
        if c.get("Status", "ACTIVE") == "ACTIVE"
    )
    return Tracking(categories, read_at)


@dataclass
class OrgFacts:
    """The cache described above; ``clock`` is monotonic seconds (injected by tests)."""

    ttl_s: float = TTL_S
    clock: Callable[[], float] = time.monotonic
    _tracking: dict[str, Tracking] = field(default_factory=dict)
    _organisation: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    _bills: dict[str, BillIndex] = field(default_factory=dict)

    async def bills(
        self, call: Call, tenant_id: str, contact_ids: set[str], *, recheck: bool = False
    ) -> list[dict[str, Any]]:
        """Every ACCPAY bill (any status) of these contacts as Xero holds it, at most
        ``bill_index.FRESH_S`` old (``recheck``: now)."""
        index = self._bills.setdefault(tenant_id, BillIndex(clock=self.clock))
        return await index.bills(call, contact_ids, recheck=recheck)

    def bills_written(self, tenant_id: str, bills: list[dict[str, Any]]) -> None:
        """Bills as Xero answered our own write of them (kept in the index)."""
        index = self._bills.get(tenant_id)
        if index is not None:
            index.note(bills)

    async def tracking(self, call: Call, tenant_id: str, *, fresh: bool = False) -> Tracking:
        """The organisation's tracking; ``fresh``: read now whatever is kept."""
        kept = self._tracking.get(tenant_id)
        if kept is not None and not fresh and self.clock() - kept.read_at < self.ttl_s:
            return kept
        read = tracking_of(await call("GET", "/TrackingCategories"), self.clock())
        self._tracking[tenant_id] = read
        return read

    def forget_tracking(self, tenant_id: str) -> None:
        self._tracking.pop(tenant_id, None)

    async def organisation(
        self, call: Call, tenant_id: str, *, fresh: bool = False
    ) -> dict[str, Any]:
        """Xero's Organisation ({} if it sent none); ``fresh``: read now whatever is kept."""
        kept = self._organisation.get(tenant_id)
        if kept is not None and not fresh and self.clock() - kept[1] < self.ttl_s:
            return kept[0]
        answer = await call("GET", "/Organisation")
        organisation = dict((answer.get("Organisations") or [{}])[0])
        self._organisation[tenant_id] = (organisation, self.clock())
        return organisation

    async def base_currency(self, call: Call, tenant_id: str) -> str | None:
        """The organisation's ``BaseCurrency`` (None if Xero sent none)."""
        base = (await self.organisation(call, tenant_id)).get("BaseCurrency")
        return str(base) if base else None


FACTS: ContextVar[OrgFacts | None] = ContextVar("rx_org_facts", default=None)


def facts() -> OrgFacts:
    """This lane's cache, else one for this batch alone."""
    return FACTS.get() or OrgFacts()
