"""One bill's money, one step at a time, whatever order Roger's events come in.

Xero refuses to edit or void a bill that has payments, refuses a payment over
what is due or on a bill that is not AUTHORISED, and carries out commands in the
order they reach it. So the projector sends a bill's next money step only once
Xero answered the last: payments leave Xero before the bill is edited or voided
(and come back after an edit), a payment waits visibly for the amount it pays,
a reversal runs before the payment that replaces it. What failed goes again with
Roger's correction or a person's retry; what Xero would book in the wrong
currency, or a payment of nothing, is never sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.projector.domain import decisions, facts
from services.projector.domain.projection import document_row
from services.projector.domain.state import CompanyState, Document
from shared.contracts.commands import (
    AnyCommand,
    CreateBill,
    CreatePayment,
    DeletePayment,
    UpdateBill,
    VoidBill,
)
from shared.contracts.domain_events import DomainEvent
from tests.support.projector_facts import (
    APP,
    NOW,
    answer,
    at,
    bill_data,
    connected,
    fact,
    paid_data,
    step,
    vendor,
)

COURIER = vendor("ven_courier", "Cykelbud Express")


def courier_bill(total: str = "300.00", day: int = 2, **kw: Any) -> dict[str, Any]:
    return bill_data("b-run", ven=COURIER, number="CE-4", total=total, **kw)


def submitted(total: str = "300.00", day: int = 2) -> DomainEvent:
    return fact("BillSubmitted", courier_bill(total), day=day)


def updated(total: str, day: int) -> DomainEvent:
    return fact("BillUpdated", courier_bill(total, description="Deliveries, corrected"), day=day)


def paid(payment_id: str, amount: str, day: int, **kw: Any) -> DomainEvent:
    return fact("BillPaid", paid_data("b-run", payment_id, amount, **kw), day=day)


def reversed_(payment_id: str, day: int) -> DomainEvent:
    data = {"bill_id": "b-run", "payment_id": payment_id, "reason": "returned by the bank"}
    return fact("PaymentReversed", data, day=day)


def the_bill(state: CompanyState) -> Document:
    return state.docs[("bill", "b-run")]


def bill_in_xero(state: CompanyState, total: str = "300.00") -> None:
    step(state, connected())
    [ensure] = step(state, submitted(total))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-courier"))
    assert isinstance(create, CreateBill)
    step(state, answer(create, "XeroBillCreated", xero_id="inv-run", xero_total=Decimal(total)))


def paid_in_xero(state: CompanyState, payment_id: str, amount: str, day: int = 10) -> None:
    [pay] = step(state, paid(payment_id, amount, day))
    assert isinstance(pay, CreatePayment)
    step(
        state,
        answer(pay, "XeroPaymentCreated", xero_id=f"xp-{payment_id}", amount=Decimal(amount)),
    )


def only(commands: list[AnyCommand]) -> AnyCommand:
    assert len(commands) == 1, commands
    return commands[0]


def test_a_newer_version_of_a_paid_bill_removes_the_payment_updates_and_pays_again() -> None:
    state = CompanyState("acme")
    bill_in_xero(state)
    paid_in_xero(state, "p1", "300.00")

    effects = facts.apply_fact(state, updated("300.00", day=12))
    delete = only(decisions.decide(state, effects, NOW, APP))

    assert isinstance(delete, DeletePayment) and delete.xero_payment_id == "xp-p1"
    notes = [entry.get("note", "") for key, entry in effects.history if key == ("bill", "b-run")]
    assert any("Xero refuses edits" in note for note in notes)  # said in its history
    update = only(step(state, answer(delete, "XeroPaymentDeleted", xero_id="xp-p1")))
    assert isinstance(update, UpdateBill)  # only once Xero answered the deletion
    payment = the_bill(state).payments["p1"]
    assert payment.state == "waiting" and payment.xero_id is None

    again = only(step(state, answer(update, "XeroBillUpdated", xero_total=Decimal("300.00"))))

    assert isinstance(again, CreatePayment) and again.amount == Decimal("300.00")
    step(state, answer(again, "XeroPaymentCreated", xero_id="xp-p1-2", amount=Decimal("300")))
    assert (payment.state, payment.xero_id) == ("synced", "xp-p1-2")
    assert the_bill(state).state == "synced" and not state.outstanding


def test_a_payment_of_the_updated_total_waits_for_the_update_instead_of_being_refused() -> None:
    state = CompanyState("acme")
    bill_in_xero(state, total="100.00")

    assert step(state, paid("p1", "150.00", day=12)) == []

    payment = the_bill(state).payments["p1"]
    assert payment.state == "waiting"
    assert "150.00" in (payment.reason or "") and "100.00" in (payment.reason or "")
    update = only(step(state, updated("150.00", day=11)))
    assert isinstance(update, UpdateBill)
    pay = only(step(state, answer(update, "XeroBillUpdated", xero_total=Decimal("150.00"))))
    assert isinstance(pay, CreatePayment) and pay.amount == Decimal("150.00")


def test_a_reversal_runs_before_the_payment_that_replaces_it() -> None:
    state = CompanyState("acme")
    bill_in_xero(state, total="80.00")
    paid_in_xero(state, "p1", "80.00")

    assert step(state, paid("p2", "80.00", day=14, account="091")) == []  # nothing is due
    delete = only(step(state, reversed_("p1", day=13)))

    assert isinstance(delete, DeletePayment)  # and not the new payment in the same breath
    assert the_bill(state).payments["p2"].state == "waiting"
    pay = only(step(state, answer(delete, "XeroPaymentDeleted", xero_id="xp-p1")))
    assert isinstance(pay, CreatePayment) and pay.payment_id == "p2"
    assert pay.account_code == "091"
    assert the_bill(state).payments["p1"].state == "deleted"


def test_deleted_before_reversed_ends_with_the_payment_deleted_and_the_bill_voided() -> None:
    state = CompanyState("acme")
    bill_in_xero(state)
    paid_in_xero(state, "p1", "300.00")

    delete = only(step(state, fact("BillDeleted", {"bill_id": "b-run"}, day=13)))

    assert isinstance(delete, DeletePayment)  # Xero voids only a bill without payments
    void = only(step(state, answer(delete, "XeroPaymentDeleted", xero_id="xp-p1")))
    assert isinstance(void, VoidBill) and void.invoice_id == "inv-run"
    step(state, answer(void, "XeroBillVoided", xero_id="inv-run"))
    assert step(state, reversed_("p1", day=12)) == []  # the reversal, late: nothing left to do

    bill = the_bill(state)
    assert bill.state == "deleted" and bill.payments["p1"].state == "deleted"
    assert not state.outstanding


def test_reversed_then_deleted_ends_the_same() -> None:
    state = CompanyState("acme")
    bill_in_xero(state)
    paid_in_xero(state, "p1", "300.00")

    delete = only(step(state, reversed_("p1", day=12)))
    assert step(state, fact("BillDeleted", {"bill_id": "b-run"}, day=13)) == []  # in flight
    void = only(step(state, answer(delete, "XeroPaymentDeleted", xero_id="xp-p1")))

    assert isinstance(void, VoidBill)
    step(state, answer(void, "XeroBillVoided", xero_id="inv-run"))
    bill = the_bill(state)
    assert bill.state == "deleted" and bill.payments["p1"].state == "deleted"


def test_a_refused_payment_goes_again_with_rogers_corrected_version() -> None:
    state = CompanyState("acme")
    bill_in_xero(state, total="120.00")
    first = only(step(state, paid("p1", "120.00", day=10, account="429")))
    refusal = "Account type is invalid for making a payment to/from"
    step(state, answer(first, "XeroCommandFailed", message=refusal))
    payment = the_bill(state).payments["p1"]
    assert (payment.state, payment.reason) == ("failed", refusal)

    corrected = paid_data("b-run", "p1", "120.00", account="090")
    again = only(step(state, fact("BillPaid", corrected, occurred_at=at(10, 10))))

    assert isinstance(again, CreatePayment) and again.account_code == "090"
    assert again.command_id != first.command_id
    step(state, answer(again, "XeroPaymentCreated", xero_id="xp-1", amount=Decimal("120")))
    assert payment.state == "synced"


def test_a_correction_that_arrives_while_the_first_version_is_in_flight_goes_next() -> None:
    state = CompanyState("acme")
    bill_in_xero(state, total="120.00")
    first = only(step(state, paid("p1", "120.00", day=10, account="429")))
    corrected = paid_data("b-run", "p1", "120.00", account="090")
    assert step(state, fact("BillPaid", corrected, occurred_at=at(10, 10))) == []

    again = only(step(state, answer(first, "XeroCommandFailed", message="Account type")))

    assert isinstance(again, CreatePayment) and again.account_code == "090"


def test_an_older_version_of_a_payment_changes_nothing() -> None:
    state = CompanyState("acme")
    bill_in_xero(state, total="120.00")
    corrected = paid_data("b-run", "p1", "120.00", account="090")
    pay = only(step(state, fact("BillPaid", corrected, occurred_at=at(10, 10))))
    assert step(state, paid("p1", "120.00", day=10, account="429")) == []
    assert isinstance(pay, CreatePayment) and pay.account_code == "090"


def test_retry_reaches_a_failed_payment_of_a_synced_bill() -> None:
    state = CompanyState("acme")
    bill_in_xero(state, total="120.00")
    first = only(step(state, paid("p1", "120.00", day=10, account="429")))
    step(state, answer(first, "XeroCommandFailed", message="Account type is invalid"))
    bill = the_bill(state)
    assert bill.state == "synced" and document_row("acme", bill)["retryable"] is True

    again = only(step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b-run"})))

    assert isinstance(again, CreatePayment) and again.command_id != first.command_id
    assert document_row("acme", bill)["retryable"] is False


def test_a_payment_in_another_currency_is_refused_naming_both_and_never_sent() -> None:
    state = CompanyState("acme")
    step(state, connected())
    eur = {**courier_bill("1000.00"), "currency": "EUR"}
    [ensure] = step(state, fact("BillSubmitted", eur, day=2))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-courier"))
    step(state, answer(create, "XeroBillCreated", xero_id="inv-run", xero_total=Decimal(1000)))

    assert step(state, paid("p1", "746.00", day=10)) == []  # paid_data is in DKK

    payment = the_bill(state).payments["p1"]
    assert payment.state == "failed"
    assert "DKK" in (payment.reason or "") and "EUR" in (payment.reason or "")
    row = document_row("acme", the_bill(state))
    assert row["state"] == "synced" and row["payments"][0]["state"] == "failed"
    assert not state.outstanding


def test_a_zero_total_receipt_takes_no_payment_and_nothing_fails() -> None:
    state = CompanyState("acme")
    step(state, connected())
    receipt = {
        "receipt_id": "r-parking",
        "vendor": COURIER,
        "receipt_number": "GP-0",
        "paid_on": "2026-11-05",
        "currency": "DKK",
        "amount_type": "inclusive",
        "lines": [{"description": "Parking (validated)", "quantity": "1", "unit_amount": "0.00"}],
        "total": "0.00",
        "payment_account_code": None,
        "attachments": [],
    }
    [ensure] = step(state, fact("ReceiptSubmitted", receipt, day=5))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-courier"))

    after = step(
        state,
        answer(create, "XeroBillCreated", xero_id="inv-p", xero_total=Decimal("0.00")),
    )

    assert after == []  # Xero settled it (PAID) itself
    doc = state.docs[("receipt", "r-parking")]
    [payment] = doc.payments.values()
    assert (doc.state, payment.state) == ("synced", "synced")
    assert payment.reason == decisions.SETTLED_BY_XERO
    assert document_row("acme", doc)["retryable"] is False
