"""Replaying dead letters is safe forever (issue 10): a bill and a payment parked while Xero
was down are replayed and made once; Roger then deletes the bill and reverses the payment;
the same dead letters replayed again (``--again``) after Xero's idempotency window has passed
make nothing: Xero holds the bill VOIDED and the payment DELETED, nothing more."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from typing import Any

import httpx

from tests.fixtures.pipeline import ROOT, Pipeline, wait_for
from tests.support import event_builders as ev

DLQ = "rx.xero-commands.dlq"
PARK_S = 180  # the writer's backoff before parking is about 61 s; the outbox resends after 30


def _cli(pipeline: Pipeline, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _letters(pipeline: Pipeline, company_id: str, kind: str) -> list[dict[str, Any]]:
    out = _cli(
        pipeline,
        "dlq",
        "list",
        "--json",
        "--topic",
        DLQ,
        "--company",
        company_id,
        "--limit",
        "100000",
    )
    entries = [json.loads(line) for line in out.splitlines()]
    return [e for e in entries if f'"kind":"{kind}"' in e["value"]]


def _replay(pipeline: Pipeline, letters: list[dict[str, Any]], *more: str) -> str:
    records = [a for e in letters for a in ("--record", f"{e['partition']}:{e['offset']}")]
    return _cli(pipeline, "dlq", "replay", "--topic", DLQ, *records, *more)


def _xero_down(pipeline: Pipeline, tenant: str, down: bool) -> None:
    faults = {"error_rate": 1.0, "error_status": 503} if down else None
    r = httpx.put(f"{pipeline.sandbox_url}/_sandbox/settings", json={"faults": {tenant: faults}})
    r.raise_for_status()


def _parked(pipeline: Pipeline, tenant: str, company_id: str, kind: str) -> list[dict[str, Any]]:
    """Xero answers 503 until the writer parks a ``kind`` command; Xero is back afterwards."""
    _xero_down(pipeline, tenant, True)
    try:
        return wait_for(  # type: ignore[no-any-return]
            lambda: _letters(pipeline, company_id, kind), PARK_S, f"{kind} parked", 2
        )
    finally:
        _xero_down(pipeline, tenant, False)


def _invoices(pipeline: Pipeline, tenant: str) -> list[dict[str, Any]]:
    return pipeline.ledger(tenant)["invoices"]  # type: ignore[no-any-return]


def _doc(pipeline: Pipeline, company_id: str, done: Any, what: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(company_id, "bill", "b1")
        return doc if doc and done(doc) else None

    return wait_for(check, 120, what)  # type: ignore[no-any-return]


def test_dead_letters_replayed_after_the_undo_and_the_window_make_nothing(
    pipeline: Pipeline, xero_sandbox: Any
) -> None:
    company = f"replay-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company}")
    pipeline.connect(company, tenant)
    bill = ev.bill(company, "b1", [ev.line("Paper", "1", "100.00")], "100.00", number="R-1")
    pipeline.post_events(
        [ev.bill(company, "warm", [ev.line("Ink", "1", "5.00")], "5.00", number="W-1")]
    )
    wait_for(lambda: (pipeline.doc(company, "bill", "warm") or {}).get("xero_id"), 90, "contact")

    # The bill, then its payment, each parked while Xero answers 503, then replayed.
    _xero_down(pipeline, tenant, True)
    pipeline.post_events([bill])
    bill_letters = _parked(pipeline, tenant, company, "CreateBill")
    assert "replayed" in _replay(pipeline, bill_letters)
    made = _doc(pipeline, company, lambda d: d["xero_id"], "the bill made after the replay")
    pay_letters: list[dict[str, Any]] = []

    def payment_parked() -> list[dict[str, Any]]:
        nonlocal pay_letters
        pay_letters = _letters(pipeline, company, "CreatePayment")
        return pay_letters

    _xero_down(pipeline, tenant, True)
    pipeline.post_events([ev.paid(company, "b1", "p1", "100.00")])
    try:
        wait_for(payment_parked, PARK_S, "CreatePayment parked", 2)
    finally:
        _xero_down(pipeline, tenant, False)
    assert "replayed" in _replay(pipeline, pay_letters)
    _doc(
        pipeline,
        company,
        lambda d: [p["state"] for p in d["payments"]] == ["synced"],
        "the payment made after the replay",
    )

    # Roger undoes both; Xero voids the bill and deletes the payment.
    pipeline.post_events([ev.reversed_(company, "b1", "p1"), ev.deleted(company, "b1")])
    _doc(pipeline, company, lambda d: d["state"] == "deleted", "the bill deleted")
    invoice = next(i for i in _invoices(pipeline, tenant) if i["InvoiceID"] == made["xero_id"])
    wait_for(
        lambda: (
            next(i for i in _invoices(pipeline, tenant) if i["InvoiceID"] == made["xero_id"])[
                "Status"
            ]
            == "VOIDED"
        ),
        60,
        "the bill voided in Xero",
    )

    # Long after: Xero has forgotten every Idempotency-Key; the same letters come again.
    xero_sandbox.advance_clock(xero_sandbox.settings()["idempotency_seconds"] + 60)
    mark = max((e["seq"] for e in xero_sandbox.exchanges()), default=0)
    assert "replayed 0 record(s)" in _replay(pipeline, bill_letters + pay_letters)  # no repeats
    out = _replay(pipeline, bill_letters + pay_letters, "--again")
    assert f"replayed {len(bill_letters) + len(pay_letters)} record(s)" in out, out
    # A new bill of the same company after them: once it is synced, the writer has read
    # (and answered) every replayed command before it in the company's partition.
    pipeline.post_events(
        [ev.bill(company, "after", [ev.line("Ink", "1", "7.00")], "7.00", number="A-1")]
    )
    wait_for(lambda: (pipeline.doc(company, "bill", "after") or {}).get("xero_id"), 120, "after")

    ledger = pipeline.ledger(tenant)
    mine = [i for i in ledger["invoices"] if i.get("InvoiceNumber") == "R-1"]
    assert [(i["InvoiceID"], i["Status"]) for i in mine] == [(invoice["InvoiceID"], "VOIDED")]
    payments = [p for p in ledger["payments"] if p["Invoice"]["InvoiceID"] == invoice["InvoiceID"]]
    assert [p["Status"] for p in payments] == ["DELETED"], payments
    writes = [
        e
        for e in xero_sandbox.exchanges(after=mark)
        if e["method"] in ("PUT", "POST") and "/api.xro/" in e["path"]
    ]
    made_after = [base64.b64decode(e["body"]).decode() for e in writes]
    assert all("R-1" not in body for body in made_after), made_after
    assert not [e for e in writes if e["path"].endswith("/Payments")], writes
