"""The help article's setup flow end to end, through the API, against the sandbox."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import wait_for
from tests.support.connect_helpers import (
    bill_event,
    categories_records,
    post,
    wait_published,
    wait_state,
)


def _archive(pipeline: ConnectPipeline, tenant_id: str, code: str) -> None:
    """As a bookkeeper would in Xero: archive an account (a grant of their own)."""
    grant = httpx.post(
        f"{pipeline.sandbox_url}/_sandbox/grants",
        json={
            "client_id": pipeline.client_id,
            "tenant_ids": [tenant_id],
            "scopes": ["accounting.settings"],
            "user_id": "00000000-0000-4000-8000-00000000b00c",
        },
        timeout=10,
    ).json()
    headers = {
        "Authorization": f"Bearer {grant['access_token']}",
        "xero-tenant-id": tenant_id,
        "Accept": "application/json",
    }
    base = f"{pipeline.sandbox_url}/api.xro/2.0/Accounts"
    accounts = httpx.get(base, headers=headers, timeout=10).json()["Accounts"]
    account_id = next(a["AccountID"] for a in accounts if a["Code"] == code)
    r = httpx.post(
        f"{base}/{account_id}",
        headers=headers,
        json={"Accounts": [{"Status": "ARCHIVED"}]},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_whole_setup_flow(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    company = "acme-connect"
    tenant = p.new_organisation("Acme Connect ApS", "DKK")
    assert p.connection(company)["status"] == "not_connected"

    # Connect: an authorize URL with PKCE S256, our scopes and a state.
    url = p.start_connect(company, "https://roger.example/settings/xero")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert "offline_access" in query["scope"][0].split()
    assert query["redirect_uri"] == [f"{p.ingest_url}/v1/xero/callback"]

    # "Yes, allow" at Xero, then Xero's redirect to our callback.
    r = p.callback(p.consent(url, [tenant]))
    assert r.status_code == 303
    assert r.headers["location"] == "https://roger.example/settings/xero?status=connected"
    assert p.connection(company)["status"] == "pending_setup"

    # Choose the organisation.
    orgs = p.api("GET", f"/v1/companies/{company}/xero/organisations").json()
    assert orgs == [{"tenant_id": tenant, "name": "Acme Connect ApS", "base_currency": "DKK"}]
    r = p.api("PUT", f"/v1/companies/{company}/xero/organisation", json={"tenant_id": tenant})
    assert r.status_code == 200 and r.json()["status"] == "pending_setup"
    accounts = p.api("GET", f"/v1/companies/{company}/xero/accounts").json()
    by_code = {a["code"]: a for a in accounts}
    assert by_code["429"]["status"] == "ACTIVE" and by_code["090"]["enable_payments"]
    assert set(by_code["429"]) >= {"code", "name", "type", "class", "status", "enable_payments"}

    # Defaults are checked against the chart.
    def finish(expense: str, payment: str) -> httpx.Response:
        body = {
            "tenant_id": tenant,
            "default_account_code": expense,
            "default_payment_account_code": payment,
            "import_categories": True,
        }
        return p.api("PUT", f"/v1/companies/{company}/xero/connection", json=body)  # type: ignore[no-any-return]

    refused = finish("429", "429")  # an expense account cannot take payments
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "default_payment_account_code"
    assert finish("999", "090").status_code == 422  # no such account
    assert finish("090", "090").status_code == 422  # a bank account is no expense account
    _archive(p, tenant, "493")
    archived = finish("493", "090")
    assert archived.status_code == 422 and "archived" in archived.json()["error"]["message"]
    assert p.connection(company)["status"] == "pending_setup"

    done = finish("429", "090")
    assert done.status_code == 200, done.text
    view = done.json()
    assert view["status"] == "connected"
    assert view["tenant_id"] == tenant and view["organisation_name"] == "Acme Connect ApS"
    assert view["default_account_code"] == "429"
    assert view["default_payment_account_code"] == "090"
    assert view["lock_date_policy"] == "fail"  # the default when setup does not choose
    assert view["connected_at"] and view["last_sync_at"] is None

    # Categories: the whole chart on roger.categories.
    cats = wait_for(lambda: categories_records(p, company), 30, "categories on Kafka")
    assert cats[0]["company_id"] == company
    codes = {c["code"]: c for c in cats[0]["categories"]}
    assert codes["429"]["status"] == "ACTIVE" and codes["493"]["status"] == "ARCHIVED"
    assert set(codes["429"]) == {"code", "name", "type", "status", "tax_type"}

    # The connection's life is on the domain topic, in order.
    wait_published(p, company, "XeroConnectionEstablished")
    kinds = [f["type"] for f in p.facts(company)]
    assert kinds == [
        "XeroConnectionAuthorized",
        "XeroOrganisationChosen",
        "XeroConnectionEstablished",
    ]

    # From here on the company's events sync, and the last sync shows.
    post(p, bill_event(company, "bill-1"))
    synced = wait_state(p, company, "bill-1", "synced")
    assert any(i["InvoiceID"] == synced["xero_id"] for i in p.ledger(tenant)["invoices"])
    wait_for(lambda: p.connection(company)["last_sync_at"], 30, "last_sync_at")

    # Re-import on demand.
    r = p.api("POST", f"/v1/companies/{company}/xero/categories/import")
    assert r.status_code == 202 and r.json()["categories"] == len(codes)
    wait_for(lambda: len(categories_records(p, company)) == 2, 30, "second categories import")


def test_service_token_required(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/companies/c1/xero/connect", {"json": {"redirect_after": "/x"}}),
        ("GET", "/v1/companies/c1/xero/organisations", {}),
        ("GET", "/v1/companies/c1/xero/accounts", {}),
        ("PUT", "/v1/companies/c1/xero/connection", {"json": {}}),
        ("GET", "/v1/companies/c1/xero/connection", {}),
        ("DELETE", "/v1/companies/c1/xero/connection", {}),
        ("POST", "/v1/companies/c1/xero/categories/import", {}),
        ("POST", "/v1/companies/c1/xero/setup-session", {}),
    ]
    for method, path, kw in calls:
        for token in (None, "not-a-service-token"):
            r = p.api(method, path, token=token, **kw)
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["error"]["code"] == "unauthorized"
