"""Issue 13: after consent only the organisations of this consent are offered (Xero's
authEventId), re-authorising keeps the defaults, and a disconnect never takes another
company's connection that shares the Xero user."""

from __future__ import annotations

import re

import httpx

from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import wait_for
from tests.support.connect_helpers import wait_published

USER = "00000000-0000-4000-8000-0000000000c1"


def _authorise(p: ConnectPipeline, company: str, tenants: list[str]) -> None:
    r = p.callback(p.consent(p.start_connect(company), tenants, user=USER))
    assert r.status_code == 303, r.text


def _offered(p: ConnectPipeline, company: str) -> list[str]:
    r = p.api("GET", f"/v1/companies/{company}/xero/organisations")
    assert r.status_code == 200, r.text
    return [o["tenant_id"] for o in r.json()]


def _organisation_step(p: ConnectPipeline, company: str) -> str:
    with httpx.Client(base_url=p.ingest_url) as browser:
        browser.get(p.setup_link(company).replace(p.ingest_url, ""))
        page = browser.get(f"/setup/{company}")
    assert page.status_code == 200 and 'name="tenant_id"' in page.text, page.text
    return page.text


def _selected(page: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"[^>]*\sselected', page)


def _only_this_consents_organisations_are_offered(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    a, b, c, d = (p.new_organisation(f"Scope {n} ApS") for n in "ABCD")
    # One Xero user (a bookkeeper) connects three Roger companies, one consent each.
    p.connect_company("scope-1", a, user=USER)
    _authorise(p, "scope-2", [b])
    _authorise(p, "scope-3", [c, d])
    # Xero's /connections for that user now lists all four organisations...
    token = p.token_set("scope-3")
    assert token is not None
    rows = httpx.get(
        f"{p.sandbox_url}/connections",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).json()
    assert {r["tenantId"] for r in rows} == {a, b, c, d}
    # ...but each company is offered only what its own consent authorised.
    assert _offered(p, "scope-2") == [b]
    assert sorted(_offered(p, "scope-3")) == sorted([c, d])
    assert _offered(p, "scope-1") == [a]
    # Nor can it choose another consent's organisation.
    r = p.api("PUT", "/v1/companies/scope-2/xero/organisation", json={"tenant_id": a})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_organisation"

    # The picker pre-selects the one organisation just authorised; with two, neither.
    assert _selected(_organisation_step(p, "scope-2")) == [b]
    page = _organisation_step(p, "scope-3")
    assert _selected(page) == [""] and "Choose an organisation" in page
    assert a not in page and b not in page


def _reauthorising_the_same_organisation_keeps_its_defaults(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "again-co"
    tenant = p.new_organisation("Again ApS")
    first = p.connect_company(company, tenant, user=USER)
    assert first["status"] == "connected"
    p.api("DELETE", f"/v1/companies/{company}/xero/connection")
    assert p.connection(company)["status"] == "disconnected"

    _authorise(p, company, [tenant])
    view = p.connection(company)
    assert view["status"] == "connected"  # no organisation or accounts to choose again
    assert (view["tenant_id"], view["default_account_code"]) == (tenant, "429")
    assert view["default_payment_account_code"] == "090"
    wait_published(p, company, "XeroConnectionEstablished")
    kinds = [h["type"] for h in view["history"]]
    assert kinds.count("XeroConnectionEstablished") == 2
    assert kinds[-2:] == ["XeroConnectionAuthorized", "XeroConnectionEstablished"]
    # The page says so, instead of asking for the organisation.
    with httpx.Client(base_url=p.ingest_url) as browser:
        browser.get(p.setup_link(company).replace(p.ingest_url, ""))
        page = browser.get(f"/setup/{company}?status=connected")
    assert "same organisation and default accounts are kept" in page.text

    # Another organisation in the consent: the company chooses (nothing is guessed).
    other = p.new_organisation("Other ApS")
    _authorise(p, company, [other])
    assert p.connection(company)["status"] == "pending_setup"
    assert _offered(p, company) == [other]


def test_disconnect_spares_companies_sharing_the_xero_user(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    a, b = p.new_organisation("Share A ApS"), p.new_organisation("Share B ApS")
    p.connect_company("share-1", a, user=USER)
    p.connect_company("share-2", b, user=USER)
    p.connect_company("share-3", a, user=USER)  # the same organisation as share-1

    def tenants_at_xero(company: str) -> set[str]:
        token = p.token_set(company)
        assert token is not None
        r = httpx.get(
            f"{p.sandbox_url}/connections",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return {row["tenantId"] for row in r.json()}

    r = p.api("DELETE", "/v1/companies/share-2/xero/connection")
    assert r.status_code == 200 and r.json()["status"] == "disconnected"
    assert r.json()["revoked_at_xero"] is False  # the grant is shared: not revoked
    assert p.token_set("share-2") is None
    # share-2's organisation left Xero's connections; share-1's and share-3's did not.
    assert tenants_at_xero("share-1") == {a}
    r = p.api("DELETE", "/v1/companies/share-1/xero/connection")
    assert r.status_code == 200 and r.json()["revoked_at_xero"] is False
    assert tenants_at_xero("share-3") == {a}  # share-3 still uses it

    # share-3 still works, refreshing its tokens included.
    p.expire_access_token("share-3")
    assert _offered(p, "share-3") == [a]
    assert p.connection("share-3")["status"] == "connected"

    # The last company of that user: the grant is revoked at Xero.
    old = p.token_set("share-3")
    assert old is not None
    r = p.api("DELETE", "/v1/companies/share-3/xero/connection")
    assert r.status_code == 200 and r.json()["revoked_at_xero"] is True

    def refused() -> bool:
        answer = httpx.post(
            f"{p.sandbox_url}/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
            auth=(p.client_id, p.client_secret),
            timeout=10,
        )
        return answer.status_code == 400

    wait_for(refused, 10, "the refresh token revoked")


def test_consent_scope_and_kept_defaults(connect_pipeline: ConnectPipeline) -> None:
    """One stack for both: the scope's companies first, then another company of the same user."""
    _only_this_consents_organisations_are_offered(connect_pipeline)
    _reauthorising_the_same_organisation_keeps_its_defaults(connect_pipeline)
