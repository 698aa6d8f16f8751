"""What the writer does when Xero says no: 429, 5xx, 401, 403, a refused batch, parking."""

from __future__ import annotations

from shared.contracts.topics import XERO_COMMANDS_DLQ
from shared.xero.errors import NeedsReconnect, Refused, Unavailable
from shared.xero.token_store import NotConnected
from tests.support.fake_xero import TOKEN, FakeTokens, FakeXero, writer_on
from tests.support.writer_commands import create_bill


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


async def test_429_pauses_the_organisation_for_retry_after_then_sends_again() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    w.xero.fail_next(429, retry_after_s=17, problem="minute")

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroBillCreated"
    assert w.xero.pauses == [17]
    # The first call (the look-up for a bill to adopt) is refused; both go again after the pause.
    assert [c.outcome for c in w.xero.calls] == ["RateLimited", "ok", "ok"]
    assert not w.parked


async def test_5xx_backs_off_then_looks_up_before_creating_again() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    w.xero.fail_next(503, times=2, method="PUT")

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroBillCreated"
    assert w.sleeps == [1, 2]
    # A 5xx may have been applied: every attempt reads the contact's bills (to adopt one, or
    # find our own) before creating, so the third finds nothing and creates exactly one.
    assert [(c.method, c.outcome) for c in w.xero.calls] == [
        ("GET", "ok"),
        ("PUT", "Unavailable"),
        ("GET", "ok"),
        ("PUT", "Unavailable"),
        ("GET", "ok"),
        ("PUT", "ok"),
    ]
    assert len(w.xero.invoices) == 1


async def test_xero_down_past_the_retry_budget_parks_the_batch() -> None:
    w = writer_on()
    bills = [create_bill("B-1", _contact(w.xero)), create_bill("B-2", "c-1")]
    w.xero.fail_next(500, times=100)

    results = await w.run(*bills)

    assert w.sleeps == [1, 2, 4, 8, 16, 30]
    assert len(w.xero.calls) == 7
    [(parked_ids, reason)] = w.parked
    assert parked_ids == [b.command_id for b in bills]
    assert reason.startswith("Xero unavailable after 7 attempts")
    for r in results.values():
        assert r.type == "XeroCommandWaiting"
        assert f"parked in {XERO_COMMANDS_DLQ}" in (r.message or "")
    assert not w.xero.invoices


async def test_429_past_the_retry_budget_parks_the_batch() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    w.xero.fail_next(429, times=100, retry_after_s=60)

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroCommandWaiting"
    assert w.parked == [([bill.command_id], "Xero kept answering 429")]
    assert w.xero.pauses == [60] * 7


async def test_401_refreshes_the_token_once_and_sends_again() -> None:
    xero = FakeXero()
    xero.valid_tokens = {"fresh"}  # Xero no longer takes the token we hold
    w = writer_on(xero, FakeTokens(xero.tenant_id, tokens=(TOKEN, "fresh")))
    bill = create_bill("B-1", _contact(xero))

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroBillCreated"
    assert w.tokens.refreshes == 1
    assert [c.outcome for c in xero.calls] == ["Unauthorized", "ok", "ok"]


async def test_a_second_401_makes_the_commands_wait() -> None:
    xero = FakeXero()
    xero.valid_tokens = set()
    w = writer_on(xero, FakeTokens(xero.tenant_id, tokens=(TOKEN, "also-dead")))
    bill = create_bill("B-1", _contact(xero))

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroCommandWaiting"
    assert (result.message or "").startswith("Xero refused our token")
    assert w.tokens.refreshes == 1
    assert len(xero.calls) == 2
    assert not w.parked


async def test_401_and_a_refused_refresh_token_need_a_reconnect() -> None:
    xero = FakeXero()
    xero.valid_tokens = set()
    w = writer_on(xero)
    w.tokens.refusal_on_refresh = NeedsReconnect("acme-dk")

    [result] = (await w.run(create_bill("B-1", _contact(xero)))).values()

    assert result.type == "XeroCommandWaiting"
    assert (result.message or "").startswith("needs_reconnect")


async def test_403_makes_the_commands_wait_without_retrying() -> None:
    w = writer_on()
    w.xero.fail_next(403)

    [result] = (await w.run(create_bill("B-1", _contact(w.xero)))).values()

    assert result.type == "XeroCommandWaiting"
    assert (result.message or "").startswith("Xero refused access to the organisation")
    assert len(w.xero.calls) == 1
    assert not w.parked


async def test_a_refused_batch_is_split_to_find_the_culprit() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    bills = [create_bill(f"B-{n}", contact) for n in range(1, 5)]
    w.xero.unreadable.add("B-3")  # Xero cannot read this one: the whole request is a 400

    results = await w.run(*bills)

    culprit = results[bills[2].command_id]
    assert culprit.type == "XeroCommandFailed"
    assert culprit.message == "The request could not be read"
    others = [results[b.command_id] for b in bills if b is not bills[2]]
    assert {r.type for r in others} == {"XeroBillCreated"}
    assert sorted(i["InvoiceNumber"] for i in w.xero.invoices.values()) == ["B-1", "B-2", "B-4"]
    # One refused batch, then each command alone (looked up first: it was attempted).
    assert len(w.xero.calls_to("PUT", "/Invoices")) == 1 + 4


async def test_no_connection_or_a_dead_grant_makes_the_commands_wait() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    w.tokens.refusal = NotConnected("acme-dk")
    [result] = (await w.run(bill)).values()
    assert result.type == "XeroCommandWaiting"
    assert (result.message or "").startswith("not_connected")

    w.tokens.refusal = NeedsReconnect("acme-dk")
    [result] = (await w.run(bill)).values()
    assert (result.message or "").startswith("needs_reconnect")
    assert not w.xero.calls


async def test_the_token_endpoint_down_parks_the_batch() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    w.tokens.refusal = Unavailable("token endpoint answered 503", status=503)

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroCommandWaiting"
    assert w.parked and w.parked[0][0] == [bill.command_id]


async def test_a_command_for_another_organisation_fails_and_the_rest_go_through() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    mine = create_bill("B-1", contact)
    foreign = create_bill("B-2", contact, tenant="someone-elses-tenant")

    results = await w.run(mine, foreign)

    assert results[mine.command_id].type == "XeroBillCreated"
    assert results[foreign.command_id].type == "XeroCommandFailed"
    assert [i["InvoiceNumber"] for i in w.xero.invoices.values()] == ["B-1"]


async def test_a_refused_refresh_other_than_invalid_grant_makes_the_commands_wait() -> None:
    w = writer_on()
    w.tokens.refusal = Refused(
        401, "token endpoint refused: invalid_client", None, code="invalid_client"
    )

    [result] = (await w.run(create_bill("B-1", _contact(w.xero)))).values()

    assert result.type == "XeroCommandWaiting"
    assert result.message == "Xero's token endpoint refused the refresh: invalid_client"
    assert not w.xero.calls and not w.parked
