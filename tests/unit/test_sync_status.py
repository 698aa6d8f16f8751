"""``roger.sync-status`` (issue 16): the contract's schema is the model's, ids are stable,
the projector tells each failure once per attempt, and the writer tells a spent day budget."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import jsonschema

from services.projector.domain import notices
from services.projector.domain.state import CompanyState
from services.xero_writer.limits import OrgLimiter
from services.xero_writer.policy import Policy
from shared.contracts.commands import CreateBill
from shared.contracts.sync_status import (
    SCHEMA_PATH,
    DocumentRef,
    day_budget_spent,
    document_failed,
    needs_reconnect,
    rendered,
    sync_status_schema,
)
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.projector_facts import answer, bill_data, connected, fact, step, vendor
from tests.support.writer_commands import create_bill

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_the_checked_in_schema_is_the_models() -> None:
    assert SCHEMA_PATH.read_text() == rendered(), "run: python -m shared.contracts.sync_status"


def test_every_kind_validates_against_the_schema_and_has_a_stable_id() -> None:
    ref = DocumentRef(kind="bill", roger_id="b1", xero_id="inv-1")
    kinds = [
        lambda at: document_failed("acme", "t-1", ref, 0, "Xero said no", at),
        lambda at: needs_reconnect("acme", "t-1", "Xero refused the refresh token", "e1", at),
        lambda at: day_budget_spent("acme", "t-1", date(2026, 11, 30), at, at),
    ]
    for make in kinds:
        first, again = make(AT), make(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
        jsonschema.validate(json.loads(first.to_bytes()), sync_status_schema())
        assert first.id == again.id  # the same happening, told later: the same id
    other = document_failed("acme", "t-1", ref, 1, "Xero said no", AT)
    assert other.id != document_failed("acme", "t-1", ref, 0, "Xero said no", AT).id


def _refused_bill(state: CompanyState) -> CreateBill:
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=vendor()), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    assert isinstance(create, CreateBill)
    step(state, answer(create, "XeroCommandFailed", message="Account code '999' is not valid"))
    return create


def test_a_refused_document_is_told_once_per_attempt() -> None:
    state = CompanyState("acme")
    _refused_bill(state)

    [told] = notices.failures(state, {("bill", "b1")}, AT)
    assert (told.type, told.tenant_id, told.reason) == (
        "document.failed",
        "tenant-a",
        "Account code '999' is not valid",
    )
    assert told.document == DocumentRef(kind="bill", roger_id="b1")
    [again] = notices.failures(state, {("bill", "b1")}, datetime(2026, 12, 1, tzinfo=UTC))
    assert again.id == told.id

    [create] = step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"}))
    assert isinstance(create, CreateBill)
    assert notices.failures(state, {("bill", "b1")}, AT) == []  # pending again
    step(state, answer(create, "XeroCommandFailed", message="Account code '999' is not valid"))
    [after_retry] = notices.failures(state, {("bill", "b1")}, AT)
    assert after_retry.id != told.id


def test_a_synced_document_is_not_told() -> None:
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=vendor()), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    step(state, answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal("21.00")))
    assert notices.failures(state, {("bill", "b1")}, AT) == []


def _told_writer(xero: FakeXero | None = None) -> tuple[Policy, FakeXero, list[tuple]]:
    w = writer_on(xero)
    told: list[tuple[str, str, float]] = []

    async def day_spent(company_id: str, tenant_id: str, wait_s: float) -> None:
        told.append((company_id, tenant_id, wait_s))

    w.policy._day_spent = day_spent
    return w.policy, w.xero, told


async def test_xeros_day_limit_is_told_with_when_calls_go_again() -> None:
    policy, xero, told = _told_writer()
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    xero.fail_next(429, retry_after_s=3600, problem="day")
    bill = create_bill("B-1", "c-1")

    [made] = await policy.carry_out(bill.company_id, [bill])

    assert made.type == "XeroBillCreated", made  # went on once the pause was over
    assert told == [(bill.company_id, xero.tenant_id, 3600)]


async def test_a_minute_limit_is_not_told() -> None:
    policy, xero, told = _told_writer()
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    xero.fail_next(429, retry_after_s=7, problem="minute")
    bill = create_bill("B-1", "c-1")

    await policy.carry_out(bill.company_id, [bill])

    assert told == []


async def test_our_own_day_limiter_holding_the_organisation_is_told() -> None:
    policy, xero, told = _told_writer()
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    xero.day_budget_wait_s = 120.0
    bill = create_bill("B-1", "c-1")

    await policy.carry_out(bill.company_id, [bill])

    assert told == [(bill.company_id, xero.tenant_id, 120.0)]


async def test_the_limiter_says_how_long_its_day_budget_holds() -> None:
    limiter = OrgLimiter(per_minute=60, concurrent=5, per_day=2)
    assert limiter.day_wait() == 0
    for _ in range(2):
        async with limiter.call():
            pass
    assert 86_000 < limiter.day_wait() <= 86_400
