"""Each Roger event type end to end over the real stack, checked in the sandbox's ledger.

Receipts, credit notes and their allocation, bill edits and deletions, reversed
payments, vendor updates, attachments and currencies; every refusal and warning
is read back through the read API with Xero's own words.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.fixtures.pipeline import FileServer, Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.pipeline_documents import amount, company, invoice, send, synced, wait_doc


def test_a_receipt_becomes_a_bill_paid_in_full(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    send(pipeline, ev.receipt(c, "r1", [ev.line("Taxi to client", "1", "312.50", "493")], "312.50"))
    doc = wait_doc(
        pipeline, c, "receipt", "r1", lambda d: synced(d) and d["payments"], "receipt synced"
    )
    assert doc["payments"][0]["state"] == "synced"
    ledger = pipeline.ledger(tenant)
    bill = invoice(ledger, "receipt", "r1")
    assert bill["Type"] == "ACCPAY" and bill["Status"] == "PAID"
    assert amount(bill["AmountPaid"]) == Decimal("312.50")
    [payment] = ledger["payments"]
    assert payment["Account"]["Code"] == "090"  # the connection's default payment account


def test_credit_notes_are_allocated_to_their_bill_and_the_rest_stays_open(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    # The first credit note arrives before its bill: its allocation waits for the bill.
    send(
        pipeline,
        ev.credit_note(
            c, "cn1", [ev.line("Returned boxes", "1", "300.00")], "300.00", applies_to="b1"
        ),
    )
    wait_doc(
        pipeline,
        c,
        "credit_note",
        "cn1",
        lambda d: any("waiting for the bill" in w for w in d["warnings"]),
        "allocation waiting",
    )
    send(pipeline, ev.bill(c, "b1", [ev.line("Paper", "1", "1000.00")], "1000.00"))
    send(
        pipeline,
        ev.credit_note(
            c,
            "cn2",
            [ev.line("Price correction", "1", "900.00")],
            "900.00",
            applies_to="b1",
            day=22,
        ),
    )

    def allocated(d: dict[str, Any]) -> bool:
        return d["state"] == "synced" and not any("allocation to bill" in w for w in d["warnings"])

    wait_doc(pipeline, c, "credit_note", "cn1", allocated, "cn1 allocated")
    cn2 = wait_doc(pipeline, c, "credit_note", "cn2", allocated, "cn2 allocated")
    assert any("stays an open credit" in w for w in cn2["warnings"]), cn2["warnings"]

    ledger = pipeline.ledger(tenant)
    assert amount(invoice(ledger, "bill", "b1")["AmountDue"]) == 0
    notes = {n["CreditNoteNumber"]: n for n in ledger["credit_notes"]}
    assert {n["Type"] for n in notes.values()} == {"ACCPAYCREDIT"}
    assert amount(notes["CN-cn1"]["RemainingCredit"]) == 0
    assert amount(notes["CN-cn2"]["RemainingCredit"]) == Decimal("200.00")
    assert sorted(amount(a["Amount"]) for a in ledger["allocations"]) == [
        Decimal("300.00"),
        Decimal("700.00"),
    ]


def test_bill_edits_follow_even_once_paid(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    send(pipeline, ev.bill(c, "b1", [ev.line("Paper", "1", "100.00")], "100.00"))
    wait_doc(pipeline, c, "bill", "b1", synced, "bill synced")
    edited = [ev.line("Paper", "1", "100.00"), ev.line("Delivery", "1", "50.00")]
    send(
        pipeline,
        ev.bill(c, "b1", edited, "150.00", type_="bill.updated", number="INV-1b", minute=5),
    )
    wait_doc(
        pipeline,
        c,
        "bill",
        "b1",
        lambda d: (
            synced(d)
            and d["xero_number"] == "INV-1b"
            or (
                d["state"] == "synced"
                and amount(invoice(pipeline.ledger(tenant), "bill", "b1")["Total"]) == 150
            )
        ),
        "edit synced",
    )
    bill = invoice(pipeline.ledger(tenant), "bill", "b1")
    assert amount(bill["Total"]) == Decimal("150.00") and len(bill["LineItems"]) == 2
    assert bill["InvoiceNumber"] == "INV-1b"

    send(pipeline, ev.paid(c, "b1", "p1", "150.00"))
    wait_doc(pipeline, c, "bill", "b1", lambda d: synced(d) and d["payments"], "payment synced")
    send(
        pipeline,
        ev.bill(
            c,
            "b1",
            [ev.line("Paper", "2", "100.00")],
            "200.00",
            type_="bill.updated",
            minute=10,
            day=25,
        ),
    )

    # Xero refuses edits of a bill with payments: the payment is deleted, the bill updated and
    # the payment made again (issue 11: the books converge on Roger's latest version).
    def edited_and_paid(d: dict[str, Any]) -> bool:
        if not (synced(d) and d["payments"] and d["payments"][0]["state"] == "synced"):
            return False
        return amount(invoice(pipeline.ledger(tenant), "bill", "b1")["Total"]) == 200

    wait_doc(pipeline, c, "bill", "b1", edited_and_paid, "edit applied, payment made again")
    ledger = pipeline.ledger(tenant)
    assert len(ledger["invoices"]) == 1
    bill = invoice(ledger, "bill", "b1")
    assert bill["Status"] == "AUTHORISED" and amount(bill["AmountDue"]) == Decimal("50.00")
    live = [p for p in ledger["payments"] if p["Status"] != "DELETED"]
    assert [amount(p["Amount"]) for p in live] == [Decimal("150.00")]
    assert len(ledger["payments"]) == 2
    history = pipeline.document(c, "bill", "b1").json()["history"]
    assert any("edit" in str(h).lower() and "payment" in str(h).lower() for h in history)


def test_deleted_bills_are_voided_never_created_even_when_paid(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    send(
        pipeline,
        ev.bill(c, "b1", [ev.line("Paper", "1", "100.00")], "100.00"),
        ev.bill(c, "b3", [ev.line("Ink", "1", "40.00")], "40.00"),
        ev.paid(c, "b3", "p3", "40.00"),
    )
    wait_doc(pipeline, c, "bill", "b1", synced, "b1 synced")
    wait_doc(pipeline, c, "bill", "b3", lambda d: synced(d) and d["payments"], "b3 paid")
    # b2's deletion arrives before its submission: it must never reach Xero.
    send(pipeline, ev.deleted(c, "b1"), ev.deleted(c, "b2"), ev.deleted(c, "b3"))
    send(pipeline, ev.bill(c, "b2", [ev.line("Toner", "1", "70.00")], "70.00"))

    wait_doc(pipeline, c, "bill", "b1", lambda d: d["state"] == "deleted", "b1 voided")
    wait_doc(pipeline, c, "bill", "b2", lambda d: d["state"] == "deleted", "b2 deleted")
    # A paid bill Roger deleted: its payment is deleted in Xero first, then the bill voided.
    b3 = wait_doc(pipeline, c, "bill", "b3", lambda d: d["state"] == "deleted", "b3 voided")
    assert [p["state"] for p in b3["payments"]] == ["deleted"]
    ledger = pipeline.ledger(tenant)
    assert invoice(ledger, "bill", "b1")["Status"] == "VOIDED"
    assert not [i for i in ledger["invoices"] if i.get("Url", "").endswith("/bills/b2")]
    assert invoice(ledger, "bill", "b3")["Status"] == "VOIDED"
    assert [p["Status"] for p in ledger["payments"]] == ["DELETED"]


def test_a_reversed_payment_is_deleted_and_the_bill_is_open_again(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    send(
        pipeline,
        ev.bill(c, "b1", [ev.line("Paper", "1", "100.00")], "100.00"),
        ev.paid(c, "b1", "p1", "100.00"),
    )
    wait_doc(pipeline, c, "bill", "b1", lambda d: synced(d) and d["payments"], "paid")
    assert invoice(pipeline.ledger(tenant), "bill", "b1")["Status"] == "PAID"
    # p2's reversal arrives before the payment itself: p2 is never created.
    send(pipeline, ev.reversed_(c, "b1", "p1"), ev.reversed_(c, "b1", "p2"))
    send(pipeline, ev.paid(c, "b1", "p2", "100.00", day=23))
    doc = wait_doc(
        pipeline,
        c,
        "bill",
        "b1",
        lambda d: sorted(p["state"] for p in d["payments"]) == ["deleted", "deleted"],
        "both payments deleted",
    )
    assert doc["state"] == "synced"
    ledger = pipeline.ledger(tenant)
    bill = invoice(ledger, "bill", "b1")
    assert bill["Status"] == "AUTHORISED" and amount(bill["AmountDue"]) == Decimal("100.00")
    assert [p["Status"] for p in ledger["payments"]] in ([], ["DELETED"])


def test_vendor_updates_reach_the_linked_contact(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    send(pipeline, ev.bill(c, "b1", [ev.line("Paper", "1", "100.00")], "100.00"))
    wait_doc(pipeline, c, "bill", "b1", synced, "bill synced")
    [before] = pipeline.ledger(tenant)["contacts"]
    send(
        pipeline,
        ev.vendor_updated(
            c,
            ev.vendor(name="Nordic Paper ApS", email="ap@nordic.example", tax_number="DK12345678"),
        ),
    )

    def updated() -> dict[str, Any] | None:
        contacts = pipeline.ledger(tenant)["contacts"]
        return (
            contacts[0]
            if contacts and contacts[0].get("EmailAddress") == "ap@nordic.example"
            else None
        )

    after = wait_for(updated, 90, "contact updated")
    assert after["ContactID"] == before["ContactID"] and after["Name"] == "Nordic Paper ApS"
    assert len(pipeline.ledger(tenant)["contacts"]) == 1
    # Still linked: the next bill of this vendor goes to the same contact.
    send(pipeline, ev.bill(c, "b2", [ev.line("Ink", "1", "10.00")], "10.00"))
    wait_doc(pipeline, c, "bill", "b2", synced, "second bill synced")
    assert (
        invoice(pipeline.ledger(tenant), "bill", "b2")["Contact"]["ContactID"]
        == before["ContactID"]
    )


def test_attachments_go_along_and_a_bad_file_is_a_warning(
    pipeline: Pipeline, file_server: FileServer
) -> None:
    c, tenant = company(pipeline)
    name = f"inv-{uuid.uuid4().hex[:6]}"
    good = file_server.add(f"{name}.pdf", b"%PDF-1.4 a real enough invoice")
    bad = file_server.add(f"{name}-bad.pdf", b"%PDF-1.4 tampered")
    bad["sha256"] = "0" * 64
    send(
        pipeline,
        ev.bill(c, "b1", [ev.line("Paper", "1", "100.00")], "100.00", attachments=[good, bad]),
    )
    doc = wait_doc(
        pipeline, c, "bill", "b1", lambda d: synced(d) and d["warnings"], "warning shown"
    )
    assert any(bad["filename"] in w and "SHA-256" in w for w in doc["warnings"]), doc["warnings"]

    def attached() -> list[dict[str, Any]]:
        return pipeline.ledger(tenant)["attachments"]

    [attachment] = wait_for(attached, 60, "attachment in Xero")
    assert attachment["FileName"] == good["filename"] and attachment["sha256"] == good["sha256"]


def test_currencies_enabled_sync_and_others_fail_with_xeros_reason(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline, currencies=("EUR",))
    send(
        pipeline,
        ev.bill(c, "b-eur", [ev.line("Consulting", "1", "500.00")], "500.00", currency="EUR"),
        ev.paid(c, "b-eur", "p-eur", "500.00", currency="EUR"),
        ev.bill(c, "b-sek", [ev.line("Hotel", "1", "900.00")], "900.00", currency="SEK"),
    )
    wait_doc(pipeline, c, "bill", "b-eur", lambda d: synced(d) and d["payments"], "EUR bill paid")
    sek = wait_doc(pipeline, c, "bill", "b-sek", lambda d: d["state"] == "failed", "SEK refused")
    assert "SEK" in (sek["reason"] or ""), sek["reason"]
    ledger = pipeline.ledger(tenant)
    eur = invoice(ledger, "bill", "b-eur")
    assert eur["CurrencyCode"] == "EUR" and eur["Status"] == "PAID"


def test_exclusive_totals_are_checked_against_xeros_total(pipeline: Pipeline) -> None:
    c, _ = company(pipeline)
    lines = [ev.line("Paper", "1", "100.00", tax_type="INPUT2")]
    send(
        pipeline,
        ev.bill(c, "right", lines, "125.00", amount_type="exclusive"),
        ev.bill(c, "wrong", lines, "100.00", amount_type="exclusive"),
    )
    right = wait_doc(pipeline, c, "bill", "right", synced, "right synced")
    wrong = wait_doc(pipeline, c, "bill", "wrong", synced, "wrong synced")
    assert right["warnings"] == []
    assert wrong["warnings"] == ["Xero's total 125.00 differs from Roger's total 100.00"]
