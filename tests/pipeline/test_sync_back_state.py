"""What comes back from Xero shows in the document's state and history (the projector reads
``roger.sync-back``), and a conflict between Roger and Xero is held, not overwritten.

The sandbox sends its signed webhooks to ingest; an accountant changes bills "in Xero"
through the sandbox's as-accountant admin route; we read the projector's read API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.fixtures.pipeline import SERVICE_TOKEN, Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support import xero_changes as xc

LINES = [ev.line("Paper", "1", "100.00")]


def shown(pipeline: Pipeline, company: str, roger_id: str, what: str, check: Any) -> Any:
    """The document, once ``check(doc)`` holds."""

    def found() -> Any:
        doc = pipeline.doc(company, "bill", roger_id)
        return doc if doc is not None and check(doc) else None

    return wait_for(found, 90, f"bill {roger_id}: {what}")


def test_paid_voided_and_made_in_xero_show_in_state_and_history(pipeline: Pipeline) -> None:
    company, tenant = xc.new_company(pipeline, "state")
    pipeline.connect(company, tenant)
    xc.subscribe(pipeline)
    r = pipeline.post_events(
        [
            ev.bill(company, "b1", LINES, "100.00", number="B-1"),
            ev.bill(company, "b2", LINES, "100.00", number="B-2", minute=1),
        ]
    )
    assert r.status_code == 202, r.text
    b1 = xc.bill_in_xero(pipeline, tenant, "b1")
    b2 = xc.bill_in_xero(pipeline, tenant, "b2")

    xc.accountant(
        pipeline,
        tenant,
        "PUT",
        "Payments",
        xc.payment(b1["InvoiceID"], 100, "paid by hand", "2026-11-03"),
    )
    xc.accountant(pipeline, tenant, "POST", f"Invoices/{b2['InvoiceID']}", xc.void())
    made = xc.accountant(
        pipeline, tenant, "PUT", "Invoices", xc.made_in_xero(b1["Contact"]["ContactID"])
    )["Invoices"][0]

    paid = shown(pipeline, company, "b1", "paid in Xero", lambda d: d["in_xero"])
    assert paid["in_xero"]["summary"].startswith("paid in Xero on 2026-11-03")
    assert paid["in_xero"]["status"] == "PAID"
    assert Decimal(paid["in_xero"]["amount_due"]) == 0
    assert [p["reference"] for p in paid["in_xero"]["payments"]] == ["paid by hand"]
    assert paid["state"] == "synced" and paid["conflict"] is None
    entry = next(h for h in paid["history"] if h["type"] == "BillPaidInXero")
    assert entry["source"] == "xero" and entry["note"].startswith("paid in Xero on 2026-11-03")

    voided = shown(pipeline, company, "b2", "voided in Xero", lambda d: d["in_xero"])
    assert voided["in_xero"]["gone"] == "voided"
    assert voided["in_xero"]["summary"].startswith("voided in Xero on ")

    def listed() -> Any:
        r = httpx.get(
            f"{pipeline.read_url}/v1/companies/{company}/xero-bills",
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["bills"]

    [bill] = wait_for(listed, 90, "the bill made in Xero listed")
    assert bill["xero_id"] == made["InvoiceID"] and bill["number"] == "XERO-ONLY-1"
    assert Decimal(bill["total"]) == Decimal(str(made["Total"])) and bill["xero_url"].endswith(
        made["InvoiceID"]
    )

    # Roger deletes the bill Xero voided: they agree; nothing more goes to Xero.
    r = pipeline.post_events([ev.deleted(company, "b2")])
    assert r.status_code == 202, r.text
    done = shown(pipeline, company, "b2", "deleted", lambda d: d["state"] == "deleted")
    assert not [h for h in done["history"] if h["type"] == "VoidBillSent"]
    # A change in Xero never wrote to Xero: b1 keeps the accountant's one payment.
    ledger = pipeline.ledger(tenant)
    assert len([p for p in ledger["payments"] if p["Invoice"]["InvoiceID"] == b1["InvoiceID"]]) == 1


def test_rogers_update_after_an_edit_in_xero_is_held_as_a_conflict(pipeline: Pipeline) -> None:
    company, tenant = xc.new_company(pipeline, "state")
    pipeline.connect(company, tenant)
    xc.subscribe(pipeline)
    r = pipeline.post_events([ev.bill(company, "b4", LINES, "100.00", number="B-4")])
    assert r.status_code == 202, r.text
    b4 = xc.bill_in_xero(pipeline, tenant, "b4")

    # The accountant corrects the amount in Xero...
    xc.accountant(
        pipeline,
        tenant,
        "POST",
        f"Invoices/{b4['InvoiceID']}",
        {
            "LineItems": [
                {"Description": "Paper", "Quantity": 1, "UnitAmount": 120, "AccountCode": "429"}
            ]
        },
    )
    edited = shown(pipeline, company, "b4", "edited in Xero", lambda d: d["in_xero"])
    assert edited["in_xero"]["edits"][0]["field"] == "total"
    assert Decimal(edited["in_xero"]["total"]) == 120

    # ...then Roger sends its own new amount: held for a person, not pushed over Xero's.
    r = pipeline.post_events(
        [
            ev.bill(
                company,
                "b4",
                [ev.line("Paper", "1", "110.00")],
                "110.00",
                number="B-4",
                type_="bill.updated",
                day=21,
            )
        ]
    )
    assert r.status_code == 202, r.text
    held = shown(pipeline, company, "b4", "held", lambda d: d["conflict"] is not None)
    assert held["state"] == "failed" and held["reason"].startswith("conflict:")
    assert held["conflict"]["xero_holds"] == "xero"
    assert Decimal(held["conflict"]["roger"]["total"]) == 110
    assert Decimal(held["conflict"]["xero"]["total"]) == 120
    assert not [h for h in held["history"] if h["type"] == "UpdateBillSent"]
    [bill] = [i for i in pipeline.ledger(tenant)["invoices"] if i["InvoiceID"] == b4["InvoiceID"]]
    assert Decimal(str(bill["Total"])) == 120  # the accountant's amount stands

    # A person chooses Roger's version: the retry sends it.
    r = httpx.post(
        f"{pipeline.read_url}/v1/companies/{company}/documents/bill/b4/retry",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text

    def rogers() -> Any:
        for invoice in pipeline.ledger(tenant)["invoices"]:
            if invoice["InvoiceID"] == b4["InvoiceID"] and Decimal(str(invoice["Total"])) == 110:
                return invoice
        return None

    wait_for(rogers, 90, "Roger's version in Xero after the retry")
    done = shown(pipeline, company, "b4", "synced", lambda d: d["state"] == "synced")
    assert done["conflict"] is None
