"""Setup chooses what happens to a document dated in a period locked in Xero (issue 12):
the choice is checked, shown, kept, and carried by the connection fact."""

from __future__ import annotations

from tests.fixtures.connect import ConnectPipeline
from tests.support.connect_helpers import organisation_chosen, wait_published


def test_the_lock_date_policy_chosen_at_setup_is_kept_and_published(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "acme-lock-choice"
    body = organisation_chosen(p, company, "Lock Choice ApS")
    path = f"/v1/companies/{company}/xero/connection"

    unknown = p.api("PUT", path, json={**body, "lock_date_policy": "ignore"})
    assert unknown.status_code == 422

    done = p.api("PUT", path, json={**body, "lock_date_policy": "next_open_day"})
    assert done.status_code == 200, done.text
    assert done.json()["lock_date_policy"] == "next_open_day"
    assert p.connection(company)["lock_date_policy"] == "next_open_day"
    wait_published(p, company, "XeroConnectionEstablished")
    [established] = [f for f in p.facts(company) if f["type"] == "XeroConnectionEstablished"]
    assert established["data"]["lock_date_policy"] == "next_open_day"
