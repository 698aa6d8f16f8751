"""Unit amounts on reads: 4 decimals only when the request says ``unitdp=4``, as Xero.

Xero keeps what a ``unitdp=4`` write stored, but a read without ``unitdp=4`` answers each
``UnitAmount`` rounded to 2 decimals (half away from zero) while the line amounts and totals
stay as stored (spec parameter ``unitdp``; docs/xero-facts.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

FOUR = {"unitdp": "4"}


def _kwh_line(unit: float) -> dict[str, Any]:
    return {
        "Description": "Electricity",
        "Quantity": 7000,
        "UnitAmount": unit,
        "AccountCode": "429",
        "TaxType": "NONE",
    }


def _units(answer: dict[str, Any], plural: str) -> list[tuple[Decimal, Decimal]]:
    [document] = answer[plural]
    return [
        (Decimal(str(line["UnitAmount"])), Decimal(str(line["LineAmount"])))
        for line in document["LineItems"]
    ]


def test_a_bill_stored_with_four_decimals_reads_two_without_unitdp(books):
    contact = new_contact(books, "Nordlys Energi A/S")
    bill = authorised_bill(contact, "NE-1", LineItems=[_kwh_line(0.1648), _kwh_line(0.0125)])
    made = raw(books, "PUT", "/Invoices", params=FOUR, json={"Invoices": [bill]})
    assert made.status_code == 200, made.text
    bill_id = made.json()["Invoices"][0]["InvoiceID"]

    exact = raw(books, "GET", f"/Invoices/{bill_id}", params=FOUR).json()
    rounded = raw(books, "GET", f"/Invoices/{bill_id}").json()
    listed = raw(books, "GET", "/Invoices", params={"IDs": bill_id, "page": "1"}).json()

    assert _units(exact, "Invoices") == [
        (Decimal("0.1648"), Decimal("1153.60")),
        (Decimal("0.0125"), Decimal("87.50")),
    ]
    # Only the unit amount is rounded: the line amounts (and the total) are what was booked.
    assert _units(rounded, "Invoices") == [
        (Decimal("0.16"), Decimal("1153.60")),
        (Decimal("0.01"), Decimal("87.50")),
    ]
    assert _units(listed, "Invoices") == _units(rounded, "Invoices")
    assert Decimal(str(rounded["Invoices"][0]["Total"])) == Decimal("1241.10")
    # The admin ledger shows what the organisation holds: the 4 decimals stored.
    [held] = books.ledger()["invoices"]
    assert [Decimal(str(line["UnitAmount"])) for line in held["LineItems"]] == [
        Decimal("0.1648"),
        Decimal("0.0125"),
    ]


def test_a_credit_note_stored_with_four_decimals_reads_two_without_unitdp(books):
    contact = new_contact(books, "Nordlys Energi A/S")
    note = {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": contact},
        "Date": "2026-11-02",
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "LineItems": [_kwh_line(0.0575)],
    }
    made = raw(books, "PUT", "/CreditNotes", params=FOUR, json={"CreditNotes": [note]})
    assert made.status_code == 200, made.text
    note_id = made.json()["CreditNotes"][0]["CreditNoteID"]

    exact = raw(books, "GET", f"/CreditNotes/{note_id}", params=FOUR).json()
    rounded = raw(books, "GET", f"/CreditNotes/{note_id}").json()

    assert _units(exact, "CreditNotes") == [(Decimal("0.0575"), Decimal("402.50"))]
    assert _units(rounded, "CreditNotes") == [(Decimal("0.06"), Decimal("402.50"))]
