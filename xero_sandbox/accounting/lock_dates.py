"""Lock dates: Xero refuses to post anything dated on or before the organisation's period
lock date or end-of-year lock date (Organisation.PeriodLockDate / EndOfYearLockDate).

Drafts and submitted documents post nothing, so Xero lets them be dated inside a locked
period (Dext's help page on lock dates: "Publish as Draft" still works); approving,
voiding, paying and allocating do post, and are refused.
"""

from __future__ import annotations

from datetime import date

from ..state import Organisation

# Xero's words, quoted with both messages together in integrators' error reports
# (e.g. "The document date cannot be before the period lock date, currently set at
# 30-Nov-2018, The document date cannot be before the end of year lock date, ...").
DOCUMENT_PERIOD = "The document date cannot be before the period lock date, currently set at {}"
DOCUMENT_END_OF_YEAR = (
    "The document date cannot be before the end of year lock date, currently set at {}"
)
# No recorded wording for payments; the sandbox says the same of the payment's date.
PAYMENT_PERIOD = "The payment date cannot be before the period lock date, currently set at {}"
PAYMENT_END_OF_YEAR = (
    "The payment date cannot be before the end of year lock date, currently set at {}"
)


def shown(day: date) -> str:
    """Xero's way of writing a lock date in its messages: `30-Nov-2018`."""
    return f"{day.day:02d}-{day:%b}-{day.year}"


def lock_errors(org: Organisation, day: date | None, payment: bool = False) -> list[str]:
    """Every lock date that `day` falls on or before, as Xero's messages (empty if none)."""
    if day is None:
        return []
    period, end_of_year = (
        (PAYMENT_PERIOD, PAYMENT_END_OF_YEAR)
        if payment
        else (DOCUMENT_PERIOD, DOCUMENT_END_OF_YEAR)
    )
    errors = []
    if org.period_lock_date is not None and day <= org.period_lock_date:
        errors.append(period.format(shown(org.period_lock_date)))
    if org.end_of_year_lock_date is not None and day <= org.end_of_year_lock_date:
        errors.append(end_of_year.format(shown(org.end_of_year_lock_date)))
    return errors
