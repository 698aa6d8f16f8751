"""A bill's outcome through the running pipeline, for end-to-end tests: a supplier's bill
built from Roger's contract, waited for in the read API until synced (payments too) or
failed, retried through the read API's Retry, the organisation's bills read back from the
sandbox by number, and ``ByHand``, the accountant (or another tool) changing the books in
Xero through the Accounting API with a token of its own. Events are posted with
``tests.support.pipeline_documents.send``.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.connections.oauth import SCOPES
from tests.fixtures.pipeline import CLIENT_ID, SERVICE_TOKEN, Pipeline, wait_for
from tests.support import event_builders as ev

SUPPLIER = ev.vendor("ven_merge", "Merge Me ApS", tax_number="DK70707070")


def synced(pipeline: Pipeline, company_id: str, kind: str, roger_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(company_id, kind, roger_id)
        done = doc is not None and doc["state"] == "synced"
        if done and doc is not None:
            done = all(p["state"] == "synced" for p in doc["payments"])
        return doc if done else None

    return wait_for(check, 90, f"{kind} {roger_id} synced")  # type: ignore[no-any-return]


class ByHand:
    """The accountant (or another tool) in Xero: the Accounting API with its own token."""

    def __init__(self, pipeline: Pipeline, tenant: str) -> None:
        grant = httpx.post(
            f"{pipeline.sandbox_url}/_sandbox/grants",
            json={
                "client_id": CLIENT_ID,
                "tenant_ids": [tenant],
                "scopes": list(SCOPES),
            },
            timeout=10,
        )
        grant.raise_for_status()
        self.url = f"{pipeline.sandbox_url}/api.xro/2.0"
        self.headers = {
            "Authorization": f"Bearer {grant.json()['access_token']}",
            "xero-tenant-id": tenant,
            "Accept": "application/json",
        }

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = httpx.put(f"{self.url}{path}", json=body, headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def bill(c: str, bill_id: str, number: str, total: str = "100.00") -> dict[str, Any]:
    lines = [ev.line("Goods", "1", total)]
    return ev.bill(c, bill_id, lines, total, number=number, amount_type="no_tax", ven=SUPPLIER)


def failed(pipeline: Pipeline, c: str, roger_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(c, "bill", roger_id)
        return doc if doc is not None and doc["state"] == "failed" else None

    return wait_for(check, 90, f"bill {roger_id} failed")  # type: ignore[no-any-return]


def retry(pipeline: Pipeline, c: str, roger_id: str) -> None:
    r = httpx.post(
        f"{pipeline.read_url}/v1/companies/{c}/documents/bill/{roger_id}/retry",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text


def invoices(pipeline: Pipeline, tenant: str) -> dict[str, dict[str, Any]]:
    return {i["InvoiceNumber"]: i for i in pipeline.ledger(tenant)["invoices"]}
