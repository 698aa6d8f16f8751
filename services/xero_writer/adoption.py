"""Adopt, never duplicate: a bill the accountant keyed in Xero before Roger sent it.

A Xero bill is the Roger bill when all of these hold (issue 11): the same contact, the
same supplier number once normalised ("INV-1234" = "inv 1234" = "1234"), the same total
(Roger's figure from its lines, to the cent) and currency, and it is not ours (no ``Url``
on our Roger app's host). Exactly one such bill is adopted, with a visible note; a partial
match (same number, another total or currency), or two full ones, adopts nothing and names
the candidates in a warning. Xero itself only warns about a repeated number.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from shared.contracts.commands import CreateBill, CreateCreditNote, UpdateBill

CENT = Decimal("0.01")
# Words suppliers and tools put before the number itself (Danish, German, English).
_PREFIX = re.compile(r"^(?:invoice|inv|bill|faktura|fak|rechnung|nr|no)+(?=\d)")
_NOT_ALNUM = re.compile(r"[^\w]|_")


def normalise_number(number: str | None) -> str:
    """'INV-1234', 'inv 1234', '#1234' and '01234' are one supplier number: '1234'."""
    text = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", number or "").casefold())
    text = _PREFIX.sub("", text)
    return text.lstrip("0") or text


def expected_figure(cmd: CreateBill | UpdateBill | CreateCreditNote) -> tuple[str, Decimal]:
    """Which of Xero's figures Roger's lines fix, and its value to the cent.

    Xero rounds each line to 2 dp and sums them (xero-facts.md, unitdp). With tax on top
    (``Exclusive``) only the total before tax is Roger's to fix: ``("SubTotal", ...)``;
    otherwise the lines are the total: ``("Total", ...)``.
    """
    amount = sum(
        ((line.quantity * line.unit_amount).quantize(CENT, ROUND_HALF_UP) for line in cmd.lines),
        Decimal("0"),
    )
    return ("SubTotal" if cmd.line_amount_types == "Exclusive" else "Total"), amount


def ours(bill: dict[str, Any], cmd: CreateBill) -> bool:
    """A bill carrying a Url on our Roger app's host was made by us, never by hand."""
    url = bill.get("Url") or ""
    return bool(url) and urlsplit(url).netloc == urlsplit(cmd.url).netloc


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _describe(bill: dict[str, Any]) -> str:
    total = _money(bill.get("Total"))
    shown = f"{total:.2f}" if total is not None else "?"
    return (
        f"Xero bill '{bill.get('InvoiceNumber', '')}' of {shown} "
        f"{bill.get('CurrencyCode', '')} ({bill.get('InvoiceID', '')})"
    )


def adopt(cmd: CreateBill, bills: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """(the bill to adopt, its note) or (None, a warning naming near misses, if any).

    ``bills``: the contact's live bills that are not ours (``document_ops.contact_bills``).
    """
    number = normalise_number(cmd.number)
    if not number:
        return None, None
    field, wanted = expected_figure(cmd)
    same_number = [
        b
        for b in bills
        if (b.get("Contact") or {}).get("ContactID") == cmd.contact_id
        and normalise_number(b.get("InvoiceNumber")) == number
    ]
    full = [
        b
        for b in same_number
        if b.get("CurrencyCode", cmd.currency) == cmd.currency and _money(b.get(field)) == wanted
    ]
    if len(full) == 1:
        [bill] = full
        return bill, (
            f"adopted {_describe(bill)}, keyed in Xero before Roger sent the bill: "
            "linked to it, not created again"
        )
    if len(full) > 1:
        named = "; ".join(_describe(b) for b in full)
        return None, f"not adopted, more than one bill matches ({named}): created a new bill"
    if same_number:
        named = "; ".join(_describe(b) for b in same_number)
        return None, (
            f"not adopted: {named} has the supplier number {cmd.number} but not Roger's "
            f"{'total' if field == 'Total' else 'total before tax'} {wanted:.2f} {cmd.currency};"
            " created a bill of our own: check for a duplicate"
        )
    return None, None
