"""Roger events and waiting helpers for the connect tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import wait_for


def bill_event(company_id: str, bill_id: str, vendor_id: str = "ven_1") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "bill.submitted",
        "version": 1,
        "company_id": company_id,
        "occurred_at": "2026-11-20T09:00:00+01:00",
        "data": {
            "bill_id": bill_id,
            "invoice_number": f"INV-{bill_id}",
            "vendor": {
                "id": vendor_id,
                "name": f"Vendor {vendor_id} {company_id}",
                "email": None,
                "tax_number": None,
                "country": "DK",
                "address": None,
                "bank_account": None,
            },
            "issue_date": "2026-11-20",
            "due_date": "2026-12-20",
            "currency": "DKK",
            "amount_type": "exclusive",
            "lines": [
                {
                    "description": "Paper",
                    "quantity": "2",
                    "unit_amount": "50.00",
                    "category_code": None,
                    "tax_type": None,
                    "tracking": [],
                }
            ],
            "total": "100.00",
            "attachments": [],
        },
    }


def post(pipeline: ConnectPipeline, *events: dict[str, Any]) -> None:
    r = pipeline.post_events(list(events))
    assert r.status_code == 202, r.text


def document(pipeline: ConnectPipeline, company_id: str, bill_id: str) -> dict[str, Any] | None:
    for doc in pipeline.documents(company_id):
        if doc["roger_id"] == bill_id:
            return doc
    return None


def wait_state(
    pipeline: ConnectPipeline, company_id: str, bill_id: str, state: str, timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = document(pipeline, company_id, bill_id)
        return doc if doc and doc["state"] == state else None

    return wait_for(check, timeout, f"{company_id}/{bill_id} {state}")  # type: ignore[no-any-return]


def organisation_chosen(p: ConnectPipeline, company_id: str, name: str) -> dict[str, Any]:
    """``company_id`` through consent with a new organisation ``name`` chosen, up to the
    defaults step: the body of ``PUT .../xero/connection`` without a choice of its own."""
    tenant = p.new_organisation(name, "DKK")
    url = p.start_connect(company_id, "https://roger.example/settings/xero")
    assert p.callback(p.consent(url, [tenant])).status_code == 303
    r = p.api("PUT", f"/v1/companies/{company_id}/xero/organisation", json={"tenant_id": tenant})
    assert r.status_code == 200, r.text
    return {
        "tenant_id": tenant,
        "default_account_code": "429",
        "default_payment_account_code": "090",
    }


def wait_published(pipeline: ConnectPipeline, company_id: str, fact_type: str) -> None:
    def check() -> bool:
        history = pipeline.connection(company_id)["history"]
        return any(h["type"] == fact_type and h["published"] for h in history)

    wait_for(check, 30, f"{fact_type} of {company_id} on Kafka")


def categories_records(pipeline: ConnectPipeline, company_id: str) -> list[dict[str, Any]]:
    from shared.contracts.topics import ROGER_CATEGORIES

    return [
        json.loads(value)
        for key, value, _ in pipeline.records(ROGER_CATEGORIES)
        if key == company_id.encode() and value
    ]
