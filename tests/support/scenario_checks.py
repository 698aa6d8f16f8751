"""Checks of whole scenarios on the running pipeline: every company synced, every ledger as
the scenario expects (tests/support/scenario.py builds the scenarios)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support.scenario import Expected


def all_synced(pipeline: Pipeline, expected: Expected) -> bool:
    docs = {d["roger_id"]: d for d in pipeline.documents(expected.company_id)}
    if set(docs) != set(expected.bills):
        return False
    for bill_id, doc in docs.items():
        assert doc["state"] != "failed", doc
        if doc["state"] != "synced":
            return False
        # Every payment Roger made, not only those the projector has heard of so far: copies
        # sent over the topic may still be on their way.
        if {p["payment_id"] for p in doc["payments"]} != expected.bills[bill_id]["payments"]:
            return False
        if any(p["state"] != "synced" for p in doc["payments"]):
            return False
    return True


def check_ledger(ledger: dict[str, Any], expected: Expected) -> None:
    contacts = [c for c in ledger["contacts"] if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
    assert len(contacts) == len(expected.vendors), [c["Name"] for c in contacts]
    bills = [i for i in ledger["invoices"] if i["Type"] == "ACCPAY"]
    assert len(bills) == len(expected.bills)
    by_url = {b["Url"].rsplit("/", 1)[-1]: b for b in bills}
    assert set(by_url) == set(expected.bills)
    for bill_id, want in expected.bills.items():
        bill = by_url[bill_id]
        assert bill["InvoiceNumber"] == want["number"]
        assert Decimal(str(bill["Total"])) == want["total"], (bill_id, bill["Total"], want["total"])
        assert len(bill["LineItems"]) == want["lines"]
        assert bill["Status"] == ("PAID" if want["paid"] else "AUTHORISED"), (
            bill_id,
            bill["Status"],
        )
    payments = [p for p in ledger["payments"] if p.get("Status", "AUTHORISED") != "DELETED"]
    assert sorted(Decimal(str(p["Amount"])) for p in payments) == sorted(expected.payments.values())
    assert len({p["Reference"] for p in payments}) == len(expected.payments)


Scenarios = list[tuple[list[dict[str, Any]], Expected]]


def connect_all(pipeline: Pipeline, scenarios: Scenarios) -> dict[str, str]:
    """A sandbox organisation per company, connected; returns company -> tenant."""
    tenants = {}
    for _, expected in scenarios:
        tenants[expected.company_id] = pipeline.new_organisation(f"Org {expected.company_id}")
        pipeline.connect(expected.company_id, tenants[expected.company_id])
    return tenants


def check_all(pipeline: Pipeline, scenarios: Scenarios, tenants: dict[str, str]) -> None:
    """Waits until every company is synced, then checks each one's ledger."""
    for _, expected in scenarios:
        wait_for(partial(all_synced, pipeline, expected), 600, f"{expected.company_id} synced")
    for _, expected in scenarios:
        check_ledger(pipeline.ledger(tenants[expected.company_id]), expected)
