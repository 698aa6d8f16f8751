"""The day's currency rate Xero applies when a document or payment comes without one.

Xero's `CurrencyRate` is units of the document's currency per one unit of the base currency
("If no rate is specified, the XE.com day rate is used", developer.xero.com Invoices page);
an amount in base currency is the foreign amount divided by it. The sandbox has no market:
rates set through the admin API win (for a day, or for any day), else a fixed table.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ..state import Organisation

# Units of each currency per one euro: round figures near late-2026 markets, so that a
# document without a rate still gets a plausible, non-parity one.
_PER_EURO = {
    "EUR": Decimal("1"),
    "DKK": Decimal("7.46"),
    "SEK": Decimal("11.20"),
    "NOK": Decimal("11.70"),
    "GBP": Decimal("0.86"),
    "USD": Decimal("1.08"),
    "CAD": Decimal("1.48"),
    "CHF": Decimal("0.95"),
    "AUD": Decimal("1.65"),
    "NZD": Decimal("1.80"),
}
_PLACES = Decimal("0.000001")


def day_rate(org: Organisation, currency: str, day: date) -> Decimal:
    """Units of `currency` per one unit of the base currency on `day` (1 for the base)."""
    if currency == org.base_currency:
        return Decimal("1.000000")
    set_rates = org.rates.get(currency, {})
    if day in set_rates:
        return set_rates[day]
    if None in set_rates:
        return set_rates[None]
    foreign = _PER_EURO.get(currency, Decimal("1"))
    base = _PER_EURO.get(org.base_currency, Decimal("1"))
    return (foreign / base).quantize(_PLACES, rounding=ROUND_HALF_UP)


def to_base(amount: Decimal, rate: Decimal) -> Decimal:
    """A foreign amount in base currency, to the cent."""
    return (amount / rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
