"""The hard cases of one bill's money, end to end on the real stack and the sandbox.

A paid bill edited in Roger, a bill deleted before its payment's reversal arrives,
a payment Xero refused and Roger corrected (and ``retry`` on a failed payment), a
payment in another currency than its bill's, zero-total documents: each ends as
Roger's latest truth in the sandbox's ledger, and shows so through the read API.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.fixtures.pipeline import SERVICE_TOKEN, Pipeline, wait_for
from tests.support import event_builders as ev

COURIER = ev.vendor("ven_courier", "Cykelbud Express")


def company(pipeline: Pipeline, currencies: tuple[str, ...] = ()) -> tuple[str, str]:
    company_id = f"hard-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company_id}", "DKK", currencies)
    pipeline.connect(company_id, tenant)
    return company_id, tenant


def send(pipeline: Pipeline, *events: dict[str, Any]) -> None:
    r = pipeline.post_events(list(events))
    assert r.status_code == 202, r.text


def wait_doc(
    pipeline: Pipeline, c: str, roger_id: str, done: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(c, "bill", roger_id)
        return doc if doc and done(doc) else None

    return wait_for(check, 90, what)  # type: ignore[no-any-return]


def payment_states(doc: dict[str, Any]) -> dict[str, str]:
    return {p["payment_id"]: p["state"] for p in doc["payments"]}


def invoice(ledger: dict[str, Any], roger_id: str) -> dict[str, Any]:
    [found] = [i for i in ledger["invoices"] if i.get("Url", "").endswith(f"/bills/{roger_id}")]
    return found


def live_payments(ledger: dict[str, Any]) -> list[Decimal]:
    return sorted(
        Decimal(str(p["Amount"])) for p in ledger["payments"] if p.get("Status") != "DELETED"
    )


def bill(c: str, total: str, **kw: Any) -> dict[str, Any]:
    return ev.bill(c, "b1", [ev.line("Deliveries", "1", total)], total, ven=COURIER, **kw)


def test_a_paid_bill_edited_in_roger_is_updated_in_xero_and_paid_again(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    send(pipeline, bill(c, "100.00"), ev.paid(c, "b1", "p1", "100.00", day=21))
    wait_doc(pipeline, c, "b1", lambda d: payment_states(d) == {"p1": "synced"}, "paid")

    send(
        pipeline,
        bill(c, "120.00", type_="bill.updated", number="INV-1b", day=22),
        ev.paid(c, "b1", "p2", "20.00", day=23, account="091"),
    )

    doc = wait_doc(
        pipeline,
        c,
        "b1",
        lambda d: d["state"] == "synced" and payment_states(d) == {"p1": "synced", "p2": "synced"},
        "updated and paid again",
    )
    ledger = pipeline.ledger(tenant)
    xero_bill = invoice(ledger, "b1")
    assert (xero_bill["InvoiceNumber"], xero_bill["Status"]) == ("INV-1b", "PAID")
    assert Decimal(str(xero_bill["Total"])) == Decimal("120.00")
    assert live_payments(ledger) == [Decimal("20.00"), Decimal("100.00")]
    history = pipeline.document(c, "bill", "b1").json()["history"]
    assert any("Xero refuses edits" in (h.get("note") or "") for h in history), history
    assert doc["warnings"] == []


def test_a_bill_deleted_before_its_payment_is_reversed_ends_voided(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    send(pipeline, bill(c, "300.00", day=2), ev.paid(c, "b1", "p1", "300.00", day=10))
    wait_doc(pipeline, c, "b1", lambda d: payment_states(d) == {"p1": "synced"}, "paid")

    send(pipeline, ev.deleted(c, "b1", day=12))
    send(pipeline, ev.reversed_(c, "b1", "p1", day=12))

    wait_doc(
        pipeline,
        c,
        "b1",
        lambda d: d["state"] == "deleted" and payment_states(d) == {"p1": "deleted"},
        "payment deleted, bill deleted",
    )
    ledger = pipeline.ledger(tenant)
    assert invoice(ledger, "b1")["Status"] == "VOIDED"
    assert [p["Status"] for p in ledger["payments"]] == ["DELETED"]


def test_a_refused_payment_goes_again_by_retry_and_with_rogers_correction(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    refused = ev.paid(c, "b1", "p1", "120.00", day=10, account="429")  # an expense account
    send(pipeline, bill(c, "120.00", day=2), refused)
    doc = wait_doc(pipeline, c, "b1", lambda d: payment_states(d) == {"p1": "failed"}, "refused")
    assert doc["state"] == "synced"

    retry = httpx.post(
        f"{pipeline.read_url}/v1/companies/{c}/documents/bill/b1/retry",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert retry.status_code == 202, retry.text  # a failed payment is reachable by retry
    corrected = {**ev.paid(c, "b1", "p1", "120.00", account="090")}
    corrected["occurred_at"] = "2026-11-10T10:00:00+01:00"  # an hour after the refused one
    send(pipeline, corrected)

    wait_doc(pipeline, c, "b1", lambda d: payment_states(d) == {"p1": "synced"}, "corrected paid")
    ledger = pipeline.ledger(tenant)
    assert invoice(ledger, "b1")["Status"] == "PAID"
    [payment] = [p for p in ledger["payments"] if p.get("Status") != "DELETED"]
    assert payment["Account"]["Code"] == "090"


def test_a_payment_in_another_currency_is_refused_naming_both_currencies(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline, currencies=("EUR",))
    send(
        pipeline,
        ev.bill(c, "b1", [ev.line("Stand", "1", "1000.00")], "1000.00", currency="EUR"),
        ev.paid(c, "b1", "p1", "746.00", currency="DKK"),
    )

    doc = wait_doc(pipeline, c, "b1", lambda d: payment_states(d) == {"p1": "failed"}, "refused")

    [payment] = doc["payments"]
    assert "DKK" in payment["reason"] and "EUR" in payment["reason"], payment
    ledger = pipeline.ledger(tenant)
    assert ledger["payments"] == []
    assert invoice(ledger, "b1")["Status"] == "AUTHORISED"


def test_zero_total_documents_are_settled_by_xero_and_nothing_fails(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    free = [ev.line("Parking (validated)", "1", "0.00", "429")]
    send(
        pipeline,
        ev.receipt(c, "r1", free, "0.00", ven=COURIER),
        ev.bill(c, "b1", [ev.line("Free sample", "1", "0.00")], "0.00", ven=COURIER),
    )

    def settled() -> list[dict[str, Any]] | None:
        docs = pipeline.documents(c)
        done = len(docs) == 2 and all(
            d["state"] == "synced" and all(p["state"] == "synced" for p in d["payments"])
            for d in docs
        )
        return docs if done else None

    docs = wait_for(settled, 90, "both synced")
    assert not any(d["state"] == "failed" for d in docs)
    ledger = pipeline.ledger(tenant)
    assert sorted(i["Status"] for i in ledger["invoices"]) == ["PAID", "PAID"]
    assert ledger["payments"] == []
