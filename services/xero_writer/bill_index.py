"""The organisation's ACCPAY bills as the writer last saw them, kept current cheaply.

Before creating bills the writer always looks (``document_ops._create_bills``): for a bill
an earlier attempt made (by ``Url``) and for one the accountant keyed by hand (adoption).
Reading every bill of the batch's contacts for every batch costs a page of up to 1,000
bills per thousand the contacts hold, so a month-end backlog made the look-ups grow with
the backlog: at 7 vendors and a few thousand bills, most of the writer's CPU and of the
organisation's 60 calls a minute went to reading back what it had just written (issue 14,
py-spy).

So each organisation's index is read in full once per contact and afterwards only for
what Xero says changed (``If-Modified-Since``, every ACCPAY bill of the organisation, so a
bill moved to another contact is seen moving). The watermark is Xero's own clock (the
answer's ``DateTimeUTC``), less ``OVERLAP`` for writes still committing while Xero answered.
The index is dropped, and read again in full, when it is older than ``MAX_AGE_S``, when
an answer carried no ``DateTimeUTC`` (nothing to count from), or when it would hold more
than ``MAX_BILLS`` (memory stays bounded: such an organisation is read in full per batch,
as before).

The changes are read at most every ``FRESH_S`` seconds, not before every batch: at Xero's
60 calls a minute, a read per batch of 50 halved the bills a minute can carry (issue 14's
ceiling). What the writer itself made is put in the index from Xero's answer
(``note``), so only a person's changes wait; a batch holding a command tried before, or
one to make again after a void in Xero, reads them first whatever their age (``recheck``).
The cost: a bill keyed by hand less than ``FRESH_S`` before Roger's copy of it arrives is
not adopted (it is made, and the duplicate shows in Xero; adoption is for bills keyed
before Roger sent them, in practice hours or days before).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.xero_writer.outcomes import Call
from shared.xero.client import xero_moment

OVERLAP = timedelta(seconds=10)
FRESH_S = 15.0
MAX_AGE_S = 900.0
MAX_BILLS = 20_000
PAGE_SIZE = "1000"  # Xero's largest page
UNITDP = {"unitdp": "4"}
# What the look-ups, adoption and the answer read of a bill: kept, the rest (lines) is not.
KEPT = (
    "InvoiceID",
    "InvoiceNumber",
    "Type",
    "Status",
    "Url",
    "Total",
    "SubTotal",
    "CurrencyCode",
    "UpdatedDateUTC",
)


def slim(bill: dict[str, Any]) -> dict[str, Any]:
    """The fields in ``KEPT`` and the contact's id, as Xero wrote them."""
    kept = {k: bill[k] for k in KEPT if k in bill}
    kept["Contact"] = {"ContactID": (bill.get("Contact") or {}).get("ContactID")}
    return kept


async def all_pages(
    call: Call, path: str, plural: str, params: dict[str, str], since: datetime | None = None
) -> tuple[list[Any], datetime | None]:
    """Every page of a list (``plural``: ``Invoices``, ``CreditNotes``), in Xero's pages of up
    to 1,000, changed after ``since`` if given; and Xero's ``DateTimeUTC`` of the first answer
    (None if it sent none)."""
    items: list[Any] = []
    stamp: datetime | None = None
    page = 1
    extra = {"if_modified_since": since} if since is not None else {}
    while True:
        answer = await call(
            "GET",
            path,
            params={**params, **UNITDP, "page": str(page), "pageSize": PAGE_SIZE},
            **extra,
        )
        if page == 1:
            stamp = xero_moment(answer.get("DateTimeUTC"))
        batch = answer.get(plural) or []
        items += batch
        pagination = answer.get("pagination") or {}
        if not batch or page >= int(pagination.get("pageCount", page)):
            return items, stamp
        page += 1


async def read_bills(
    call: Call, params: dict[str, str], since: datetime | None
) -> tuple[list[dict[str, Any]], datetime | None]:
    """``all_pages`` of the organisation's ACCPAY bills."""
    found, stamp = await all_pages(
        call, "/Invoices", "Invoices", {**params, "where": 'Type=="ACCPAY"'}, since
    )
    return [b for b in found if b.get("Type") == "ACCPAY"], stamp


@dataclass
class BillIndex:
    """One organisation's index; ``clock`` is monotonic seconds (injected by tests)."""

    clock: Callable[[], float] = time.monotonic
    fresh_s: float = FRESH_S
    _bills: dict[str, dict[str, Any]] = field(default_factory=dict)  # InvoiceID -> bill
    _contacts: set[str] = field(default_factory=set)  # read in full since the watermark
    _watermark: datetime | None = None
    _built_at: float = 0.0
    _read_at: float | None = None  # the last read of changes (or in full)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def bills(
        self, call: Call, contact_ids: Iterable[str], *, recheck: bool = False
    ) -> list[dict[str, Any]]:
        """Every ACCPAY bill (any status) of these contacts as Xero holds it, at most
        ``fresh_s`` old (``recheck``: as it holds it now)."""
        wanted = set(contact_ids)
        async with self._lock:
            if self._watermark is None or self.clock() - self._built_at > MAX_AGE_S:
                self._reset()
            marks: list[datetime | None] = []
            since = self._watermark
            stale = recheck or self._read_at is None or self.clock() - self._read_at >= self.fresh_s
            if self._contacts and since is not None:
                if stale:
                    changed, stamp = await read_bills(call, {}, since - OVERLAP)
                    self._merge(changed)
                    marks.append(stamp)
                    self._read_at = self.clock()
                else:
                    # Not read: the changes after ``since`` are still to read, so the
                    # watermark stays there (a new contact's read must not move it past them).
                    marks.append(since)
            fresh = wanted - self._contacts
            if fresh:
                ids = {"ContactIDs": ",".join(sorted(fresh))}
                found, stamp = await read_bills(call, ids, None)
                self._merge(found)
                self._contacts |= fresh
                marks.append(stamp)
                if self._read_at is None:
                    self._read_at = self.clock()
            out = [b for b in self._bills.values() if _contact(b) in wanted]
            if None in marks or len(self._bills) > MAX_BILLS:
                self._reset()  # nothing to count from, or too big to keep: read in full next
            elif marks:
                # The earliest answer: every change after it is read next time.
                self._watermark = min(m for m in marks if m is not None)
                if self._built_at == 0.0:
                    self._built_at = self.clock()
            return out

    def note(self, bills: Iterable[dict[str, Any]]) -> None:
        """Bills as Xero answered the writer's own write: kept, so the next look finds them
        without reading them back (the next read of changes brings them again, harmlessly)."""
        if self._watermark is not None:
            self._merge([b for b in bills if b.get("Type") == "ACCPAY"])

    def _merge(self, bills: list[dict[str, Any]]) -> None:
        for b in bills:
            if b.get("InvoiceID"):
                self._bills[b["InvoiceID"]] = slim(b)

    def _reset(self) -> None:
        self._bills.clear()
        self._contacts.clear()
        self._watermark = None
        self._built_at = 0.0
        self._read_at = None


def _contact(bill: dict[str, Any]) -> str | None:
    return (bill.get("Contact") or {}).get("ContactID")
