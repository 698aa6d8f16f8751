"""Lock dates: what the writer does with a document dated inside a locked period.

Xero refuses an approved bill or credit note dated on or before the organisation's
``PeriodLockDate`` or ``EndOfYearLockDate`` (``GET /Organisation``; both optional). The
connection's ``lock_date_policy`` (chosen at setup, carried on each document command) says
what happens then:

- ``fail`` (the default): the document is ``failed`` with the lock date and the fix
  (``LOCKED_FIX``); nothing is sent;
- ``next_open_day``: it is posted on the first day after the lock date (its due date moved
  too if it fell before), and the result's warning names both dates.

The lock dates come with the organisation the writer keeps for a few minutes
(``org_facts.py``); a refusal of Xero's naming a lock date reads them again, as does a
document the kept dates call locked (the accountant may have moved them since).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.xero_writer import org_facts
from services.xero_writer.outcomes import Call
from shared.contracts.results import XeroResult
from shared.xero.client import xero_moment

LOCKED_FIX = "change the date in Roger, or ask the accountant to move the lock date in Xero"
# Xero's refusal: "The document date cannot be before the period lock date, currently set at
# 31-Oct-2026" (and "... the end of year lock date ...").
REFUSAL = re.compile(r"lock date", re.IGNORECASE)


def parse_xero_date(value: Any) -> date | None:
    """``/Date(1793404800000+0000)/`` or ``2026-10-31T00:00:00`` as a date; None if absent."""
    moment = xero_moment(value)
    return moment.date() if moment else None


@dataclass(frozen=True)
class LockDates:
    """The organisation's lock dates (None: not set)."""

    period: date | None = None  # PeriodLockDate
    end_of_year: date | None = None  # EndOfYearLockDate

    @classmethod
    def of(cls, organisation: dict[str, Any]) -> LockDates:
        return cls(
            parse_xero_date(organisation.get("PeriodLockDate")),
            parse_xero_date(organisation.get("EndOfYearLockDate")),
        )

    def locking(self, day: date) -> tuple[str, date] | None:
        """The lock date ``day`` falls on or before, as (its name, the date): the later of
        the two when both lock it (the first open day follows the later one)."""
        hits = [
            (when, name)
            for name, when in (
                ("period lock date", self.period),
                ("end of year lock date", self.end_of_year),
            )
            if when is not None and day <= when
        ]
        if not hits:
            return None
        when, name = max(hits)
        return name, when


async def lock_dates_of(call: Call, tenant_id: str, *, fresh: bool = False) -> LockDates:
    """The organisation's lock dates, as kept (``org_facts``) or, with ``fresh``, read now."""
    organisation = await org_facts.facts().organisation(call, tenant_id, fresh=fresh)
    return LockDates.of(organisation)


def refused_for_lock(message: str | None) -> bool:
    return bool(message and REFUSAL.search(message))


# What bills and credit notes do with a lock date is the policy above (document_guards.py);
# anything else Xero refuses for one (a payment, an allocation, a void) is dated by Xero
# or by Roger's own date, so only the fix can be added.
_POSTS = ("CreatePayment", "AllocateCreditNote", "VoidBill", "DeletePayment", "DeleteAllocation")


def explained(kind: str, answer: XeroResult) -> XeroResult:
    """``answer`` with ``LOCKED_FIX`` added when Xero refused a payment, allocation or void
    for a lock date; any other answer as it is."""
    if kind not in _POSTS or answer.type != "XeroCommandFailed":
        return answer
    if not refused_for_lock(answer.message) or LOCKED_FIX in (answer.message or ""):
        return answer
    return answer.model_copy(update={"message": f"{answer.message}: {LOCKED_FIX}"})


def failure(day: date, name: str, lock: date) -> str:
    return (
        f"dated {day.isoformat()}, on or before the organisation's {name} "
        f"{lock.isoformat()} in Xero: {LOCKED_FIX}"
    )


def moved_note(day: date, name: str, lock: date, posted: date) -> str:
    return (
        f"dated {day.isoformat()} in Roger, on or before the organisation's {name} "
        f"{lock.isoformat()} in Xero: posted on {posted.isoformat()}, the first open day"
    )


def first_open_day(lock: date) -> date:
    return lock + timedelta(days=1)
