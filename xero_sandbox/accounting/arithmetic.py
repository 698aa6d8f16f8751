"""Line and document totals the way Xero computes them.

Tax is worked out per line and rounded to cents (half away from zero) before summing, so a
document's tax can differ from `rate × subtotal`; clients that total the other way disagree
with Xero by a cent, and this module is where they find out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass
class LineFigures:
    quantity: Decimal
    unit_amount: Decimal
    line_amount: Decimal
    tax_amount: Decimal


@dataclass
class Totals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


def line_figures(
    quantity: Decimal | None,
    unit_amount: Decimal | None,
    line_amount: Decimal | None,
    tax_override: Decimal | None,
    rate: Decimal,
    line_amount_types: str,
    unit_dp: int = 2,
    discount_rate: Decimal | None = None,
) -> LineFigures:
    """One line: Xero derives what is missing from Quantity, UnitAmount and LineAmount."""
    if unit_amount is not None:
        unit_amount = to_places(unit_amount, unit_dp)
    if quantity is not None:
        quantity = to_places(quantity, 4)
    if quantity is None and unit_amount is None and line_amount is not None:
        quantity, unit_amount = Decimal("1.0000"), to_places(line_amount, unit_dp)
    if quantity is None:
        quantity = Decimal("1.0000") if unit_amount is not None else Decimal("0.0000")
    if unit_amount is None:
        if line_amount is not None and quantity:
            unit_amount = to_places(line_amount / quantity, unit_dp)
        else:
            unit_amount = to_places(Decimal(0), unit_dp)
    gross = quantity * unit_amount
    if discount_rate:
        gross = gross * (HUNDRED - discount_rate) / HUNDRED
    amount = cents(gross)
    if line_amount_types == "NoTax":
        tax = Decimal("0.00")
    elif tax_override is not None:
        tax = cents(tax_override)
    elif line_amount_types == "Inclusive":
        tax = cents(amount * rate / (HUNDRED + rate))
    else:
        tax = cents(amount * rate / HUNDRED)
    return LineFigures(quantity, unit_amount, amount, tax)


def document_totals(lines: list[LineFigures], line_amount_types: str) -> Totals:
    amounts = sum((line.line_amount for line in lines), Decimal("0.00"))
    tax = sum((line.tax_amount for line in lines), Decimal("0.00"))
    if line_amount_types == "Inclusive":
        sub_total = amounts - tax
    else:
        sub_total = amounts
    return Totals(cents(sub_total), cents(tax), cents(sub_total + tax))
