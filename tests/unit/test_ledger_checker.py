"""The ledger checker finds what is wrong in a ledger, and nothing in a right one."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from tests.support import event_builders as ev
from tests.support.ledger_checker import Chart, compare, document_total, expected_ledger

CHART = Chart(
    "429", "090", {"429": "INPUT2", "090": "NONE"}, {"INPUT2": Decimal("25"), "NONE": Decimal("0")}
)
URL = "https://app.roger.example/companies/c/"


def scenario() -> list[dict[str, Any]]:
    return [
        ev.bill("c", "b1", [ev.line("Paper", "3", "33.333")], "100.00"),
        ev.bill(
            "c", "b1", [ev.line("Paper", "3", "40.00")], "120.00", type_="bill.updated", minute=5
        ),
        ev.paid("c", "b1", "p1", "20.00"),
        ev.paid("c", "b1", "p2", "20.00"),
        ev.reversed_("c", "b1", "p2"),
        ev.credit_note("c", "cn1", [ev.line("Refund", "1", "50.00")], "50.00", applies_to="b1"),
        ev.receipt("c", "r1", [ev.line("Taxi", "1", "10.00", "493")], "10.00", account="091"),
        ev.bill("c", "gone", [ev.line("Ink", "1", "5.00")], "5.00"),
        ev.deleted("c", "gone"),
    ]


def right_ledger() -> dict[str, Any]:
    contact = {"ContactID": "k1", "Name": "Nordic Paper Supply ApS", "ContactStatus": "ACTIVE"}
    return {
        "contacts": [contact],
        "invoices": [
            {
                "InvoiceID": "i1",
                "Type": "ACCPAY",
                "Url": URL + "bills/b1",
                "InvoiceNumber": "INV-1",
                "CurrencyCode": "DKK",
                "Total": 120.0,
                "LineItems": [{}],
                "Contact": contact,
                "AmountPaid": 20.0,
                "AmountCredited": 50.0,
                "AmountDue": 50.0,
                "Status": "AUTHORISED",
            },
            {
                "InvoiceID": "i2",
                "Type": "ACCPAY",
                "Url": URL + "receipts/r1",
                "InvoiceNumber": "r1",
                "CurrencyCode": "DKK",
                "Total": 10.0,
                "LineItems": [{}],
                "Contact": contact,
                "AmountPaid": 10.0,
                "AmountCredited": 0,
                "AmountDue": 0,
                "Status": "PAID",
            },
            {
                "InvoiceID": "i3",
                "Type": "ACCPAY",
                "Url": URL + "bills/gone",
                "InvoiceNumber": "INV-1",
                "CurrencyCode": "DKK",
                "Total": 5.0,
                "LineItems": [{}],
                "Contact": contact,
                "AmountPaid": 0,
                "AmountCredited": 0,
                "AmountDue": 5.0,
                "Status": "VOIDED",
            },
        ],
        "credit_notes": [
            {
                "CreditNoteID": "n1",
                "Type": "ACCPAYCREDIT",
                "CreditNoteNumber": "CN-cn1",
                "CurrencyCode": "DKK",
                "Total": 50.0,
                "RemainingCredit": 0,
                "LineItems": [{}],
                "Contact": contact,
                "Status": "PAID",
            },
        ],
        "payments": [
            {
                "Invoice": {"InvoiceID": "i1"},
                "Amount": 20.0,
                "Account": {"Code": "090"},
                "Status": "AUTHORISED",
            },
            {
                "Invoice": {"InvoiceID": "i1"},
                "Amount": 20.0,
                "Account": {"Code": "090"},
                "Status": "DELETED",
            },
            {
                "Invoice": {"InvoiceID": "i2"},
                "Amount": 10.0,
                "Account": {"Code": "091"},
                "Status": "AUTHORISED",
            },
        ],
    }


def test_a_ledger_that_follows_the_events_has_no_differences() -> None:
    assert compare(expected_ledger(scenario() * 2, CHART), right_ledger()) == []


def test_each_kind_of_mistake_is_reported() -> None:
    expected = expected_ledger(scenario(), CHART)
    cases = {
        "total": lambda led: led["invoices"][0].update(Total=100.0),
        "payment": lambda led: led["payments"].append(copy.deepcopy(led["payments"][0])),
        "2 documents": lambda led: led["invoices"].append(copy.deepcopy(led["invoices"][1])),
        "deleted in Roger": lambda led: led["invoices"][2].update(Status="AUTHORISED"),
        "matching contacts": lambda led: led["contacts"].append(
            {**led["contacts"][0], "ContactID": "k2"}
        ),
        "allocated": lambda led: led["credit_notes"][0].update(RemainingCredit=10.0),
        "missing": lambda led: led["payments"].pop(2),
    }
    for needle, spoil in cases.items():
        ledger = right_ledger()
        spoil(ledger)
        diffs = compare(expected, ledger)
        assert any(needle in d for d in diffs), (needle, diffs)


def test_exclusive_totals_use_per_line_rounded_tax() -> None:
    data = {"amount_type": "exclusive", "lines": [ev.line("a", "1", "0.10", tax_type="INPUT2")] * 3}
    # 0.025 rounds to 0.03 on each line: 3 x (0.10 + 0.03), not 0.30 + 0.08
    assert document_total(data, CHART) == Decimal("0.39")
