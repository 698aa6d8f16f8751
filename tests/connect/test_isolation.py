"""One company can never act on another's Xero organisation."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from shared.contracts.commands import EnsureContact, encode
from shared.contracts.roger_events import Vendor
from shared.contracts.topics import XERO_COMMANDS, XERO_RESULTS
from tests.fixtures.connect import ConnectPipeline
from tests.fixtures.pipeline import wait_for

USER_A = "00000000-0000-4000-8000-0000000000aa"
USER_B = "00000000-0000-4000-8000-0000000000bb"


def test_a_cannot_choose_or_read_bs_organisation(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant_a = p.new_organisation("A ApS")
    tenant_b = p.new_organisation("B ApS")
    p.connect_company("co-a", tenant_a, user=USER_A)
    p.connect_company("co-b", tenant_b, user=USER_B)

    body = {
        "tenant_id": tenant_b,
        "default_account_code": "429",
        "default_payment_account_code": "090",
    }
    r = p.api("PUT", "/v1/companies/co-a/xero/connection", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_organisation"
    r = p.api("PUT", "/v1/companies/co-a/xero/organisation", json={"tenant_id": tenant_b})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_organisation"
    r = p.api("GET", f"/v1/companies/co-a/xero/accounts?tenant_id={tenant_b}")
    assert r.status_code == 422
    orgs = p.api("GET", "/v1/companies/co-a/xero/organisations").json()
    assert [o["tenant_id"] for o in orgs] == [tenant_a]
    assert p.connection("co-a")["tenant_id"] == tenant_a  # unchanged by the attempts


def test_a_setup_session_does_not_open_bs_page(connect_pipeline: ConnectPipeline) -> None:
    import httpx

    p = connect_pipeline
    link_a = p.setup_link("co-a")
    session_a = link_a.split("session=")[1]
    r = httpx.get(f"{p.ingest_url}/setup/co-b?session={session_a}", timeout=10)
    assert r.status_code == 401
    r = httpx.get(f"{p.ingest_url}/setup/co-b", cookies={"rx_setup": session_a}, timeout=10)
    assert r.status_code == 401
    for action in ("connect", "organisation", "finish", "categories", "disconnect"):
        r = httpx.post(
            f"{p.ingest_url}/setup/co-b/{action}",
            cookies={"rx_setup": session_a},
            data={"csrf": "x", "tenant_id": "t"},
            timeout=10,
        )
        assert r.status_code == 401, action
    # Its own page opens; a tampered session does not.
    ok = httpx.get(link_a, timeout=10, follow_redirects=True)
    assert ok.status_code == 200 and "Connect to Xero" in ok.text
    forged = session_a[:-2] + ("AA" if not session_a.endswith("AA") else "BB")
    r = httpx.get(f"{p.ingest_url}/setup/co-a?session={forged}", timeout=10)
    assert r.status_code == 401


def test_command_for_a_carrying_bs_tenant_is_refused(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    tenant_a = p.new_organisation("A2 ApS")
    tenant_b = p.new_organisation("B2 ApS")
    p.connect_company("co-a2", tenant_a, user=USER_A)
    p.connect_company("co-b2", tenant_b, user=USER_B)
    contacts_before = len(p.ledger(tenant_b)["contacts"])

    forged = EnsureContact(
        command_id=str(uuid.uuid4()),
        company_id="co-a2",
        tenant_id=tenant_b,
        issued_at=datetime.now(UTC),
        document_kind="vendor",
        document_id="ven_forged",
        vendor=Vendor.model_validate(
            {
                "id": "ven_forged",
                "name": "Forged Vendor",
                "email": None,
                "tax_number": None,
                "country": "DK",
                "address": None,
                "bank_account": None,
            }
        ),
    )
    asyncio.run(_send(p.bootstrap, forged))

    def answer() -> dict[str, object] | None:
        for _key, value, _ in p.records(XERO_RESULTS):
            result = json.loads(value or b"{}")
            if result.get("command_id") == forged.command_id:
                return result  # type: ignore[no-any-return]
        return None

    result = wait_for(answer, 60, "the writer's answer to the forged command")
    assert result["type"] == "XeroCommandFailed"
    assert "not connected" in str(result["message"])
    assert len(p.ledger(tenant_b)["contacts"]) == contacts_before
    names = [c.get("Name") for c in p.ledger(tenant_a)["contacts"]]
    assert "Forged Vendor" not in names


async def _send(bootstrap: str, command: EnsureContact) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(XERO_COMMANDS, encode(command), key=b"co-a2")
    finally:
        await producer.stop()
