"""What changes in Xero comes back to Roger on ``roger.sync-back``, and nothing echoes.

The sandbox sends its signed webhooks to ingest's ``/v1/xero/webhooks``; an accountant
changes bills "in Xero" through the sandbox's as-accountant admin route.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx

from services.xero_inbound.signature import xero_signature
from shared.contracts.topics import ROGER_SYNC_BACK, XERO_NOTIFICATIONS
from tests.fixtures.pipeline import XERO_WEBHOOK_KEY, Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support import xero_changes as xc


def test_a_forged_webhook_is_refused_and_a_signed_one_lands_on_the_topic(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    reader = xc.TopicReader(kafka_bootstrap, XERO_NOTIFICATIONS)
    tenant = str(uuid.uuid4())
    body = json.dumps(
        {
            "events": [
                {
                    "resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{tenant}",
                    "resourceId": tenant,
                    "eventDateUtc": "2026-11-30T01:02:03.456",
                    "eventType": "UPDATE",
                    "eventCategory": "CONTACT",
                    "tenantId": tenant,
                    "tenantType": "ORGANISATION",
                }
            ],
            "firstEventSequence": 1,
            "lastEventSequence": 1,
            "entropy": "ABCDEFGHIJKLMNOPQRST",
        }
    ).encode()
    url = f"{pipeline.ingest_url}/v1/xero/webhooks"
    forged = httpx.post(url, content=body, headers={"x-xero-signature": xero_signature("x", body)})
    assert forged.status_code == 401
    unsigned = httpx.post(url, content=body)
    assert unsigned.status_code == 401
    signed = httpx.post(
        url, content=body, headers={"x-xero-signature": xero_signature(XERO_WEBHOOK_KEY, body)}
    )
    assert signed.status_code == 200
    landed = wait_for(
        lambda: [e for k, e in reader.read() if e["tenantId"] == tenant], 30, "notification"
    )
    assert len(landed) == 1  # the forged and unsigned copies never reached Kafka
    assert landed[0]["eventCategory"] == "CONTACT"


def test_changes_made_in_xero_come_back_and_our_own_writes_do_not(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company, tenant = xc.new_company(pipeline, "back")
    pipeline.connect(company, tenant)
    xc.subscribe(pipeline)
    reader = xc.TopicReader(kafka_bootstrap, ROGER_SYNC_BACK)
    lines = [ev.line("Paper", "1", "100.00")]

    # Ours: a bill and its payment, written by our writer. Nothing may come back.
    r = pipeline.post_events(
        [
            ev.bill(company, "b1", lines, "100.00", number="B-1"),
            ev.paid(company, "b1", "p1", "100.00"),
        ]
    )
    assert r.status_code == 202, r.text
    xc.bill_in_xero(pipeline, tenant, "b1", "PAID")
    r = pipeline.post_events(
        [
            ev.bill(company, "b2", lines, "100.00", number="B-2", minute=1),
            ev.bill(company, "b3", lines, "100.00", number="B-3", minute=2),
        ]
    )
    assert r.status_code == 202, r.text
    b2 = xc.bill_in_xero(pipeline, tenant, "b2")
    b3 = xc.bill_in_xero(pipeline, tenant, "b3")

    # An accountant, in Xero: pays b2 in full, voids b3, makes a bill of their own.
    xc.accountant(
        pipeline, tenant, "PUT", "Payments", xc.payment(b2["InvoiceID"], 100, "paid by hand")
    )
    xc.accountant(pipeline, tenant, "POST", f"Invoices/{b3['InvoiceID']}", xc.void())
    made = xc.accountant(
        pipeline, tenant, "PUT", "Invoices", xc.made_in_xero(b2["Contact"]["ContactID"])
    )["Invoices"][0]

    def arrived() -> list[dict[str, Any]] | None:
        mine = xc.for_company(reader.read(), company)
        return mine if any(e["type"] == "BillCreatedInXero" for e in mine) else None

    events = wait_for(arrived, 90, "the bill made in Xero announced")
    by_type = {e["type"]: e for e in events}
    assert sorted(by_type) == ["BillCreatedInXero", "BillPaidInXero", "BillVoidedInXero"], events
    assert len(events) == 3, events  # nothing for b1 (ours), nothing twice

    paid = by_type["BillPaidInXero"]
    assert paid["roger_document"] == {"kind": "bill", "roger_id": "b2"}
    assert paid["xero_id"] == b2["InvoiceID"] and paid["tenant_id"] == tenant
    assert Decimal(paid["payment"]["amount"]) == Decimal("100")
    assert paid["payment"]["reference"] == "paid by hand"
    voided = by_type["BillVoidedInXero"]
    assert voided["roger_document"] == {"kind": "bill", "roger_id": "b3"}
    assert voided["bill"]["status"] == "VOIDED"
    created = by_type["BillCreatedInXero"]
    assert created["xero_id"] == made["InvoiceID"] and created["roger_document"] is None
    assert created["bill"]["number"] == "XERO-ONLY-1"

    # A change in Xero never makes us write to Xero: b2 stays as the accountant left it.
    ledger = pipeline.ledger(tenant)
    assert [p for p in ledger["payments"] if p["Invoice"]["InvoiceID"] == b2["InvoiceID"]] != []
    assert len([p for p in ledger["payments"] if p["Invoice"]["InvoiceID"] == b2["InvoiceID"]]) == 1


def test_part_payments_edits_and_contacts_changed_in_xero_come_back(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company, tenant = xc.new_company(pipeline, "back")
    pipeline.connect(company, tenant)
    xc.subscribe(pipeline)
    reader = xc.TopicReader(kafka_bootstrap, ROGER_SYNC_BACK)
    lines = [ev.line("Paper", "1", "100.00")]
    other = ev.vendor("ven_2", "Other Paper ApS")
    r = pipeline.post_events(
        [
            ev.bill(company, "b4", lines, "100.00", number="B-4"),
            ev.bill(company, "b5", lines, "100.00", number="B-5", minute=1),
            ev.bill(company, "b6", lines, "100.00", number="B-6", minute=2, ven=other),
        ]
    )
    assert r.status_code == 202, r.text
    b4 = xc.bill_in_xero(pipeline, tenant, "b4")
    b5 = xc.bill_in_xero(pipeline, tenant, "b5")
    b6 = xc.bill_in_xero(pipeline, tenant, "b6")

    xc.accountant(pipeline, tenant, "PUT", "Payments", xc.payment(b4["InvoiceID"], 30))
    xc.accountant(
        pipeline,
        tenant,
        "POST",
        f"Invoices/{b5['InvoiceID']}",
        {"DueDate": "2026-12-24"},
    )
    survivor = xc.accountant(
        pipeline, tenant, "PUT", "Contacts", {"Contacts": [{"Name": "Other Paper A/S"}]}
    )["Contacts"][0]
    merged_id = b6["Contact"]["ContactID"]
    r = httpx.post(
        f"{pipeline.sandbox_url}/_sandbox/organisations/{tenant}/contacts/{merged_id}/merge",
        json={"into": survivor["ContactID"]},
        timeout=30,
    )
    assert r.status_code == 200, r.text

    wanted = {"BillPartPaidInXero", "BillEditedInXero", "ContactMergedInXero"}

    def arrived() -> list[dict[str, Any]] | None:
        mine = xc.for_company(reader.read(), company)
        return mine if wanted <= {e["type"] for e in mine} else None

    events = wait_for(arrived, 90, "part payment, edit and merge announced")
    part = next(e for e in events if e["type"] == "BillPartPaidInXero")
    assert part["roger_document"]["roger_id"] == "b4"
    assert Decimal(part["payment"]["amount"]) == Decimal("30")
    assert Decimal(part["bill"]["amount_due"]) == Decimal("70")
    edits = [e for e in events if e["type"] == "BillEditedInXero"]
    due = next(e for e in edits if e["roger_document"]["roger_id"] == "b5")
    assert due["changes"] == [{"field": "due_date", "before": "2026-12-02", "after": "2026-12-24"}]
    [merge] = [e for e in events if e["type"] == "ContactMergedInXero"]
    assert merge["contact"]["xero_id"] == merged_id
    assert merge["contact"]["merged_into"] == survivor["ContactID"]
    # The merge moved b6 to the survivor: that shows as b6's contact edited in Xero.
    assert all(e["roger_document"]["roger_id"] in ("b5", "b6") for e in edits)
    assert not [e for e in events if e["type"] in ("BillCreatedInXero", "BillVoidedInXero")]
