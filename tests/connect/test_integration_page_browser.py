"""The integration page in a real browser (Debian's Chromium, headless), in each state.

Not connected (a bill waits) → connected, one bill synced and one failed (dated in a period
locked in Xero) with the chart drawn by Chart.js → Retry once the lock date moved, and the
failed bill goes → the grant revoked at Xero: needs reconnect, a bill waits with the reason.
A screenshot per state goes to ``<pytest basetemp>/screenshots/integration-page/``; the test
prints their paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.connect.test_setup_page_browser import browser, browser_page, csp_refusals, messages
from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import SERVICE_TOKEN, wait_for
from tests.support.connect_helpers import bill_event, post, wait_state

__all__ = ["browser", "browser_page", "csp_refusals"]  # the fixtures, shared


@pytest.fixture
def page_pipeline(connect_pipeline: ConnectPipeline) -> Iterator[ConnectPipeline]:
    """The connect stack with ingest told where the projector's read API is."""
    ingest = connect_pipeline.services["ingest"]
    ingest.stop()
    ingest.env = {**ingest.env, "RX_PROJECTOR_URL": connect_pipeline.read_url}
    ingest.start()
    yield connect_pipeline


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots" / "integration-page"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _bill(company: str, bill_id: str, day: str) -> dict[str, Any]:
    event = bill_event(company, bill_id, vendor_id=f"ven_{bill_id}")
    event["data"]["issue_date"] = day
    return event


def _lock(p: ConnectPipeline, tenant: str, period: str | None) -> None:
    r = httpx.put(
        f"{p.sandbox_url}/_sandbox/organisations/{tenant}/lock-dates",
        json={"period_lock_date": period, "end_of_year_lock_date": None},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def _text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def _shown(page: Any, url: str, selector: str, expected: str, what: str) -> None:
    """Reloads the page until ``selector`` reads ``expected`` (the sync runs on its own)."""

    def check() -> bool:
        page.goto(url)
        return page.locator(selector).count() > 0 and _text(page, selector) == expected

    wait_for(check, 60, what, interval=1.0)


def test_the_integration_page_in_each_state_with_retry(
    page_pipeline: ConnectPipeline, browser_page: Any, csp_refusals: list[str], shots: Path
) -> None:
    p, page = page_pipeline, browser_page
    company = "page-co"
    tenant = p.new_organisation(f"Page Co {uuid.uuid4().hex[:6]} ApS", "DKK")
    url = f"{p.ingest_url}/setup/{company}/integration"
    saved: list[Path] = []

    def shot(name: str) -> None:
        path = shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
        print(f"screenshot: {path}")

    # 1. Not connected: a bill from Roger waits for the connection.
    post(p, _bill(company, "early", "2026-11-25"))
    page.goto(p.setup_link(company))
    _shown(page, url, "#count-bill-waiting", "1", "the early bill waiting on the page")
    assert _text(page, "#status") == "not connected"
    assert page.get_by_role("button", name="Connect to Xero").is_visible()
    assert "They wait until Roger is connected" in page.content()
    assert page.locator("#synced-chart").get_attribute("data-drawn") == "yes"
    shot("1-not-connected")

    # 2. Connected: the early bill syncs; one dated in a locked period fails.
    _lock(p, tenant, "2026-11-21")
    p.connect_company(company, tenant)
    post(p, _bill(company, "locked", "2026-11-20"))
    wait_state(p, company, "early", "synced")
    failed = wait_state(p, company, "locked", "failed")
    page.goto(p.setup_link(company))  # connecting ended the old page session
    _shown(page, url, "#count-bill-synced", "1", "the synced bill on the page")
    assert _text(page, "#status") == "connected" and _text(page, "#count-bill-failed") == "1"
    row = page.locator('tr.failed-doc[data-roger-id="locked"]')
    assert failed["reason"] and _text(row, ".reason").startswith(failed["reason"][:40])
    assert "lock date" in _text(row, ".reason")
    early = next(d for d in p.documents(company) if d["roger_id"] == "early")
    link = page.locator(".synced-doc a").first
    assert link.get_attribute("href") == (
        f"https://go.xero.com/AccountsPayable/View.aspx?InvoiceID={early['xero_id']}"
    )
    assert early["xero_url"] == link.get_attribute("href")
    assert page.locator("#synced-chart").get_attribute("data-drawn") == "yes"
    assert int(_text(page, "#synced-7d")) >= 1
    shot("2-connected-synced-and-failed")

    # 3. The accountant moves the lock date; Retry sends the bill again and it goes.
    _lock(p, tenant, "2026-11-01")
    with page.expect_navigation():
        row.get_by_role("button", name="Retry").click()
    assert page.url == f"{url}?done=retried", (page.url, messages(page))
    assert "Sent to Xero again" in messages(page)
    _shown(page, url, "#count-bill-synced", "2", "the retried bill synced")
    assert _text(page, "#count-bill-failed") == "0"
    assert page.locator("tr.failed-doc").count() == 0 and page.locator("#no-failed").is_visible()
    shot("3-after-retry")
    hours = httpx.get(
        f"{p.read_url}/v1/companies/{company}/synced-per-hour",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    ).json()["hours"]
    assert len(hours) == 7 * 24 and sum(h["synced"] for h in hours) == 2
    assert _text(page, "#synced-7d") == "2"

    # The day's budget as the writer heard it from Xero after sending the bills.
    def budget_from_the_writer() -> bool:
        page.goto(url)
        return "after the last call that sent a document" in page.content()

    wait_for(budget_from_the_writer, 30, "the writer's day budget on the page")
    assert 0 < int(_text(page, "#budget-left")) < 5000

    # 4. The grant is revoked at Xero: needs reconnect, and a new bill waits with the reason.
    token_set = p.token_set(company)
    assert token_set is not None
    r = httpx.post(
        f"{p.sandbox_url}/connect/revocation",
        data={"token": token_set["refresh_token"]},
        auth=(p.client_id, p.client_secret),
        timeout=10,
    )
    assert r.status_code == 200
    post(p, _bill(company, "late", "2026-11-26"))
    wait_for(lambda: p.connection(company)["status"] == "needs_reconnect", 60, "needs_reconnect")
    _shown(page, url, "#status", "needs reconnect", "needs reconnect on the page")
    assert page.get_by_role("button", name="Reconnect to Xero").is_visible()
    assert page.get_by_role("button", name="Retry").count() == 0
    assert "no longer accepts Roger's access" in messages(page)
    shot("4-needs-reconnect")

    # The page's style, its inline script and the two served scripts ran under the policy.
    assert csp_refusals == []
    assert all(path.stat().st_size > 0 for path in saved) and len(saved) == 4
