"""Setup chooses the status new bills get in Xero (issue 16): Draft, Awaiting approval or
Awaiting payment (the default); the choice is checked, shown, kept, and carried by the
connection fact."""

from __future__ import annotations

from tests.fixtures.connect import ConnectPipeline
from tests.support.connect_helpers import organisation_chosen, wait_published


def test_the_bill_status_chosen_at_setup_is_kept_and_published(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "acme-bill-status"
    body = organisation_chosen(p, company, "Bill Status ApS")
    path = f"/v1/companies/{company}/xero/connection"

    unknown = p.api("PUT", path, json={**body, "bill_status": "PAID"})
    assert unknown.status_code == 422
    assert p.connection(company)["bill_status"] == "AUTHORISED"  # the default, until chosen

    done = p.api("PUT", path, json={**body, "bill_status": "SUBMITTED"})
    assert done.status_code == 200, done.text
    assert done.json()["bill_status"] == "SUBMITTED"
    assert p.connection(company)["bill_status"] == "SUBMITTED"
    wait_published(p, company, "XeroConnectionEstablished")
    [established] = [f for f in p.facts(company) if f["type"] == "XeroConnectionEstablished"]
    assert established["data"]["bill_status"] == "SUBMITTED"
