"""No token, authorization code or secret in logs, on Kafka or in error responses.

One full run (connect, allow, setup, categories, sync, a refresh, a refused
callback, disconnect); then every log line of the three services, every record
of every topic and every response body our services gave is searched for each
secret that passed through.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from shared.contracts.topics import TOPICS
from tests.fixtures.connect import TOKEN_KEY, ConnectPipeline
from tests.fixtures.pipeline import SERVICE_TOKEN, WEBHOOK_SECRET, wait_for
from tests.support.connect_helpers import bill_event, post, wait_published, wait_state


def _token_values(token_set: dict[str, object] | None) -> set[str]:
    if not token_set:
        return set()
    return {
        str(token_set[k]) for k in ("access_token", "refresh_token", "id_token") if k in token_set
    }


def test_no_secret_leaves_through_logs_kafka_or_errors(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    company = "leak-co"
    tenant = p.new_organisation("Leak ApS")
    secrets: set[str] = {p.client_secret, SERVICE_TOKEN, WEBHOOK_SECRET, TOKEN_KEY}

    # A refused callback first: its error must not echo the code.
    url = p.start_connect(company)
    state = parse_qs(urlsplit(url).query)["state"][0]
    (sealed,) = p.sql("SELECT verifier_ciphertext FROM xero_oauth_states")[0]
    secrets.add(p.fernet().decrypt(bytes(sealed)).decode())
    location = p.consent(url, [tenant])
    code = parse_qs(urlsplit(location).query)["code"][0]
    secrets.add(code)
    refused = p.callback(f"/v1/xero/callback?code={code}&state=forged-{state[:8]}")
    assert refused.status_code == 400
    assert p.callback(location).status_code == 303
    secrets |= _token_values(p.token_set(company))

    r = p.api(
        "PUT",
        f"/v1/companies/{company}/xero/connection",
        json={
            "tenant_id": tenant,
            "default_account_code": "429",
            "default_payment_account_code": "090",
            "import_categories": True,
        },
    )
    assert r.status_code == 200
    post(p, bill_event(company, "leak-1"))
    wait_state(p, company, "leak-1", "synced")

    # A refresh (rotation) during the run, by the writer.
    before = p.token_set(company)
    p.expire_access_token(company)
    post(p, bill_event(company, "leak-2"))
    wait_state(p, company, "leak-2", "synced")
    after = p.token_set(company)
    assert after and before and after["refresh_token"] != before["refresh_token"]
    secrets |= _token_values(after)

    # Handed out by design (in the authorize URL and the setup link), but never logged or sent.
    handed_out = {state, p.setup_link(company).split("session=")[1]}
    assert p.api("POST", f"/v1/companies/{company}/xero/categories/import").status_code == 202
    assert p.api("DELETE", f"/v1/companies/{company}/xero/connection").status_code == 200
    wait_published(p, company, "XeroConnectionLost")
    wait_for(
        lambda: p.sql("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0] == 0,
        30,
        "outbox drained",
    )

    logs = {
        path.name: path.read_text(errors="replace")
        for path in Path(p.env["RX_RUN_DIR"]).glob("*.log")
    }
    assert set(logs) == {"ingest.log", "projector.log", "writer.log"}
    assert "connect_authorized" in logs["ingest.log"]  # the logs are really there
    topics = {
        t.name: b"\n".join(b"%r %r %r" % (k, v, h) for k, v, h in p.records(t.name)).decode(
            errors="replace"
        )
        for t in TOPICS
    }
    assert company in topics["rx.domain-events.v1"] and company in topics["roger.categories"]
    secrets = {s for s in secrets if len(s) >= 8}
    assert len(secrets) >= 10
    for name, text in {**logs, **topics}.items():
        for secret in secrets | handed_out:
            assert secret not in text, f"a secret ({secret[:4]}…) is in {name}"
    for body in p.bodies:
        for secret in secrets:
            assert secret not in body, f"a secret ({secret[:4]}…) is in a response body"
