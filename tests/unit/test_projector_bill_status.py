"""Issue 16 in the projector: the status new bills get in Xero goes with each document
command; a payment Xero refuses because the bill awaits approval is shown failed with the
fix, and a retry (once approved in Xero) makes it."""

from __future__ import annotations

from decimal import Decimal

from services.projector.domain.state import CompanyState
from services.xero_writer.approval import AWAITS_APPROVAL
from shared.contracts.commands import CreateBill, CreatePayment
from tests.support.projector_facts import (
    answer,
    bill_data,
    connected,
    fact,
    paid_data,
    step,
    vendor,
)

REFUSED = f"Payments can only be made against Authorised documents: {AWAITS_APPROVAL}"


def test_the_bill_status_of_the_connection_goes_with_each_document() -> None:
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=vendor()), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    assert isinstance(create, CreateBill) and create.bill_status == "AUTHORISED"

    chosen = connected(day=12)
    step(state, fact(chosen.type, {**chosen.data, "bill_status": "DRAFT"}, day=12))
    [later] = step(state, fact("BillSubmitted", bill_data("b2", ven=vendor()), day=13))
    assert isinstance(later, CreateBill) and later.bill_status == "DRAFT"


def test_a_payment_on_a_bill_awaiting_approval_fails_with_the_fix_and_is_retried() -> None:
    state = CompanyState("acme")
    chosen = connected()
    step(state, fact(chosen.type, {**chosen.data, "bill_status": "DRAFT"}))
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=vendor()), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    step(
        state,
        answer(
            create,
            "XeroBillCreated",
            xero_id="inv-1",
            xero_total=Decimal("21.00"),
            xero_status="DRAFT",
        ),
    )
    [pay] = step(state, fact("BillPaid", paid_data("b1"), day=11))
    assert isinstance(pay, CreatePayment)

    step(state, answer(pay, "XeroCommandFailed", message=REFUSED))

    [payment] = state.docs[("bill", "b1")].payments.values()
    assert (payment.state, payment.reason) == ("failed", REFUSED)
    [again] = step(
        state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"}, day=12)
    )
    assert isinstance(again, CreatePayment) and again.command_id != pay.command_id
