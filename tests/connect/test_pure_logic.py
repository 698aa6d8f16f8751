"""The connect flow's pure parts: PKCE, state, redirects, sessions, setup rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def test_redirect_after() -> None:
    for good in ("https://app.roger.example/x?y=1", "http://127.0.0.1:8080/setup/c", "/setup/c"):
        assert oauth.redirect_after_ok(good), good
    for bad in ("//evil.example", "javascript:alert(1)", "/\\evil", "ftp://x/y", "https:///x"):
        assert not oauth.redirect_after_ok(bad), bad
    assert oauth.with_status("/a?b=1", "error", "x y") == "/a?b=1&status=error&reason=x+y"


def test_sessions() -> None:
    token = session.issue("co-a", 2_000, KEYS)
    assert session.valid_for(token, "co-a", 1_999, KEYS)
    assert not session.valid_for(token, "co-a", 2_000, KEYS)  # expired
    assert not session.valid_for(token, "co-b", 1_000, KEYS)  # another company
    assert session.valid_for(token, "co-a", 1_000, ["k-newer", "k-new"])  # rotation
    assert not session.valid_for(token, "co-a", 1_000, ["other"])
    company, expires, nonce, mac = token.split(".")
    assert not session.valid_for(f"co-b.{expires}.{nonce}.{mac}", "co-b", 1_000, KEYS)
    assert not session.valid_for(f"{company}.9999.{nonce}.{mac}", "co-a", 1_000, KEYS)
    assert not session.valid_for(None, "co-a", 1_000, KEYS)
    assert not session.valid_for("a.b.c", "co-a", 1_000, KEYS)
    csrf = session.csrf_token(token, KEYS)
    assert session.csrf_ok(token, csrf, KEYS)
    assert not session.csrf_ok(session.issue("co-a", 2_000, KEYS), csrf, KEYS)
    assert not session.csrf_ok(token, None, KEYS)


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
