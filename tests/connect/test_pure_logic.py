"""The connect flow's pure parts: PKCE, state, redirects, sessions, setup rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.connections import oauth, session
from services.connections.setup_rules import (
    Profile,
    categories_event,
    connection_status,
    setup_problems,
)

KEYS = ["k-new", "k-old"]


def test_pkce_s256_matches_rfc7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_and_state_are_random_and_well_formed() -> None:
    verifiers = {oauth.new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert all(43 <= len(v) <= 128 and set(v) <= allowed for v in verifiers)
    state = oauth.new_state()
    assert len(state) >= 43 and oauth.state_key(state) != state


def test_authorize_url() -> None:
    url = oauth.authorize_url(
        "https://login.example/authorize", "cid", "https://cb", "st", "v" * 50
    )
    q = parse_qs(urlsplit(url).query)
    assert q["response_type"] == ["code"] and q["client_id"] == ["cid"]
    assert q["state"] == ["st"] and q["code_challenge_method"] == ["S256"]
    assert q["code_challenge"] == [oauth.challenge("v" * 50)]
    assert "v" * 50 not in url  # the verifier itself never leaves
    assert set(q["scope"][0].split()) >= {"offline_access", "accounting.invoices"}


def test_expiry() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    pending = oauth.PendingState("c", "v", "/x", oauth.expiry(now, 600), None)
    assert not oauth.expired(pending, now + timedelta(seconds=599))
    assert oauth.expired(pending, now + timedelta(seconds=600))


def test_redirect_after_stays_on_allowed_origins() -> None:
    origins = oauth.allowed_origins("", "https://app.roger.example/some/path") | (
        oauth.allowed_origins("http://127.0.0.1:8080")
    )
    assert origins == {"https://app.roger.example", "http://127.0.0.1:8080"}
    for good in (
        "https://app.roger.example/x?y=1",
        "https://APP.roger.example:443/x",
        "http://127.0.0.1:8080/setup/c",
        "/setup/c",
    ):
        assert oauth.redirect_after_ok(good, origins), good
    for bad in (
        "https://evil.example/x?status=connected",
        "https://app.roger.example.evil.example/x",
        "https://app.roger.example@evil.example/x",
        "http://app.roger.example/x",  # another scheme is another origin
        "https://app.roger.example:8443/x",
        "//evil.example",
        "javascript:alert(1)",
        "/\\evil",
        "/x\nLocation: https://evil.example",
        "ftp://x/y",
        "https:///x",
        "https://app.roger.example:99999/x",
    ):
        assert not oauth.redirect_after_ok(bad, origins), bad
    # Configured origins replace the default; an unparsable entry is dropped.
    assert oauth.allowed_origins("https://a.example, not a url", "https://b.example") == {
        "https://a.example"
    }
    assert oauth.with_status("/a?b=1", "error", "x y") == "/a?b=1&status=error&reason=x+y"


def test_token_claims_are_read_without_trusting_their_shape() -> None:
    import base64
    import json

    body = base64.urlsafe_b64encode(json.dumps({"authentication_event_id": "e1"}).encode())
    assert oauth.token_claims(f"h.{body.decode().rstrip('=')}.s") == {
        "authentication_event_id": "e1"
    }
    assert oauth.token_claims("opaque-token") == {}
    assert oauth.token_claims("a.!!!.c") == {}
    assert oauth.token_claims("a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c") == {}


def test_sessions() -> None:
    now = 10_000
    token = session.issue("co-a", now + 1_000, 3, KEYS)
    assert session.valid_for(token, "co-a", now, KEYS, 3)
    assert not session.valid_for(token, "co-a", now + 1_000, KEYS, 3)  # expired
    assert not session.valid_for(token, "co-b", now, KEYS, 3)  # another company
    assert not session.valid_for(token, "co-a", now, KEYS, 4)  # the connection moved on
    assert session.valid_for(token, "co-a", now, ["k-newer", "k-new"], 3)  # rotation
    assert not session.valid_for(token, "co-a", now, ["other"], 3)
    company, expires, version, nonce, mac = token.split(".")
    assert not session.valid_for(f"co-b.{expires}.{version}.{nonce}.{mac}", "co-b", now, KEYS, 3)
    assert not session.valid_for(f"{company}.99999.{version}.{nonce}.{mac}", "co-a", now, KEYS, 3)
    assert not session.valid_for(f"{company}.{expires}.4.{nonce}.{mac}", "co-a", now, KEYS, 4)
    assert not session.valid_for(None, "co-a", now, KEYS, 3)
    assert not session.valid_for("a.b.c", "co-a", now, KEYS, 3)
    assert not session.valid_for(token + "\n", "co-a", now, KEYS, 3)
    assert not session.valid_for(token.replace(mac, "²" * len(mac)), "co-a", now, KEYS, 3)
    csrf = session.csrf_token(token, KEYS)
    assert session.csrf_ok(token, csrf, KEYS)
    assert not session.csrf_ok(session.issue("co-a", now + 1_000, 3, KEYS), csrf, KEYS)
    assert not session.csrf_ok(token, None, KEYS)
    assert not session.csrf_ok(token, "²", KEYS)


def test_a_session_lives_at_most_thirty_minutes_whatever_it_says() -> None:
    now = 10_000
    # Signed with the real key (as a misconfigured TTL, or a forger with the key, would).
    ten_years = session.issue("co-a", now + 10 * 365 * 86_400, 0, KEYS)
    assert not session.valid_for(ten_years, "co-a", now, KEYS, 0)
    limit = session.issue("co-a", now + session.MAX_SESSION_S, 0, KEYS)
    assert session.valid_for(limit, "co-a", now, KEYS, 0)
    assert not session.valid_for(session.issue("co-a", now + 1801, 0, KEYS), "co-a", now, KEYS, 0)


def test_ids_are_checked_as_whole_strings() -> None:
    from services.connections.setup_rules import company_id_ok, tenant_id_ok

    assert company_id_ok("acme_1-x") and tenant_id_ok("8a0c2f3e-0000-4000-8000-000000000001")
    for bad in ("acme\n", "acme\x00", "", "a" * 65, "a.b", "ac me", "acme\r\n", "٣"):
        assert not company_id_ok(bad), repr(bad)
        assert not tenant_id_ok(bad), repr(bad)


def _account(code: str, type_: str, status: str = "ACTIVE", payments: bool = False) -> dict:
    return {
        "Code": code,
        "Name": code,
        "Type": type_,
        "Status": status,
        "EnablePaymentsToAccount": payments,
        "TaxType": "NONE",
    }


def test_setup_problems() -> None:
    chart = [
        _account("090", "BANK"),
        _account("429", "EXPENSE"),
        _account("493", "EXPENSE", status="ARCHIVED"),
        _account("800", "CURRLIAB", payments=True),
        _account("091", "BANK", status="ARCHIVED"),
    ]
    assert setup_problems(chart, "429", "090") == []
    assert setup_problems(chart, "429", "800") == []  # enabled for payments
    fields = lambda e, p: [x["field"] for x in setup_problems(chart, e, p)]  # noqa: E731
    assert fields("493", "090") == ["default_account_code"]  # archived
    assert fields("090", "090") == ["default_account_code"]  # bank
    assert fields("999", "090") == ["default_account_code"]  # unknown
    assert fields("429", "429") == ["default_payment_account_code"]  # no payments
    assert fields("429", "091") == ["default_payment_account_code"]  # archived
    assert fields("1", "2") == ["default_account_code", "default_payment_account_code"]


def test_categories_event_is_the_whole_chart() -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    chart = [_account("429", "EXPENSE"), {"Name": "no code"}, _account("200", "REVENUE")]
    event = categories_event("co", chart, at)
    assert event["company_id"] == "co" and event["imported_at"] == at.isoformat()
    assert [c["code"] for c in event["categories"]] == ["200", "429"]
    assert set(event["categories"][0]) == {"code", "name", "type", "status", "tax_type"}


def test_connection_status() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    done = Profile("t", "Org", "DKK", "429", "090", now, None, None)
    gone = Profile("t", "Org", "DKK", "429", "090", None, None, now)
    assert connection_status(None, None) == "not_connected"
    assert connection_status("pending_setup", None) == "pending_setup"
    assert connection_status("connected", done) == "connected"
    assert connection_status("connected", gone) == "pending_setup"
    assert connection_status("needs_reconnect", done) == "needs_reconnect"
    assert connection_status(None, gone) == "disconnected"


def test_pages_carry_only_hashed_inline_code() -> None:
    import base64
    import hashlib
    import re

    from services.connections import integration_view, templates
    from services.connections.setup_page import content_security_policy

    csp = content_security_policy("https://login.xero.com")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "form-action 'self' https://login.xero.com" in csp and "unsafe" not in csp
    view = {"status": "connected", "organisation_name": "<b>x</b>"}
    pages = [
        integration_view.integration_page(
            "/setup/c", "t", view, None, integration_view.Budget(None), ""
        ),
        templates.organisation_step("/setup/c", "t", [], None, ""),
        templates.refusal_page("<script>alert(1)</script>"),
        templates.too_large_page(),
    ]
    for page in pages:
        inline = re.findall(r"<(?:script|style)>(.*?)</(?:script|style)>", page, re.S)
        assert len(inline) == 2
        for code in inline:
            digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
        assert not re.search(r"\son[a-z]+=", page)
    assert "<script>alert" not in pages[2] and "<b>x" not in pages[0]


def test_the_picker_preselects_nothing_it_was_not_told_to() -> None:
    from services.connections import templates

    orgs = [
        {"tenant_id": "t1", "name": "One", "base_currency": "DKK"},
        {"tenant_id": "t2", "name": "Two", "base_currency": "EUR"},
    ]
    page = templates.organisation_step("/setup/c", "t", orgs, None, "")
    assert '<option value="" disabled selected>' in page and " required" in page
    assert 'value="t1" selected' not in page and 'value="t2" selected' not in page
    page = templates.organisation_step("/setup/c", "t", orgs[1:], "t2", "")
    assert 'value="t2" selected' in page and 'value=""' not in page


def test_the_integration_page_escapes_what_it_shows_and_runs_only_hashed_scripts() -> None:
    import base64
    import hashlib
    import re

    from services.connections import integration_view
    from services.connections.setup_page import content_security_policy
    from services.connections.sync_status import SyncStatus

    hostile = "</script><script>alert(1)</script>"
    doc: dict[str, Any] = {
        "kind": "bill",
        "roger_id": hostile,
        "state": "failed",
        "reason": "<b>Xero said no</b>",
        "xero_id": None,
        "xero_number": None,
        "xero_url": None,
        "payments": [],
        "updated_at": "2026-11-30T00:00:00+00:00",
    }
    status = SyncStatus(
        counts={"bill": {"failed": 1}},
        oldest_pending_age_s=None,
        failed=[doc],
        waiting=[],
        synced=[dict(doc, state="synced", xero_url="https://go.xero.com/x?a=1&b=2")],
        per_hour=[{"hour": "2026-11-30T00:00:00+00:00", "synced": 1}],
    )
    view = {"status": "connected", "organisation_name": hostile, "tenant_id": "t"}
    page = integration_view.integration_page(
        "/setup/c", "csrf", view, status, integration_view.Budget(4321), ""
    )
    assert hostile not in page and "<b>Xero" not in page and "alert(1)</script>" not in page
    assert 'href="https://go.xero.com/x?a=1&amp;b=2"' in page
    assert 'id="budget-left">4321<' in page and "this service's last call" in page
    heard = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)
    writers = integration_view.integration_page(
        "/setup/c", "csrf", view, status, integration_view.Budget(4100, heard), ""
    )
    assert 'id="budget-left">4100<' in writers and "at 2026-11-30 07:05 UTC" in writers
    csp = content_security_policy("", integration_view.SCRIPT_SOURCES)
    # Inline: only the shared confirm script; served: each pinned by integrity and the CSP.
    inline = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    served = re.findall(r'<script src="/setup-assets/([^"]+)" integrity="([^"]+)">', page)
    assert [name for name, _ in served] == ["chart-4.4.7.umd.js", "integration.js"]
    for name, sri in served:
        body = (integration_view.STATIC / name).read_bytes()
        want = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
        assert sri == want and f"'{want}'" in csp
    assert not re.search(r"\son[a-z]+=", page) and "unsafe" not in csp


def test_xero_links_open_each_kind_and_none_before_xero_has_it() -> None:
    from services.projector.views import xero_url

    assert xero_url("bill", "b-1") == "https://go.xero.com/AccountsPayable/View.aspx?InvoiceID=b-1"
    assert xero_url("credit_note", "c-1") == (
        "https://go.xero.com/AccountsPayable/ViewCreditNote.aspx?creditNoteID=c-1"
    )
    assert xero_url("receipt", "r-1") == (
        "https://go.xero.com/Bank/ViewTransaction.aspx?bankTransactionID=r-1"
    )
    assert xero_url("bill", None) is None and xero_url("bill", "a&b") is not None
    assert "&" not in (xero_url("bill", "a&b") or "")
