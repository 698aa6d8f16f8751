"""The Xero client sorts Xero's answers into one taxonomy, and never repeats a secret."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from shared.xero import errors
from shared.xero.client import XeroClient

SECRET_BODY = '{"error": "invalid_client", "error_description": "code s3cr3t-c0de refused"}'


def _client(answer: Callable[[httpx.Request], httpx.Response]) -> XeroClient:
    return XeroClient(
        "https://xero.test/api.xro/2.0",
        "https://xero.test/connect/token",
        "app",
        "app-secret",
        5,
        revoke_url="https://xero.test/connect/revocation",
        identity_url="https://xero.test",
        transport=httpx.MockTransport(answer),
    )


async def _call(answer: Callable[[httpx.Request], httpx.Response]) -> None:
    client = _client(answer)
    try:
        await client.call("GET", "/Contacts", tenant_id="t", access_token="a")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (
            httpx.Response(429, headers={"Retry-After": "17", "X-Rate-Limit-Problem": "minute"}),
            errors.RateLimited,
            "xero_rate_limited",
        ),
        (
            httpx.Response(503, text="The Organisation is Offline"),
            errors.Unavailable,
            "xero_http_503",
        ),
        (
            httpx.Response(401, json={"Title": "errors.Unauthorized"}),
            errors.Unauthorized,
            "xero_unauthorized",
        ),
        (
            httpx.Response(403, json={"Title": "errors.Forbidden"}),
            errors.Forbidden,
            "organisation_not_accessible",
        ),
        (httpx.Response(404, text=""), errors.Refused, "xero_http_404"),
    ],
)
async def test_each_answer_is_one_error_with_a_code(
    response: httpx.Response, error: type[errors.XeroError], code: str
) -> None:
    with pytest.raises(error) as raised:
        await _call(lambda _: response)
    assert raised.value.code == code
    assert str(raised.value) == code


async def test_429_carries_retry_after_and_the_limit_hit() -> None:
    answer = httpx.Response(429, headers={"Retry-After": "17", "X-Rate-Limit-Problem": "day"})
    with pytest.raises(errors.RateLimited) as raised:
        await _call(lambda _: answer)
    assert (raised.value.retry_after_s, raised.value.problem) == (17.0, "day")


async def test_a_refused_batch_keeps_xeros_messages_and_body() -> None:
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Elements": [{"ValidationErrors": [{"Message": "Account code '9' is not valid."}]}],
    }
    with pytest.raises(errors.Refused) as raised:
        await _call(lambda _: httpx.Response(400, json=body))
    assert raised.value.message == "Account code '9' is not valid."
    assert raised.value.body == body


async def test_no_answer_at_all_is_unavailable() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    with pytest.raises(errors.Unavailable) as raised:
        await _call(drop)
    assert raised.value.code == "xero_unreachable"


async def test_a_refused_refresh_token_needs_a_reconnect() -> None:
    client = _client(lambda _: httpx.Response(400, json={"error": "invalid_grant"}))
    with pytest.raises(errors.NeedsReconnect):
        await client.refresh("refresh-token")
    await client.aclose()


async def test_token_endpoint_refusals_carry_only_the_code() -> None:
    client = _client(lambda _: httpx.Response(400, text=SECRET_BODY))
    for attempt in (
        client.refresh("refresh-token"),
        client.exchange_code("s3cr3t-c0de", "verifier", "https://app/cb"),
        client.revoke("refresh-token"),
    ):
        with pytest.raises(errors.Refused) as raised:
            await attempt
        shown = f"{raised.value} {raised.value!r} {raised.value.detail} {raised.value.message}"
        assert raised.value.code == "invalid_client"
        assert "s3cr3t" not in shown and raised.value.body is None
    await client.aclose()


async def test_an_exchange_without_a_refresh_token_is_refused() -> None:
    client = _client(lambda _: httpx.Response(200, json={"access_token": "a", "expires_in": 1800}))
    with pytest.raises(errors.Refused) as raised:
        await client.exchange_code("code", "verifier", "https://app/cb")
    assert raised.value.code == "no_refresh_token"
    await client.aclose()


async def test_connections_are_organisations_only() -> None:
    rows = [
        {"id": "1", "tenantId": "org", "tenantType": "ORGANISATION"},
        {"id": "2", "tenantId": "practice", "tenantType": "PRACTICEMANAGER"},
    ]
    client = _client(lambda _: httpx.Response(200, json=rows))
    assert [r["tenantId"] for r in await client.connections("a")] == ["org"]
    await client.aclose()


async def test_each_call_is_logged_and_counted_with_xeros_correlation_id() -> None:
    from prometheus_client import REGISTRY
    from structlog.testing import capture_logs

    def answer(_: httpx.Request) -> httpx.Response:
        headers = {"Xero-Correlation-Id": "corr-42", "X-DayLimit-Remaining": "4321"}
        return httpx.Response(
            400, json={"Message": "A validation exception occurred"}, headers=headers
        )

    labels = {"endpoint": "Invoices", "method": "PUT", "status": "400"}
    before = REGISTRY.get_sample_value("rx_xero_calls_total", labels) or 0
    client = _client(answer)
    try:
        with capture_logs() as logs, pytest.raises(errors.Refused):
            await client.call("PUT", "/Invoices/abc", tenant_id="t-1", access_token="a")
    finally:
        await client.aclose()
    [line] = [entry for entry in logs if entry["event"] == "xero_call"]
    assert (line["endpoint"], line["status"], line["xero_correlation_id"]) == (
        "Invoices",
        400,
        "corr-42",
    )
    assert REGISTRY.get_sample_value("rx_xero_calls_total", labels) == before + 1
    assert REGISTRY.get_sample_value("rx_xero_day_calls_remaining", {"tenant_id": "t-1"}) == 4321


async def test_if_modified_since_is_sent_and_the_limits_left_are_kept_per_tenant() -> None:
    from datetime import UTC, datetime

    from shared.xero.client import xero_moment

    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        headers = {"X-DayLimit-Remaining": "4321", "X-MinLimit-Remaining": "17"}
        return httpx.Response(200, json={"DateTimeUTC": "/Date(1796022123456)/"}, headers=headers)

    client = _client(answer)
    since = datetime(2026, 11, 30, 7, 0, 1, 250000, tzinfo=UTC)
    try:
        body = await client.call(
            "GET", "/Invoices", tenant_id="Tenant-A", access_token="a", if_modified_since=since
        )
        await client.call("GET", "/Contacts", tenant_id="Tenant-A", access_token="a")
    finally:
        await client.aclose()
    assert asked[0].headers["If-Modified-Since"] == "2026-11-30T07:00:01.250000+00:00"
    assert "If-Modified-Since" not in asked[1].headers
    left = client.remaining["tenant-a"]
    assert (left.day, left.minute) == (4321, 17) and left.observed_at is not None
    assert xero_moment(body["DateTimeUTC"]) == datetime(2026, 11, 30, 7, 2, 3, 456000, tzinfo=UTC)
    assert xero_moment("/Date(1796022123456+0100)/") == xero_moment(body["DateTimeUTC"])
    assert xero_moment("not a date") is None
