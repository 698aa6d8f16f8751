"""Issue 12's rules of real organisations, end to end over the real stack and the sandbox:
tracking checked against the organisation's categories, one bad bill in a batch of 50,
every message of a refusal shown, and the rate of a foreign-currency payment."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.pipeline_bills import retry

SETTLED = ("synced", "failed")


def company(pipeline: Pipeline, currencies: tuple[str, ...] = ()) -> tuple[str, str]:
    company_id = f"org-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company_id}", "DKK", currencies)
    pipeline.connect(company_id, tenant)
    return company_id, tenant


def send(pipeline: Pipeline, *events: dict[str, Any]) -> None:
    r = pipeline.post_events(list(events))
    assert r.status_code == 202, r.text


def settled(pipeline: Pipeline, company_id: str, roger_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(company_id, "bill", roger_id)
        return doc if doc is not None and doc["state"] in SETTLED else None

    return wait_for(check, 90, f"bill {roger_id} synced or failed")  # type: ignore[no-any-return]


def admin(pipeline: Pipeline, tenant: str, method: str, rest: str, body: dict[str, Any]) -> Any:
    r = httpx.request(
        method,
        f"{pipeline.sandbox_url}/_sandbox/organisations/{tenant}/{rest}",
        json=body,
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def tracked_line(description: str, amount: str, *tracking: tuple[str, str]) -> dict[str, Any]:
    line = ev.line(description, "1", amount, "429", "NONE")
    line["tracking"] = [{"name": n, "option": o} for n, o in tracking]
    return line


def test_tracking_is_matched_to_the_organisations_categories(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    region = admin(
        pipeline, tenant, "POST", "tracking-categories", {"name": "Region", "options": ["North"]}
    )
    stands = ev.vendor("ven_stands", "Messe Stande ApS")

    def stand_bill(roger_id: str, number: str, option: tuple[str, str]) -> dict[str, Any]:
        line = tracked_line("Stand rental", "2000.00", option)
        return ev.bill(
            c, roger_id, [line], "2000.00", number=number, amount_type="no_tax", ven=stands
        )

    send(
        pipeline,
        stand_bill("b-north", "MS-1", ("region", "NORTH")),
        stand_bill("b-atlantis", "MS-2", ("Region", "Atlantis")),
    )

    good = settled(pipeline, c, "b-north")
    bad = settled(pipeline, c, "b-atlantis")

    assert good["state"] == "synced", good
    assert bad["state"] == "failed", bad
    assert 'tracking option "Atlantis"' in bad["reason"]
    assert 'category "Region"' in bad["reason"] and '"North"' in bad["reason"]
    [invoice] = pipeline.ledger(tenant)["invoices"]
    assert invoice["InvoiceNumber"] == "MS-1"
    [line] = invoice["LineItems"]
    assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [("Region", "North")]

    # The accountant adds the option in Xero; a retry reads the categories again and sends.
    category_id = region["TrackingCategoryID"]
    admin(
        pipeline, tenant, "POST", f"tracking-categories/{category_id}/options", {"name": "Atlantis"}
    )
    retry(pipeline, c, "b-atlantis")

    def booked() -> dict[str, Any] | None:
        doc = pipeline.doc(c, "bill", "b-atlantis")
        return doc if doc is not None and doc["state"] == "synced" else None

    wait_for(booked, 90, "the retried bill synced")
    bills = {b["InvoiceNumber"]: b for b in pipeline.ledger(tenant)["invoices"]}
    [line] = bills["MS-2"]["LineItems"]
    assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [("Region", "Atlantis")]


def test_one_bad_bill_in_a_batch_of_fifty_fails_alone(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    paper = ev.vendor("ven_paper", "Nordic Paper Supply ApS")
    events = [
        ev.bill(
            c,
            f"b{n:02d}",
            [ev.line("Paper", "1", f"{100 + n}.00", "999" if n == 17 else "429", "NONE")],
            f"{100 + n}.00",
            number=f"NP-{n:02d}",
            amount_type="no_tax",
            ven=paper,
        )
        for n in range(50)
    ]
    send(pipeline, *events)

    docs = {f"b{n:02d}": settled(pipeline, c, f"b{n:02d}") for n in range(50)}

    failed = {k: d["reason"] for k, d in docs.items() if d["state"] == "failed"}
    assert failed == {"b17": "Account code '999' is not a valid code for this document."}
    assert sum(d["state"] == "synced" for d in docs.values()) == 49
    numbers = sorted(b["InvoiceNumber"] for b in pipeline.ledger(tenant)["invoices"])
    assert numbers == [f"NP-{n:02d}" for n in range(50) if n != 17]


def test_a_refusal_with_several_messages_is_shown_whole(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline)
    lines = [
        ev.line("Paper", "1", "100.00", "999", "NONE"),
        ev.line("Toner", "1", "50.00", "429", "BOGUS"),
    ]
    send(
        pipeline,
        ev.bill(c, "b-bad", lines, "150.00", number="NP-X", amount_type="no_tax"),
    )

    doc = settled(pipeline, c, "b-bad")

    assert doc["state"] == "failed", doc
    assert doc["reason"].split("; ") == [
        "Account code '999' is not a valid code for this document.",
        "The TaxType code BOGUS does not exist or cannot be used for this type of transaction.",
    ]
    assert pipeline.ledger(tenant)["invoices"] == []


def test_a_foreign_currency_payment_shows_xeros_rate(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline, currencies=("EUR",))
    admin(pipeline, tenant, "PUT", "currency-rates", {"currency": "EUR", "rate": "0.134"})
    fair = ev.vendor("ven_fair", "Messe Frankfurt GmbH", country="DE")
    send(
        pipeline,
        ev.bill(
            c,
            "b-eur",
            [ev.line("Hall rental", "1", "670.00", "429", "NONE")],
            "670.00",
            number="MF-1",
            amount_type="no_tax",
            currency="EUR",
            ven=fair,
        ),
        ev.paid(c, "b-eur", "p-eur", "670.00", currency="EUR"),
        ev.bill(
            c,
            "b-dkk",
            [ev.line("Paper", "1", "100.00", "429", "NONE")],
            "100.00",
            number="NP-1",
            amount_type="no_tax",
        ),
        ev.paid(c, "b-dkk", "p-dkk", "100.00"),
    )

    def paid(roger_id: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            doc = pipeline.doc(c, "bill", roger_id)
            done = doc and doc["payments"] and doc["payments"][0]["state"] in SETTLED
            return doc if done else None

        return wait_for(check, 90, f"{roger_id}'s payment made")  # type: ignore[no-any-return]

    [eur] = paid("b-eur")["payments"]
    [dkk] = paid("b-dkk")["payments"]

    assert eur["state"] == "synced", eur
    assert (Decimal(eur["currency_rate"]), eur["currency_rate_source"]) == (
        Decimal("0.134"),
        "xero",
    )
    assert (dkk["currency_rate"], dkk["currency_rate_source"]) == (None, None)
    [payment] = [p for p in pipeline.ledger(tenant)["payments"] if Decimal(str(p["Amount"])) == 670]
    assert Decimal(str(payment["CurrencyRate"])) == Decimal("0.134")
