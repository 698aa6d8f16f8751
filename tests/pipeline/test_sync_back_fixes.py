"""Issue 15's tester findings, end to end: a synced bill voided in Xero before inbound ever
looked at it still comes back; a payment deleted in Xero comes back, one Roger reversed
does not; ``deploy.apps.subscribe_webhooks`` (what ``make up`` runs) subscribes ingest.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

from deploy.apps import subscribe_webhooks
from shared.contracts.topics import ROGER_SYNC_BACK
from tests.fixtures.pipeline import CLIENT_ID, XERO_WEBHOOK_KEY, Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.xero_changes import TopicReader, accountant, bill_in_xero, for_company

LINES = [ev.line("Paper", "1", "100.00")]


def _pay_by_hand(pipeline: Pipeline, tenant: str, invoice_id: str, amount: int) -> str:
    answer = accountant(
        pipeline,
        tenant,
        "PUT",
        "Payments",
        {
            "Payments": [
                {
                    "Invoice": {"InvoiceID": invoice_id},
                    "Account": {"Code": "090"},
                    "Date": "2026-11-25",
                    "Amount": amount,
                    "Reference": f"by hand {amount}",
                }
            ]
        },
    )
    return str(answer["Payments"][0]["PaymentID"])


def _roger_payment(pipeline: Pipeline, tenant: str, invoice_id: str, status: str) -> Any:
    def find() -> Any:
        for p in pipeline.ledger(tenant)["payments"]:
            if p["Invoice"]["InvoiceID"] == invoice_id and p["Reference"].startswith("Roger"):
                if p["Status"] == status:
                    return p
        return None

    return wait_for(find, 90, f"Roger's payment {status} in Xero")


def test_a_void_before_the_first_look_and_payments_deleted_in_xero_come_back(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company = f"fix-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company}", "DKK")
    pipeline.connect(company, tenant)
    # Nobody listens while our writer makes b1: inbound never sees it before the void.
    httpx.delete(f"{pipeline.sandbox_url}/_sandbox/webhooks", timeout=30).raise_for_status()
    reader = TopicReader(kafka_bootstrap, ROGER_SYNC_BACK)
    r = pipeline.post_events([ev.bill(company, "b1", LINES, "100.00", number="B-1")])
    assert r.status_code == 202, r.text
    b1 = bill_in_xero(pipeline, tenant, "b1")
    env = {"RX_XERO_WEBHOOK_KEYS": XERO_WEBHOOK_KEY, "RX_XERO_CLIENT_ID": CLIENT_ID}
    assert subscribe_webhooks(pipeline.sandbox_url, pipeline.ingest_url, env) == "OK"

    accountant(pipeline, tenant, "POST", f"Invoices/{b1['InvoiceID']}", {"Status": "VOIDED"})

    def voided() -> list[dict[str, Any]] | None:
        mine = for_company(reader.read(), company)
        return mine if any(e["type"] == "BillVoidedInXero" for e in mine) else None

    [void] = wait_for(voided, 90, "b1's void announced")
    assert void["roger_document"] == {"kind": "bill", "roger_id": "b1"}

    # b2, seen by inbound from its creation on. A payment by hand, deleted by hand.
    r = pipeline.post_events([ev.bill(company, "b2", LINES, "100.00", number="B-2", minute=1)])
    assert r.status_code == 202, r.text
    b2 = bill_in_xero(pipeline, tenant, "b2")["InvoiceID"]

    def announced(kind: str, count: int) -> Any:
        def find() -> list[dict[str, Any]] | None:
            mine = [e for e in for_company(reader.read(), company) if e["type"] == kind]
            return mine if len(mine) >= count else None

        return wait_for(find, 90, f"{count} x {kind}")

    first = _pay_by_hand(pipeline, tenant, b2, 30)
    announced("BillPartPaidInXero", 1)
    accountant(pipeline, tenant, "POST", f"Payments/{first}", {"Status": "DELETED"})
    [gone] = announced("PaymentDeletedInXero", 1)
    assert gone["payment"]["xero_id"] == first and gone["payment"]["status"] == "DELETED"
    assert Decimal(gone["payment"]["amount"]) == Decimal("30")
    assert Decimal(gone["bill"]["amount_due"]) == Decimal("100")

    # Roger pays 50 and then reverses it: our writer deletes it in Xero; no echo. A payment
    # by hand in between makes inbound's view of b2 hold Roger's payment.
    r = pipeline.post_events([ev.paid(company, "b2", "p1", "50.00")])
    assert r.status_code == 202, r.text
    ours = _roger_payment(pipeline, tenant, b2, "AUTHORISED")["PaymentID"]
    second = _pay_by_hand(pipeline, tenant, b2, 10)
    announced("BillPartPaidInXero", 2)
    r = pipeline.post_events([ev.reversed_(company, "b2", "p1")])
    assert r.status_code == 202, r.text
    _roger_payment(pipeline, tenant, b2, "DELETED")
    # A last change by hand: once it is announced, the reversal's webhook was handled too
    # (one tenant's notifications are handled in order).
    accountant(pipeline, tenant, "POST", f"Payments/{second}", {"Status": "DELETED"})
    deletions = announced("PaymentDeletedInXero", 2)
    assert [e["payment"]["xero_id"] for e in deletions] == [first, second], deletions
    assert ours not in {
        e["payment"]["xero_id"] for e in for_company(reader.read(), company) if e["payment"]
    }
