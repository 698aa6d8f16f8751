"""Issue 13: a connect is finished only by the browser that started it, and only leads back
to Roger (redirect_after on the allow-list of origins)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures.connect import ConnectPipeline


def _html(p: ConnectPipeline, url: str, jar: dict[str, str]) -> httpx.Response:
    parts = urlsplit(url)
    return httpx.get(
        f"{p.ingest_url}{parts.path}?{parts.query}",
        cookies=jar,
        headers={"Accept": "text/html"},
        timeout=30,
    )


def _an_api_connect_is_bound_to_the_first_browser_that_opens_it(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "bound-api-co"
    tenant = p.new_organisation("Bound Api ApS")
    link = p.start_connect_link(company)
    # The link Roger gets is ours, not Xero's: nothing at Xero can start without a browser.
    assert link.startswith(f"{p.ingest_url}/v1/xero/authorize?state=")

    # The person's browser opens it first: bound, and on to Xero's consent page.
    mine: dict[str, str] = {}
    first = p.launch(link, mine)
    assert first.status_code == 303 and first.headers["location"].startswith(p.authorize_url)
    assert set(mine) == {"rx_connect_binding"}
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "path=/v1/xero/" in cookie and "samesite=lax" in cookie
    # Reloading in the same browser is fine; anyone else holding the link is refused.
    assert p.launch(link, mine).headers["location"] == first.headers["location"]
    other: dict[str, str] = {}
    stolen = p.launch(link, other)
    assert stolen.status_code == 400
    page = _html(p, link, {})
    assert page.status_code == 400 and "started in another browser" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")

    # Consent at Xero, then Xero's redirect opened in another browser: refused, nothing stored.
    location = p.consent(first.headers["location"], [tenant])
    r = p.callback(location, cookies={})
    assert r.status_code == 400 and r.json()["error"]["code"] == "foreign_state"
    r = p.callback(location, cookies={"rx_connect_binding": "someone-elses"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "foreign_state"
    page = _html(p, location, {})
    assert page.status_code == 400
    assert "started in another browser" in page.text and "connect again" in page.text
    assert p.token_set(company) is None
    assert p.connection(company)["status"] == "not_connected"

    # The foreign attempts did not burn the state: the person's own browser finishes.
    r = p.callback(location, cookies=mine)
    assert r.status_code == 303, r.text
    assert parse_qs(urlsplit(r.headers["location"]).query)["status"] == ["connected"]
    assert p.connection(company)["status"] == "pending_setup"


def _a_connect_nobody_opened_cannot_be_finished(connect_pipeline: ConnectPipeline) -> None:
    """Someone who builds Xero's authorize URL from an unopened link's state gets nowhere."""
    p = connect_pipeline
    tenant = p.new_organisation("Unopened ApS")
    link = p.start_connect_link("unopened-co")
    state = parse_qs(urlsplit(link).query)["state"][0]
    (sealed,) = p.sql("SELECT verifier_ciphertext FROM xero_oauth_states")[0]
    from services.connections import oauth

    verifier = p.fernet().decrypt(bytes(sealed)).decode()
    authorize = oauth.authorize_url(
        p.authorize_url, p.client_id, f"{p.ingest_url}/v1/xero/callback", state, verifier
    )
    location = p.consent(authorize, [tenant])
    for jar in ({}, {"rx_connect_binding": "made-up"}):
        r = p.callback(location, cookies=jar)
        assert r.status_code == 400 and r.json()["error"]["code"] == "foreign_state"
    assert p.token_set("unopened-co") is None


def _a_setup_page_connect_is_refused_in_another_browser(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant = p.new_organisation("Bound Page ApS")
    with httpx.Client(base_url=p.ingest_url) as browser:
        browser.get(p.setup_link("bound-co").replace(p.ingest_url, ""))
        page = browser.get("/setup/bound-co")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        started = browser.post("/setup/bound-co/connect", data={"csrf": csrf})
        assert started.status_code == 303
        location = p.consent(started.headers["location"], [tenant])
        # A lured victim's browser (no binding cookie) opens the callback: refused.
        r = p.callback(location, cookies={})
        assert r.status_code == 400 and r.json()["error"]["code"] == "foreign_state"
        assert p.token_set("bound-co") is None
        # The browser that started it finishes, and its page session goes on (the new
        # connection version ended the old one; this browser gets a fresh one).
        done = browser.get(location.replace(p.ingest_url, ""))
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"{p.ingest_url}/setup/bound-co?status=connected"
        after = browser.get("/setup/bound-co?status=connected")
        assert after.status_code == 200 and "Now choose the organisation" in after.text
    assert p.connection("bound-co")["status"] == "pending_setup"


def _redirect_after_only_leads_back_to_roger(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    for bad in (
        "https://evil.example/settings?status=connected",
        "https://roger.example.evil.example/x",
        "https://roger.example@evil.example/x",
        "http://roger.example/x",
        "//evil.example/x",
        "javascript:alert(1)",
        "ftp://x/y",
        "/x\nSet-Cookie: a=b",
    ):
        r = p.api("POST", "/v1/companies/c1/xero/connect", json={"redirect_after": bad})
        assert r.status_code == 422, bad
        error = r.json()["error"]
        assert error["code"] == "invalid_redirect_after" and "redirect_after" in error["message"]
    assert p.sql("SELECT count(*) FROM xero_oauth_states")[0][0] == 0
    for good in ("https://roger.example/settings/xero", "/setup/c1"):
        r = p.api("POST", "/v1/companies/c1/xero/connect", json={"redirect_after": good})
        assert r.status_code == 200, good


def test_connects_are_bound_to_one_browser(connect_pipeline: ConnectPipeline) -> None:
    """One stack for both: the unopened connect first (it reads the only state)."""
    _a_connect_nobody_opened_cannot_be_finished(connect_pipeline)
    _an_api_connect_is_bound_to_the_first_browser_that_opens_it(connect_pipeline)


def test_setup_page_binding_and_redirect_allow_list(connect_pipeline: ConnectPipeline) -> None:
    """One stack for both: the allow-list first, it counts states."""
    _redirect_after_only_leads_back_to_roger(connect_pipeline)
    _a_setup_page_connect_is_refused_in_another_browser(connect_pipeline)
