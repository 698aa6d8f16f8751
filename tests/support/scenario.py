"""Roger events for test companies, and what Xero must hold once they are synced.

The expectations are computed here from the events alone, with their own
arithmetic, not by calling the code under test.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

VENDOR_NAMES = [
    "Nordic Paper Supply ApS",
    "ACME A/S",
    "Café Øresund",
    "Blue Fjord Logistics",
    "Kontor-Huset",
]
# How Roger may spell the same vendor on another bill: case, accents and spacing differ.
SPELLINGS = {
    "ACME A/S": ["ACME A/S", "Acme A/S ", "acme  a/s"],
    "Café Øresund": ["Café Øresund", "CAFÉ ØRESUND"],
}


@dataclass
class Expected:
    company_id: str
    vendors: set[str] = field(default_factory=set)
    bills: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # bill_id -> number, total, lines, paid
    payments: dict[str, Decimal] = field(default_factory=dict)  # payment_id -> amount


def _event(type_: str, company_id: str, data: dict[str, Any], day: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "version": 1,
        "company_id": company_id,
        "occurred_at": f"2026-11-{day:02d}T09:00:00+01:00",
        "data": data,
    }


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def company_events(
    company_id: str, n_bills: int, rng: random.Random
) -> tuple[list[dict[str, Any]], Expected]:
    expected = Expected(company_id)
    events: list[dict[str, Any]] = []
    for b in range(n_bills):
        vendor_index = rng.randrange(len(VENDOR_NAMES))
        name = VENDOR_NAMES[vendor_index]
        vendor: dict[str, Any] = {
            "id": f"ven_{vendor_index}",
            "name": rng.choice(SPELLINGS.get(name, [name])),
            "email": None,
            "tax_number": None,
            "country": "DK",
            "address": None,
            "bank_account": None,
        }
        expected.vendors.add(vendor["id"])
        lines: list[dict[str, Any]] = []
        total = Decimal("0")
        for n in range(rng.randint(1, 5)):
            quantity = Decimal(rng.randint(1, 9))
            unit = Decimal(rng.randint(100, 99999)) / 100
            lines.append(
                {
                    "description": f"Item {n + 1} of bill {b}",
                    "quantity": str(quantity),
                    "unit_amount": str(unit),
                    "category_code": rng.choice(["429", "493", None]),
                    "tax_type": rng.choice(["INPUT2", None]),
                    "tracking": [],
                }
            )
            total += (quantity * unit).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        bill_id = f"bill_{company_id}_{b}"
        issue = date(2026, 11, 1) + timedelta(days=rng.randint(0, 20))
        events.append(
            _event(
                "bill.submitted",
                company_id,
                {
                    "bill_id": bill_id,
                    "vendor": vendor,
                    "invoice_number": f"INV-{b:04d}",
                    "issue_date": issue.isoformat(),
                    "due_date": (issue + timedelta(days=30)).isoformat(),
                    "currency": "DKK",
                    "amount_type": "inclusive",
                    "lines": lines,
                    "total": _money(total),
                    "attachments": [],
                },
                day=issue.day,
            )
        )
        paid = Decimal("0")
        if b % 2 == 0:
            parts = [total] if b % 4 == 0 else [(total / 3).quantize(Decimal("0.01")), None]
            for p, amount in enumerate(parts):
                amount = amount if amount is not None else total - paid
                payment_id = f"pay_{company_id}_{b}_{p}"
                events.append(
                    _event(
                        "bill.paid",
                        company_id,
                        {
                            "bill_id": bill_id,
                            "payment_id": payment_id,
                            "amount": _money(amount),
                            "currency": "DKK",
                            "paid_on": "2026-11-24",
                            "payment_account_code": "090",
                        },
                        day=24,
                    )
                )
                expected.payments[payment_id] = amount
                paid += amount
        expected.bills[bill_id] = {
            "number": f"INV-{b:04d}",
            "total": total,
            "lines": len(lines),
            "paid": paid == total,
            "payments": {p for p in expected.payments if p.startswith(f"pay_{company_id}_{b}_")},
            "vendor": vendor["id"],
        }
    return events, expected
