"""Issue 11's writer cases end to end over the real stack, checked in the sandbox's ledger:
4-decimal unit prices, suppliers sharing a mailbox, and a bill keyed in Xero by hand."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.pipeline_bills import ByHand, synced
from tests.support.pipeline_documents import send


def company(pipeline: Pipeline) -> tuple[str, str]:
    company_id = f"hard-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company_id}", "DKK")
    pipeline.connect(company_id, tenant)
    return company_id, tenant


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"))


def test_a_four_decimal_unit_price_is_booked_exactly_and_paid(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    energy = ev.vendor("ven_b2", "Nordlys Energi A/S", tax_number="DK50505050")
    kwh = [ev.line("Electricity 7000 kWh", "7000", "0.1648", "429", "NONE")]
    send(
        pipeline,
        ev.bill(c, "b2", kwh, "1153.60", number="NE-2026-11", amount_type="no_tax", ven=energy),
        ev.paid(c, "b2", "p1", "1153.60"),
    )

    def paid() -> dict[str, Any] | None:
        doc = pipeline.doc(c, "bill", "b2")
        return doc if doc and doc["payments"] and doc["payments"][0]["state"] == "synced" else None

    doc = wait_for(paid, 90, "the payment made")
    [bill] = pipeline.ledger(tenant)["invoices"]
    [line] = bill["LineItems"]
    assert (money(line["UnitAmount"]), money(line["LineAmount"])) == (
        Decimal("0.1648"),
        Decimal("1153.60"),
    )
    assert (money(bill["Total"]), bill["Status"]) == (Decimal("1153.60"), "PAID")
    assert doc["warnings"] == []


def test_two_suppliers_sharing_a_mailbox_keep_a_contact_each(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    mailbox = "post@shared-bookkeeping.example"
    alpha = ev.vendor("ven_alpha", "Alpha Print ApS", email=mailbox, tax_number="DK11111111")
    beta = ev.vendor("ven_beta", "Beta Freight ApS", email=mailbox, tax_number="DK22222222")
    flyers = [ev.line("Flyers", "1", "100.00")]
    freight = [ev.line("Pallet freight", "1", "200.00")]

    send(
        pipeline,
        ev.bill(c, "b4a", flyers, "100.00", number="AP-1", amount_type="no_tax", ven=alpha),
    )
    synced(pipeline, c, "bill", "b4a")
    send(
        pipeline,
        ev.bill(c, "b4b", freight, "200.00", number="BF-9", amount_type="no_tax", ven=beta),
    )
    synced(pipeline, c, "bill", "b4b")
    moved = {**beta, "name": "Beta Freight & Logistics ApS"}
    send(pipeline, ev.vendor_updated(c, moved))

    def renamed() -> dict[str, Any] | None:
        ledger = pipeline.ledger(tenant)
        names = {x["Name"] for x in ledger["contacts"]}
        return ledger if "Beta Freight & Logistics ApS" in names else None

    ledger = wait_for(renamed, 90, "Beta's contact renamed")
    contacts = {x["ContactNumber"]: x for x in ledger["contacts"]}
    assert {k: (v["Name"], v["TaxNumber"]) for k, v in contacts.items()} == {
        "ven_alpha": ("Alpha Print ApS", "DK11111111"),
        "ven_beta": ("Beta Freight & Logistics ApS", "DK22222222"),
    }
    bills = {b["InvoiceNumber"]: b["Contact"]["ContactID"] for b in ledger["invoices"]}
    assert bills == {
        "AP-1": contacts["ven_alpha"]["ContactID"],
        "BF-9": contacts["ven_beta"]["ContactID"],
    }


def test_a_bill_keyed_by_hand_is_adopted_and_a_near_miss_is_not(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    hand = ByHand(pipeline, tenant)
    [contact] = hand.put(
        "/Contacts", {"Contacts": [{"Name": "Typed Supplier ApS", "TaxNumber": "DK44444444"}]}
    )["Contacts"]

    def typed(number: str, amount: str) -> dict[str, Any]:
        return {
            "Type": "ACCPAY",
            "Contact": {"ContactID": contact["ContactID"]},
            "InvoiceNumber": number,
            "Date": "2026-11-02",
            "DueDate": "2026-12-02",
            "LineAmountTypes": "NoTax",
            "Status": "AUTHORISED",
            "LineItems": [
                {
                    "Description": "Typed",
                    "Quantity": 1,
                    "UnitAmount": float(amount),
                    "AccountCode": "429",
                }
            ],
        }

    twin, near = hand.put(
        "/Invoices", {"Invoices": [typed("INV-1234", "250.00"), typed("INV-555", "99.00")]}
    )["Invoices"]
    supplier = ev.vendor("ven_typed", "Typed Supplier ApS", tax_number="DK44444444")
    send(
        pipeline,
        ev.bill(
            c,
            "b-twin",
            [ev.line("Goods", "1", "250.00")],
            "250.00",
            number="1234",
            amount_type="no_tax",
            ven=supplier,
        ),
        ev.bill(
            c,
            "b-near",
            [ev.line("Goods", "1", "100.00")],
            "100.00",
            number="555",
            amount_type="no_tax",
            ven=supplier,
        ),
    )

    adopted = synced(pipeline, c, "bill", "b-twin")
    created = synced(pipeline, c, "bill", "b-near")

    assert adopted["xero_id"] == twin["InvoiceID"]
    assert created["xero_id"] not in (twin["InvoiceID"], near["InvoiceID"])
    ledger = pipeline.ledger(tenant)
    assert len(ledger["invoices"]) == 3
    assert len(ledger["contacts"]) == 1

    def notes(roger_id: str) -> list[str]:
        history = pipeline.doc(c, "bill", roger_id)["history"]  # type: ignore[index]
        return [h.get("message") or "" for h in history if h.get("type") == "XeroBillCreated"]

    assert any("adopted" in m and twin["InvoiceID"] in m for m in notes("b-twin"))
    assert any("not adopted" in m and near["InvoiceID"] in m for m in notes("b-near"))
