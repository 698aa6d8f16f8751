"""``roger-xero reconcile COMPANY [--fix]``: a company with five differences planted in Xero
through the sandbox's admin API (webhooks off, so only reconcile can see them) is reconciled:
all five are found, ``--fix`` sends the one that is safe (a bill Xero never got) and lists the
four that need a person (what an accountant did in Xero is never overwritten nor re-made), and
a second run finds only those four, each left as Xero holds it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from decimal import Decimal
from typing import Any

import httpx

from tests.fixtures.pipeline import ROOT, Pipeline, wait_for
from tests.support import event_builders as ev

LINES = [ev.line("Paper", "1", "100.00")]


def admin(pipeline: Pipeline, tenant: str, method: str, path: str, body: Any = None) -> Any:
    r = httpx.request(
        method, f"{pipeline.sandbox_url}/_sandbox/organisations/{tenant}/{path}", json=body
    )
    assert r.status_code == 200, r.text
    return r.json()


def invoice(pipeline: Pipeline, tenant: str, roger_id: str) -> dict[str, Any] | None:
    for found in pipeline.ledger(tenant)["invoices"]:
        if found.get("Url", "").endswith(f"/bills/{roger_id}"):
            return found  # type: ignore[no-any-return]
    return None


def reconcile(pipeline: Pipeline, company: str, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "reconcile",
            company,
            "--projector-url",
            pipeline.read_url,
            *more,
        ],
        cwd=ROOT,
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(out: str) -> set[tuple[str, str]]:
    """(document, field) of each difference printed."""
    found = set()
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DOCUMENT"))
    for line in lines[start + 1 :]:
        if not line.startswith(("bill ", "receipt ", "credit_note ")):
            break
        kind, roger_id, *rest = line.split()
        field = rest[0] if rest[0] != "payment" else f"payment {rest[1]}"
        found.add((f"{kind} {roger_id}", field))
    return found


def test_reconcile_finds_five_planted_differences_and_fixes_the_safe_ones(
    pipeline: Pipeline,
) -> None:
    company = f"rec-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company}", "DKK")
    pipeline.connect(company, tenant)
    other = ev.vendor("ven_2", "Other Paper ApS")
    r = pipeline.post_events(
        [
            ev.bill(company, "b1", LINES, "100.00", number="R-1"),
            ev.bill(company, "b2", LINES, "100.00", number="R-2", minute=1),
            ev.bill(company, "b3", LINES, "100.00", number="R-3", minute=2),
            ev.paid(company, "b3", "p1", "100.00"),
            ev.bill(company, "b4", LINES, "100.00", number="R-4", minute=3, ven=other),
        ]
    )
    assert r.status_code == 202, r.text

    def all_in_xero() -> Any:
        docs = {d["roger_id"]: d for d in pipeline.documents(company)}
        paid = [p for p in docs.get("b3", {}).get("payments", []) if p["state"] == "synced"]
        ready = len(docs) == 4 and all(d["state"] == "synced" for d in docs.values())
        return docs if ready and paid else None

    wait_for(all_in_xero, 120, "four bills and a payment in Xero")
    b1, b2, b3, b4 = (invoice(pipeline, tenant, f"b{n}") for n in range(1, 5))
    assert b1 and b2 and b3 and b4

    # Planted in Xero, as an accountant would: b1 voided (Xero's delete of an approved
    # bill), b2's amount edited, b3's payment removed, b4's contact archived...
    accountant = "as-accountant"
    admin(
        pipeline, tenant, "POST", f"{accountant}/Invoices/{b1['InvoiceID']}", {"Status": "VOIDED"}
    )
    admin(
        pipeline,
        tenant,
        "POST",
        f"{accountant}/Invoices/{b2['InvoiceID']}",
        {
            "LineItems": [
                {"Description": "Paper", "Quantity": 1, "UnitAmount": 120, "AccountCode": "429"}
            ]
        },
    )
    [payment] = [
        p
        for p in pipeline.ledger(tenant)["payments"]
        if p["Invoice"]["InvoiceID"] == b3["InvoiceID"]
    ]
    admin(
        pipeline,
        tenant,
        "POST",
        f"{accountant}/Payments/{payment['PaymentID']}",
        {"Status": "DELETED"},
    )
    admin(pipeline, tenant, "POST", f"contacts/{b4['Contact']['ContactID']}/archive")
    # ...and b5 never reaches Xero: the period is locked when it comes, then reopened.
    admin(pipeline, tenant, "PUT", "lock-dates", {"period_lock_date": "2026-11-10"})
    r = pipeline.post_events([ev.bill(company, "b5", LINES, "100.00", number="R-5", minute=4)])
    assert r.status_code == 202, r.text
    wait_for(
        lambda: (pipeline.doc(company, "bill", "b5") or {}).get("state") == "failed",
        90,
        "b5 refused for the lock date",
    )
    admin(pipeline, tenant, "PUT", "lock-dates", {"period_lock_date": None})

    found = reconcile(pipeline, company)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "5 difference(s)" in found.stdout, found.stdout
    assert rows(found.stdout) == {
        ("bill b1", "status"),
        ("bill b2", "total"),
        ("bill b3", "payment p1"),
        ("bill b4", "contact"),
        ("bill b5", "document"),
    }, found.stdout

    fixed = reconcile(pipeline, company, "--fix")
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr  # four are left for a person
    sent = {line for line in fixed.stdout.splitlines() if line.startswith("sent: ")}
    assert sent == {"sent: bill b5 document (document)"}, fixed.stdout
    assert "4 need(s) a person:" in fixed.stdout
    assert "bill b1: status: voided in Xero by someone" in fixed.stdout
    assert "bill b2: total: changed in Xero by someone" in fixed.stdout
    assert "bill b3: payment p1: removed in Xero by someone" in fixed.stdout
    assert "bill b4: contact: archived in Xero" in fixed.stdout

    def repaired() -> bool:
        b5_now = invoice(pipeline, tenant, "b5")
        return bool(b5_now and b5_now["Status"] == "AUTHORISED")

    wait_for(repaired, 120, "b5 in Xero")
    wait_for(
        lambda: all(d["state"] not in ("pending", "waiting") for d in pipeline.documents(company)),
        60,
        "the company's documents at rest",
    )

    again = reconcile(pipeline, company)
    assert again.returncode == 1
    assert rows(again.stdout) == {
        ("bill b1", "status"),
        ("bill b2", "total"),
        ("bill b3", "payment p1"),
        ("bill b4", "contact"),
    }, again.stdout
    # What the accountant did was left as Xero holds it: nothing overwritten nor re-made.
    assert (invoice(pipeline, tenant, "b1") or {})["Status"] == "VOIDED"
    assert Decimal(str((invoice(pipeline, tenant, "b2") or {})["Total"])) == 120
    assert (invoice(pipeline, tenant, "b3") or {})["Status"] == "AUTHORISED"


# ---- the comparison alone (no stack) ---------------------------------------------------------


def _doc(roger_id: str, **over: Any) -> dict[str, Any]:
    roger = {
        "total": "100.00",
        "currency": "DKK",
        "number": roger_id.upper(),
        "deleted": False,
        "in_xero_as_sent": True,
        "xero_total": "100.00",
        "contact_id": "c1",
        "contact_status": None,
        "payments": [],
    }
    roger.update(over.pop("roger", {}))
    return {
        "kind": "bill",
        "roger_id": roger_id,
        "state": "synced",
        "reason": None,
        "xero_id": f"inv-{roger_id}",
        "conflict": None,
        "roger": roger,
        **over,
    }


def _invoice(roger_id: str, **over: Any) -> dict[str, Any]:
    return {
        "InvoiceID": f"inv-{roger_id}",
        "Status": "AUTHORISED",
        "Total": 100,
        "CurrencyCode": "DKK",
        "Payments": [],
        **over,
    }


def test_the_comparison_says_what_is_safe_and_what_needs_a_person() -> None:
    from services.cli import differences

    docs = [
        _doc("same"),
        _doc("flight", state="pending"),
        _doc("gone", roger={"deleted": True}),
        _doc("kept", roger={"deleted": True}),
        _doc("usd", roger={"currency": "USD"}),
        _doc("byhand"),
        _doc("held", state="failed", conflict={"roger": {"total": "1"}, "xero": {"total": "2"}}),
        _doc("refused", state="failed", xero_id=None),
    ]
    invoices = {
        i["InvoiceID"]: i
        for i in [
            _invoice("same"),
            _invoice("gone", Status="VOIDED"),
            _invoice("kept"),
            _invoice("usd"),
            _invoice("byhand", Payments=[{"PaymentID": "x1", "Amount": 10, "Reference": "cash"}]),
        ]
    }
    contacts = {"c1": {"ContactID": "c1", "Name": "Paper", "ContactStatus": "ACTIVE"}}

    found, skipped = differences(docs, invoices, {}, contacts)

    assert skipped == ["bill flight"]
    got = {(d.roger_id, d.field): (d.fix, bool(d.why)) for d in found}
    assert got == {
        ("kept", "status"): (None, True),  # deleted in Roger, live in Xero
        ("usd", "currency"): (None, True),  # changed in Xero: a person decides
        ("byhand", "payment made in Xero"): (None, True),
        ("held", "conflict"): (None, True),
        ("refused", "document"): ({"resend": "document"}, False),  # Xero never got it
    }


def test_an_edit_in_xero_is_never_safe_and_every_field_that_differs_is_shown() -> None:
    from services.cli import differences

    dated = {"date": "2026-11-02", "due_date": "2026-12-02"}
    docs = [_doc("edited", roger=dated)]
    invoices = {
        "inv-edited": _invoice(
            "edited",
            Total=120,
            DateString="2026-11-02T00:00:00",
            DueDate="/Date(1798675200000+0000)/",  # 2026-12-31
            Contact={"ContactID": "c2"},
        )
    }

    found, _ = differences(docs, invoices, {}, {})

    got = {d.field: (d.ours, d.xero, d.fix) for d in found}
    assert got == {
        "total": ("100.00", "120", None),
        "due_date": ("2026-12-02", "2026-12-31", None),
        "contact": ("c1", "c2", None),
    }
    assert all("changed in Xero by someone" in d.why for d in found)


def test_only_what_xero_never_got_is_safe_and_what_we_made_that_is_gone_needs_a_person() -> None:
    from services.cli import differences

    payments = [
        # Made by us in Xero, no longer there: removed by someone in Xero.
        {"payment_id": "p1", "amount": "40", "xero_id": "x-p1", "state": "synced"},
        # Never got to Xero (no Xero id on our side): safe to send.
        {"payment_id": "p2", "amount": "10", "xero_id": None, "state": "failed"},
        # In Xero, as ours: nothing to say.
        {"payment_id": "p3", "amount": "5", "xero_id": "x-p3", "state": "synced"},
    ]
    docs = [
        _doc("paid", roger={"payments": payments}),
        _doc("removed"),  # we made it; Xero no longer has it
    ]
    ours = [{"PaymentID": "x-p3", "Amount": 5, "Reference": "Roger payment p3"}]
    invoices = {"inv-paid": _invoice("paid", Payments=ours)}

    found, _ = differences(docs, invoices, {}, {})

    got = {(d.roger_id, d.field): (d.fix, bool(d.why)) for d in found}
    assert got == {
        ("paid", "payment p1"): (None, True),
        ("paid", "payment p2"): ({"resend": "payment", "payment_id": "p2"}, False),
        ("removed", "document"): (None, True),
    }


def test_a_company_with_no_connection_is_said_to_be_not_connected() -> None:
    from services.cli import unreadable
    from shared.xero.token_store import NotConnected

    said = unreadable("lonely-co", NotConnected("lonely-co"))

    assert said.startswith("lonely-co is not connected to Xero"), said
    assert "cannot be read" not in said


def test_a_number_changed_in_xero_is_shown_and_a_lock_date_move_is_judged_as_dates() -> None:
    from services.cli import differences

    moved = ["posted on the first open day after the lock date (2026-11-30)"]
    docs = [
        _doc("renumbered", xero_number="B-1"),
        _doc("adopted", xero_number="b-2 "),  # Xero's own spelling, kept when we adopted it
        _doc("locked", xero_number="L-1", warnings=moved, roger={"date": "2026-11-09"}),
        _doc("note", kind="credit_note", xero_number="CN-1"),
    ]
    invoices = {
        "inv-renumbered": _invoice("renumbered", InvoiceNumber="B-1-EDITED"),
        "inv-adopted": _invoice("adopted", InvoiceNumber="b-2 "),
        # Posted on the first open day after a lock date, later than Roger's: not an edit.
        "inv-locked": _invoice("locked", InvoiceNumber="L-1", DateString="2026-12-01T00:00:00"),
    }
    notes = {"inv-note": _invoice("note", CreditNoteNumber="CN-1-X")}

    found, _ = differences(docs, invoices, notes, {})

    got = {(d.roger_id, d.field): (d.ours, d.xero, d.fix) for d in found}
    assert got == {
        ("renumbered", "number"): ("B-1", "B-1-EDITED", None),
        ("note", "number"): ("CN-1", "CN-1-X", None),
    }
    assert all("changed in Xero by someone" in d.why for d in found)
