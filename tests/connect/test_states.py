"""The one-time state and the PKCE verifier: replayed, expired, foreign or tampered is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from services.connections.oauth import challenge
from tests.fixtures.connect import ConnectPipeline


def _status(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


def _replayed_state_is_refused(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant = p.new_organisation("Replay ApS")
    location = p.consent(p.start_connect("replay-co"), [tenant])
    assert p.callback(location).status_code == 303
    again = p.callback(location)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "unknown_state"
    # Nothing left to replay with: the state's row is gone.
    assert p.sql("SELECT count(*) FROM xero_oauth_states")[0][0] == 0


def _expired_state_is_refused(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant = p.new_organisation("Late ApS")
    location = p.consent(p.start_connect("late-co", "https://roger.example/back"), [tenant])
    # Eleven minutes pass at the consent page.
    p.sql("UPDATE xero_oauth_states SET expires_at = now() - interval '1 minute'")
    r = p.callback(location)
    assert r.status_code == 303
    assert _status(r.headers["location"]) == {"status": ["error"], "reason": ["state_expired"]}
    assert p.token_set("late-co") is None
    assert p.connection("late-co")["status"] == "not_connected"


def _state_expires_in_ten_minutes(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    p.start_connect("ttl-co")
    (ttl,) = p.sql("SELECT extract(epoch FROM expires_at - created_at) FROM xero_oauth_states")[0]
    assert 590 <= float(ttl) <= 610


def _foreign_state_is_refused(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant = p.new_organisation("Foreign ApS")
    location = p.consent(p.start_connect("foreign-co"), [tenant])
    code = _status(location)["code"][0]
    # A state we never issued (another deployment's, or made up), with a real code.
    r = p.callback(f"/v1/xero/callback?code={code}&state=not-one-of-ours")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_state"
    r = p.callback(f"/v1/xero/callback?code={code}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_state"
    assert p.token_set("foreign-co") is None


def _pkce_verifier_is_checked(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant = p.new_organisation("Pkce ApS")
    url = p.start_connect("pkce-co", "https://roger.example/back")
    (sealed,) = p.sql("SELECT verifier_ciphertext FROM xero_oauth_states")[0]
    verifier = p.fernet().decrypt(bytes(sealed)).decode()
    # The challenge Xero gets is S256 of the verifier we keep (encrypted) for the exchange.
    assert parse_qs(urlsplit(url).query)["code_challenge"] == [challenge(verifier)]
    assert 43 <= len(verifier) <= 128
    # Swap in a different verifier: Xero refuses the exchange, nothing is stored.
    wrong = p.fernet().encrypt(b"x" * 64)
    p.sql("UPDATE xero_oauth_states SET verifier_ciphertext = %s", (wrong,))
    r = p.callback(p.consent(url, [tenant]))
    assert r.status_code == 303
    assert _status(r.headers["location"]) == {"status": ["error"], "reason": ["invalid_grant"]}
    assert p.token_set("pkce-co") is None


def _declined_consent(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant = p.new_organisation("Declined ApS")
    location = p.consent(p.start_connect("declined-co", "/back"), [tenant], decision="deny")
    r = p.callback(location)
    assert r.status_code == 303
    assert r.headers["location"] == "/back?status=error&reason=access_denied"
    assert p.connection("declined-co")["status"] == "not_connected"


def test_state_rules(connect_pipeline: ConnectPipeline) -> None:
    """One stack for all (each costs half a minute). The order matters: those that read "the"
    state row run when theirs is the only one."""
    _replayed_state_is_refused(connect_pipeline)
    _pkce_verifier_is_checked(connect_pipeline)
    _state_expires_in_ten_minutes(connect_pipeline)
    _expired_state_is_refused(connect_pipeline)
    _foreign_state_is_refused(connect_pipeline)
    _declined_consent(connect_pipeline)
