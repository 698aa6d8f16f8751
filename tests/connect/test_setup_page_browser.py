"""A person clicks through the setup page in a real browser (Debian's Chromium, headless).

Connect → Xero's consent page, "Allow access" → choose organisation → default
accounts and "Import categories" → Finish → connection page → Disconnect. A
screenshot of each step goes to .run/screenshots/setup-page/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import wait_for
from tests.support.connect_helpers import categories_records, wait_published

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".run" / "screenshots" / "setup-page"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def messages(page: Any) -> str:
    return " | ".join(page.locator(".msg").all_inner_texts())


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium missing: deploy/install.sh installs it"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Any, refusals: list[str]) -> Any:
    """A page in a browser profile of its own; the console's CSP refusals go to ``refusals``."""
    page = browser.new_context(viewport={"width": 1000, "height": 800}).new_page()
    page.set_default_timeout(30_000)
    page.on(
        "console",
        lambda m: refusals.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page


@pytest.fixture
def csp_refusals() -> list[str]:
    return []


@pytest.fixture
def browser_page(browser: Any, csp_refusals: list[str]) -> Any:
    return new_page(browser, csp_refusals)


def test_click_through_setup_then_disconnect(
    connect_pipeline: ConnectPipeline, browser_page: Any, csp_refusals: list[str]
) -> None:
    p, page = connect_pipeline, browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    company = "browser-co"
    org_name = f"Browser Co {uuid.uuid4().hex[:6]} ApS"
    tenant = p.new_organisation(org_name, "DKK")

    def shot(name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    page.goto(p.setup_link(company))
    assert page.url == f"{p.ingest_url}/setup/{company}"  # the session left the address bar
    page.get_by_role("button", name="Connect to Xero").wait_for()
    shot("1-connect")

    page.get_by_role("button", name="Connect to Xero").click()
    page.get_by_role("button", name="Allow access").wait_for()
    assert page.url.startswith(p.authorize_url)
    shot("2-xero-consent")

    page.get_by_role("button", name="Allow access").click()
    page.get_by_label("Which Xero organisation").wait_for()
    assert "Connected to Xero" in messages(page)
    # Only the organisations of this consent are offered; none is pre-selected unless one.
    offered = p.api("GET", f"/v1/companies/{company}/xero/organisations").json()
    picked = page.get_by_label("Which Xero organisation").input_value()
    assert picked == (tenant if len(offered) == 1 else "")
    shot("3-organisation")

    page.get_by_label("Which Xero organisation").select_option(tenant)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Finish").wait_for()
    assert page.locator("#organisation").inner_text() == org_name
    page.get_by_label("Default account for expenses").select_option("429")
    page.get_by_label("Account that payments are made from").select_option("090")
    assert page.get_by_label("Import categories").is_checked()
    locked = page.get_by_label("A document dated in a period locked in Xero")
    assert locked.input_value() == "fail"  # the default
    locked.select_option("next_open_day")
    shot("4-default-accounts")

    page.get_by_role("button", name="Finish").click()
    page.get_by_role("button", name="Disconnect").wait_for()
    assert page.locator("#status").inner_text() == "connected"
    assert page.locator("#organisation").inner_text() == org_name
    assert "Setup finished" in messages(page)
    shot("5-connection")
    assert page.locator("#locked_period").inner_text().startswith("Post it on the first open")
    view = p.connection(company)
    assert view["status"] == "connected" and view["tenant_id"] == tenant
    assert view["lock_date_policy"] == "next_open_day"
    wait_for(lambda: categories_records(p, company), 30, "categories imported")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disconnect").click()
    page.get_by_role("button", name="Connect to Xero").wait_for()
    assert "Disconnected from Xero" in messages(page)
    shot("6-disconnected")
    assert p.connection(company)["status"] == "disconnected"
    assert p.token_set(company) is None
    wait_published(p, company, "XeroConnectionLost")
    # The page's own style and script ran under the policy (the confirm dialog came up).
    assert csp_refusals == []
    assert sorted(f.name for f in SHOTS.glob("[0-9]-*.png")) == [
        "1-connect.png",
        "2-xero-consent.png",
        "3-organisation.png",
        "4-default-accounts.png",
        "5-connection.png",
        "6-disconnected.png",
    ]


def test_setup_page_says_clearly_what_failed(
    connect_pipeline: ConnectPipeline, browser: Any, browser_page: Any, csp_refusals: list[str]
) -> None:
    p, page = connect_pipeline, browser_page
    company = "browser-fail-co"
    p.new_organisation(f"Cancel Co {uuid.uuid4().hex[:6]}")

    page.goto(f"{p.ingest_url}/setup/{company}")
    assert "missing, not valid, or has expired" in messages(page)

    page.goto(p.setup_link(company))
    page.get_by_role("button", name="Connect to Xero").click()
    page.get_by_role("button", name="Cancel").click()  # at Xero's consent page
    page.get_by_role("button", name="Connect to Xero").wait_for()
    assert "You chose Cancel" in messages(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "error-cancelled.png"), full_page=True)
    # On the same stack (each costs half a minute): a connect finished in another browser.
    _a_connect_finished_in_another_browser_is_refused(p, browser, csp_refusals)


def _a_connect_finished_in_another_browser_is_refused(
    connect_pipeline: ConnectPipeline, browser: Any, csp_refusals: list[str]
) -> None:
    """Roger's backend starts a connect over the API; the person opens the link. Someone
    else's browser that gets hold of Xero's answer cannot finish it; the person's can."""
    p = connect_pipeline
    company = "browser-bound-co"
    tenant = p.new_organisation(f"Bound Browser {uuid.uuid4().hex[:6]} ApS", "DKK")
    mine, theirs = new_page(browser, csp_refusals), new_page(browser, csp_refusals)

    mine.goto(p.start_connect_link(company, f"/setup/{company}"))
    mine.get_by_role("button", name="Allow access").wait_for()
    assert mine.url.startswith(p.authorize_url)
    location = p.consent(mine.url, [tenant])  # the consent's answer, as a lured link

    theirs.goto(location)
    assert "started in another browser" in messages(theirs)
    assert theirs.get_by_role("heading").inner_text() == "Xero connection refused"
    SHOTS.mkdir(parents=True, exist_ok=True)
    theirs.screenshot(path=str(SHOTS / "error-another-browser.png"), full_page=True)
    assert p.connection(company)["status"] == "not_connected"

    mine.goto(location)
    assert mine.url.endswith(f"/setup/{company}?status=connected")
    assert p.connection(company)["status"] == "pending_setup"
    assert csp_refusals == []
