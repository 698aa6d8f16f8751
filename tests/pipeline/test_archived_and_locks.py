"""Issue 12 end to end over the real stack, checked in the sandbox's ledger: a vendor's
contact merged or archived in Xero, and documents dated in a locked period (both policies)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from services.xero_writer.lock_dates import parse_xero_date
from tests.fixtures.pipeline import Pipeline
from tests.support.pipeline_bills import ByHand, bill, failed, invoices, retry, synced
from tests.support.pipeline_documents import send

RESTORE = "restore the contact in Xero, then retry"
LOCK_FIX = "change the date in Roger, or ask the accountant to move the lock date in Xero"


def company(pipeline: Pipeline, policy: str = "fail") -> tuple[str, str]:
    company_id = f"i12-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company_id}", "DKK")
    pipeline.connect(company_id, tenant, lock_date_policy=policy)
    return company_id, tenant


def admin(pipeline: Pipeline, method: str, tenant: str, rest: str, **kw: Any) -> Any:
    """The sandbox's admin API: what the accountant does in Xero's own screens."""
    url = f"{pipeline.sandbox_url}/_sandbox/organisations/{tenant}/{rest}"
    r = httpx.request(method, url, timeout=10, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_merged_contact_is_followed_to_its_survivor_and_the_vendor_moves(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    send(pipeline, bill(c, "b1", "MM-1"))
    synced(pipeline, c, "bill", "b1")
    [old] = pipeline.ledger(tenant)["contacts"]
    [survivor] = ByHand(pipeline, tenant).put(
        "/Contacts", {"Contacts": [{"Name": "Merge Me Group A/S"}]}
    )["Contacts"]
    admin(
        pipeline,
        "POST",
        tenant,
        f"contacts/{old['ContactID']}/merge",
        json={"into": survivor["ContactID"]},
    )

    send(pipeline, bill(c, "b2", "MM-2"))
    moved = synced(pipeline, c, "bill", "b2")
    assert any("merged into" in w and survivor["ContactID"] in w for w in moved["warnings"]), moved[
        "warnings"
    ]

    send(pipeline, bill(c, "b3", "MM-3"))
    straight = synced(pipeline, c, "bill", "b3")
    assert straight["warnings"] == []  # the vendor's contact is the survivor now
    ledger = pipeline.ledger(tenant)
    assert len(ledger["contacts"]) == 2  # no look-alike made
    by_number = {i["InvoiceNumber"]: i["Contact"]["ContactID"] for i in ledger["invoices"]}
    assert by_number == {number: survivor["ContactID"] for number in ("MM-1", "MM-2", "MM-3")}


def test_an_archived_contact_without_survivor_fails_until_restored_and_retried(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    send(pipeline, bill(c, "b1", "AR-1"))
    synced(pipeline, c, "bill", "b1")
    [contact] = pipeline.ledger(tenant)["contacts"]
    admin(pipeline, "POST", tenant, f"contacts/{contact['ContactID']}/archive")

    send(pipeline, bill(c, "b2", "AR-2"))
    doc = failed(pipeline, c, "b2")
    assert "has been archived" in doc["reason"] and RESTORE in doc["reason"], doc["reason"]
    ledger = pipeline.ledger(tenant)
    assert len(ledger["contacts"]) == 1 and set(invoices(pipeline, tenant)) == {"AR-1"}

    admin(pipeline, "POST", tenant, f"contacts/{contact['ContactID']}/restore")
    retry(pipeline, c, "b2")
    synced(pipeline, c, "bill", "b2")
    made = invoices(pipeline, tenant)
    assert made["AR-2"]["Contact"]["ContactID"] == contact["ContactID"]
    assert len(pipeline.ledger(tenant)["contacts"]) == 1


def _lock(pipeline: Pipeline, tenant: str, period: str | None) -> None:
    body = {"period_lock_date": period, "end_of_year_lock_date": None}
    admin(pipeline, "PUT", tenant, "lock-dates", json=body)


def test_a_bill_in_a_locked_period_fails_with_the_lock_date_then_syncs_once_moved(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)  # the default policy: fail
    _lock(pipeline, tenant, "2026-11-15")
    send(pipeline, bill(c, "b1", "LK-1"))  # dated 2026-11-02

    doc = failed(pipeline, c, "b1")
    assert doc["reason"] == (
        f"dated 2026-11-02, on or before the organisation's period lock date 2026-11-15 in "
        f"Xero: {LOCK_FIX}"
    )
    assert invoices(pipeline, tenant) == {}

    _lock(pipeline, tenant, "2026-10-31")  # the accountant moves it
    retry(pipeline, c, "b1")
    synced(pipeline, c, "bill", "b1")
    assert parse_xero_date(invoices(pipeline, tenant)["LK-1"]["Date"]) == date(2026, 11, 2)


def test_next_open_day_posts_after_the_lock_date_and_says_so(pipeline: Pipeline) -> None:
    c, tenant = company(pipeline, policy="next_open_day")
    _lock(pipeline, tenant, "2026-11-15")
    send(pipeline, bill(c, "b1", "NX-1"))  # dated 2026-11-02, due 2026-12-02

    doc = synced(pipeline, c, "bill", "b1")
    assert doc["warnings"] == [
        "dated 2026-11-02 in Roger, on or before the organisation's period lock date "
        "2026-11-15 in Xero: posted on 2026-11-16, the first open day"
    ]
    made = invoices(pipeline, tenant)["NX-1"]
    assert parse_xero_date(made["Date"]) == date(2026, 11, 16)
    assert parse_xero_date(made["DueDate"]) == date(2026, 12, 2)
