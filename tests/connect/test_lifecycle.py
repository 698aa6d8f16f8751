"""Disconnect, a grant revoked at Xero, and reconnecting: documents wait, never fail."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import wait_for
from tests.support.connect_helpers import bill_event, document, post, wait_published, wait_state


def _refresh_refused(p: ConnectPipeline, refresh_token: str) -> bool:
    r = httpx.post(
        f"{p.sandbox_url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(p.client_id, p.client_secret),
        timeout=10,
    )
    return r.status_code == 400 and r.json() == {"error": "invalid_grant"}


def _answers(p: ConnectPipeline, company: str, kind: str, doc_id: str) -> list[dict[str, Any]]:
    from shared.contracts.topics import XERO_RESULTS

    out = []
    for key, value, _ in p.records(XERO_RESULTS):
        answer = json.loads(value or b"{}")
        if key == company.encode() and (answer["document_kind"], answer["document_id"]) == (
            kind,
            doc_id,
        ):
            out.append(answer)
    return out


def test_disconnect_then_events_wait_then_reconnect_syncs(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "disco-co"
    tenant = p.new_organisation("Disco ApS")
    p.connect_company(company, tenant)
    post(p, bill_event(company, "before"))
    wait_state(p, company, "before", "synced")
    old = p.token_set(company)
    assert old is not None

    r = p.api("DELETE", f"/v1/companies/{company}/xero/connection")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "disconnected" and r.json()["revoked_at_xero"] is True
    assert p.token_set(company) is None  # our tokens are gone
    assert _refresh_refused(p, old["refresh_token"])  # the grant is revoked at Xero
    conns = httpx.get(
        f"{p.sandbox_url}/connections",
        headers={"Authorization": f"Bearer {old['access_token']}"},
        timeout=10,
    )
    assert conns.status_code == 401  # and its connections with it
    wait_published(p, company, "XeroConnectionLost")
    assert p.connection(company)["status"] == "disconnected"

    # Events that arrive now are kept, and wait.
    post(p, bill_event(company, "while-away"))
    waiting = wait_state(p, company, "while-away", "waiting")
    assert waiting["reason"].startswith("not_connected")
    assert document(p, company, "before")["state"] == "synced"  # type: ignore[index]

    # Connecting again: they sync.
    p.connect_company(company, tenant)
    synced = wait_state(p, company, "while-away", "synced")
    assert any(i["InvoiceID"] == synced["xero_id"] for i in p.ledger(tenant)["invoices"])
    kinds = [f["type"] for f in p.facts(company)]
    assert kinds.count("XeroConnectionEstablished") == 2 and "XeroConnectionLost" in kinds


def test_revoked_grant_needs_reconnect_and_fails_nothing(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "revoked-co"
    tenant = p.new_organisation("Revoked ApS")
    p.connect_company(company, tenant)
    post(p, bill_event(company, "first"))
    wait_state(p, company, "first", "synced")

    # The user removes the app in Xero: the grant (refresh and access tokens) is revoked.
    token_set = p.token_set(company)
    assert token_set is not None
    r = httpx.post(
        f"{p.sandbox_url}/connect/revocation",
        data={"token": token_set["refresh_token"]},
        auth=(p.client_id, p.client_secret),
        timeout=10,
    )
    assert r.status_code == 200

    post(p, bill_event(company, "second"))
    # The writer answers "waiting: needs_reconnect" (not failed) once Xero refuses the token.
    answers = wait_for(lambda: _answers(p, company, "bill", "second"), 60, "writer's answer")
    assert [a["type"] for a in answers] == ["XeroCommandWaiting"]
    assert answers[0]["message"].startswith("needs_reconnect")
    wait_for(lambda: p.connection(company)["status"] == "needs_reconnect", 30, "needs_reconnect")
    wait_published(p, company, "XeroConnectionNeedsReconnect")
    assert "XeroConnectionNeedsReconnect" in [f["type"] for f in p.facts(company)]
    doc = document(p, company, "second")
    assert doc is not None and doc["state"] != "failed"
    if doc["state"] == "waiting":
        assert doc["reason"].startswith("needs_reconnect")
    assert not p.documents(company, state="failed")
    # Our API says so too, instead of failing opaquely.
    r = p.api("GET", f"/v1/companies/{company}/xero/organisations")
    assert r.status_code == 409 and r.json()["error"]["code"] == "needs_reconnect"

    # Reconnecting makes the connection usable again.
    p.connect_company(company, tenant)
    assert p.connection(company)["status"] == "connected"
    post(p, bill_event(company, "third", vendor_id="ven_3"))
    wait_state(p, company, "third", "synced")
    assert not p.documents(company, state="failed")


def test_disconnect_when_not_connected_is_harmless(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    r = p.api("DELETE", "/v1/companies/never-co/xero/connection")
    assert r.status_code == 200 and r.json()["status"] == "not_connected"
    r = p.api("POST", "/v1/companies/never-co/xero/categories/import")
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_connected"
    wait_for(lambda: True, 1, "nothing")
