"""Issue 16 end to end: a company that chose Draft for new bills gets Draft bills in the
sandbox; a payment Roger reports before the bill is approved in Xero fails, shown with
Xero's words and the fix, and the Retry (once approved) makes it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.xero_writer.approval import AWAITS_APPROVAL
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.pipeline_bills import ByHand, bill, invoices, retry
from tests.support.pipeline_documents import send

REFUSED = "Payments can only be made against Authorised documents"


def payment_in(pipeline: Pipeline, c: str, state: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(c, "bill", "b1")
        payments = doc["payments"] if doc else []
        return payments[0] if payments and payments[0]["state"] == state else None

    return wait_for(check, 90, f"the payment {state}")  # type: ignore[no-any-return]


def test_a_draft_bill_takes_no_payment_until_approved_in_xero(pipeline: Pipeline) -> None:
    c = f"i16-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {c}", "DKK")
    pipeline.connect(c, tenant, bill_status="DRAFT")

    send(pipeline, bill(c, "b1", "DR-1"))
    made = wait_for(
        lambda: (d := pipeline.doc(c, "bill", "b1")) and d["state"] == "synced" and d,
        90,
        "bill synced",
    )
    assert invoices(pipeline, tenant)["DR-1"]["Status"] == "DRAFT"

    send(pipeline, ev.paid(c, "b1", "p1", "100.00"))
    refused = payment_in(pipeline, c, "failed")
    assert refused["reason"] == f"{REFUSED}: {AWAITS_APPROVAL}", refused
    assert pipeline.ledger(tenant)["payments"] == []

    # The accountant approves the bill in Xero; Retry sends the payment again.
    by_hand = ByHand(pipeline, tenant)
    approved = httpx.post(
        f"{by_hand.url}/Invoices/{made['xero_id']}",
        json={"Invoices": [{"InvoiceID": made["xero_id"], "Status": "AUTHORISED"}]},
        headers=by_hand.headers,
        timeout=10,
    )
    assert approved.status_code == 200, approved.text
    retry(pipeline, c, "b1")
    payment_in(pipeline, c, "synced")
    [paid] = pipeline.ledger(tenant)["payments"]
    assert paid["Invoice"]["InvoiceID"] == made["xero_id"]
