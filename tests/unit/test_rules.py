"""The projector's sync rules, decided without Kafka, storage or Xero."""

from __future__ import annotations

from decimal import Decimal

from services.projector.domain import decisions, facts
from services.projector.domain.state import CompanyState
from shared.contracts.commands import CreateBill, CreatePayment, EnsureContact
from shared.contracts.domain_events import DomainEvent
from tests.support.projector_facts import (
    answer,
    bill_data,
    connected,
    fact,
    paid_data,
    step,
)


def bill(
    bill_id: str = "b1", day: int = 20, total: str = "21.00", number: str | None = "INV-1"
) -> DomainEvent:
    return fact("BillSubmitted", bill_data(bill_id, number=number, total=total), day=day)


def paid(payment_id: str = "p1", amount: str = "21.00", account: str | None = None) -> DomainEvent:
    return fact(
        "BillPaid", paid_data(payment_id=payment_id, amount=amount, account=account), day=24
    )


CONNECTED = connected()


def test_a_bill_waits_for_the_connection_then_the_contact_then_is_created() -> None:
    state = CompanyState("acme")
    assert step(state, bill()) == []
    assert state.docs[("bill", "b1")].state == "waiting" and "not_connected" in (
        state.docs[("bill", "b1")].reason or ""
    )

    [ensure] = step(state, CONNECTED)
    assert isinstance(ensure, EnsureContact) and ensure.tenant_id == "tenant-a"
    assert state.docs[("bill", "b1")].reason == decisions.WAITING_FOR_CONTACT

    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-1"))
    assert isinstance(create, CreateBill)
    assert create.contact_id == "contact-1"
    assert create.number == "INV-1"
    assert create.line_amount_types == "Inclusive"
    assert [line.account_code for line in create.lines] == ["429"]  # the connection's default
    assert create.url.endswith("/companies/acme/bills/b1")

    assert (
        step(state, answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal("21.00")))
        == []
    )
    assert (
        state.docs[("bill", "b1")].state == "synced"
        and state.docs[("bill", "b1")].xero_id == "inv-1"
    )
    assert state.docs[("bill", "b1")].warnings == []


def connected_bill(state: CompanyState) -> None:
    step(state, CONNECTED)
    [ensure] = step(state, bill())
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-1"))
    step(state, answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal("21.00")))


def test_a_payment_before_its_bill_waits_visibly_and_goes_out_once_the_bill_is_in_xero() -> None:
    state = CompanyState("acme")
    step(state, CONNECTED)
    assert step(state, paid()) == []
    payment = state.docs[("bill", "b1")].payments["p1"]
    assert payment.state == "waiting" and payment.reason == decisions.WAITING_FOR_BILL_EVENT
    [ensure] = step(state, bill())
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    assert payment.reason == decisions.WAITING_FOR_BILL
    [pay] = step(state, answer(create, "XeroBillCreated", xero_id="inv-1"))
    assert isinstance(pay, CreatePayment)
    assert (
        pay.invoice_id == "inv-1" and pay.account_code == "090" and pay.amount == Decimal("21.00")
    )


def test_an_older_version_is_recorded_but_changes_nothing() -> None:
    state = CompanyState("acme")
    step(state, bill(day=22, total="21.00"))
    effects = facts.apply_fact(state, bill(day=21, total="99.00"))
    assert state.docs[("bill", "b1")].data.total == Decimal("21.00")  # type: ignore[union-attr]
    assert "older" in effects.history[0][1]["note"]


def test_a_deleted_bill_is_never_created_whatever_arrives_later() -> None:
    state = CompanyState("acme")
    step(state, CONNECTED)
    assert step(state, fact("BillDeleted", {"bill_id": "b1"}, day=25)) == []
    assert step(state, bill(day=20)) == []
    assert state.docs[("bill", "b1")].state == "deleted"
    assert not state.outstanding


def test_a_reversed_payment_is_never_created_even_if_the_reversal_comes_first() -> None:
    state = CompanyState("acme")
    step(state, fact("PaymentReversed", {"bill_id": "b1", "payment_id": "p1", "reason": "bounced"}))
    connected_bill(state)
    assert step(state, paid()) == []
    assert state.docs[("bill", "b1")].payments["p1"].state == "deleted"


def test_a_duplicate_event_is_applied_once() -> None:
    state = CompanyState("acme")
    connected_bill(state)
    first = paid()
    [pay] = step(state, first)
    assert step(state, first) == []
    assert len([c for c in state.outstanding if c == pay.command_id]) == 1


def test_xero_refusal_is_shown_with_xeros_message_and_retry_sends_a_new_command() -> None:
    state = CompanyState("acme")
    step(state, CONNECTED)
    [ensure] = step(state, bill())
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    message = "Account code '999' is not a valid code for this document."
    step(state, answer(create, "XeroCommandFailed", message=message))
    assert (
        state.docs[("bill", "b1")].state == "failed"
        and state.docs[("bill", "b1")].reason == message
    )
    [again] = step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"}))
    assert isinstance(again, CreateBill) and again.command_id != create.command_id


def test_the_same_decision_gives_the_same_command_id() -> None:
    one, two = CompanyState("acme"), CompanyState("acme")
    for state in (one, two):
        step(state, CONNECTED)
    [a] = step(one, bill())
    [b] = step(two, bill())
    assert a.command_id == b.command_id


def test_exclusive_total_differing_from_xero_is_a_warning() -> None:
    """The command carries Roger's total; the writer compares Xero's with it and says so
    (tests/unit/test_writer_document_totals.py); the document shows what it said."""
    state = CompanyState("acme")
    step(state, CONNECTED)
    [ensure] = step(state, bill(total="21.00"))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    assert isinstance(create, CreateBill) and create.total == Decimal("21.00")
    said = "Xero's total 26.25 differs from Roger's total 21.00"
    step(
        state,
        answer(create, "XeroBillCreated", xero_id="inv", xero_total=Decimal("26.25"), message=said),
    )
    assert state.docs[("bill", "b1")].state == "synced"
    assert state.docs[("bill", "b1")].warnings == [said]


def test_a_command_that_must_wait_stays_outstanding_until_it_can_run() -> None:
    state = CompanyState("acme")
    connected_bill(state)
    [pay] = step(state, paid())
    reason = "needs_reconnect: Xero refused the refresh token"
    assert step(state, answer(pay, "XeroCommandWaiting", message=reason)) == []
    payment = state.docs[("bill", "b1")].payments["p1"]
    assert (payment.state, payment.reason) == ("waiting", reason)
    # Reconnecting decides nothing new: the same command is sent again by the outbox.
    assert step(state, fact("XeroConnectionEstablished", dict(CONNECTED.data), day=25)) == []
    step(state, answer(pay, "XeroPaymentCreated", xero_id="pay-1"))
    assert (payment.state, payment.xero_id) == ("synced", "pay-1")
