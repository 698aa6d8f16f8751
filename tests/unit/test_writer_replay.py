"""A command answered once is answered from the record forever: replays never act twice."""

from __future__ import annotations

from decimal import Decimal

from services.xero_writer.policy import UNAVAILABLE_BACKOFF_S
from shared.contracts.commands import DeletePayment, VoidBill, command_id
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import COMPANY, create_bill, create_payment


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


def _void(invoice_id: str, key: str = "B-1") -> VoidBill:
    return VoidBill(
        command_id=command_id(COMPANY, "void", key),
        company_id=COMPANY,
        tenant_id="fake-tenant",
        issued_at=create_bill("x", "c").issued_at,
        document_kind="bill",
        document_id=key,
        invoice_id=invoice_id,
    )


def _delete(payment_id: str, xero_payment_id: str) -> DeletePayment:
    return DeletePayment(
        command_id=command_id(COMPANY, "delete-payment", payment_id),
        company_id=COMPANY,
        tenant_id="fake-tenant",
        issued_at=create_bill("x", "c").issued_at,
        document_kind="bill",
        document_id="bill",
        payment_id=payment_id,
        xero_payment_id=xero_payment_id,
    )


async def test_a_replayed_command_is_answered_from_its_record_without_calling_xero() -> None:
    w = writer_on(keep_answers=True)
    bill = create_bill("B-1", _contact(w.xero))
    [first] = (await w.run(bill)).values()
    w.xero.calls.clear()

    [again] = (await w.run(bill)).values()

    assert again == first  # the same answer, published again
    assert w.xero.calls == []
    assert len(w.xero.invoices) == 1


async def test_bill_and_payment_undone_at_rogers_request_are_never_made_again() -> None:
    w = writer_on(keep_answers=True)
    bill = create_bill("B-1", _contact(w.xero))
    [made] = (await w.run(bill)).values()
    payment = create_payment(made.xero_id or "", "P-1", Decimal("40"))
    [paid] = (await w.run(payment)).values()
    await w.run(_delete("P-1", paid.xero_id or ""))
    await w.run(_void(made.xero_id or ""))
    w.xero.pass_idempotency_window()  # months later: Xero has forgotten every key
    w.xero.calls.clear()

    replayed = await w.run(bill)
    replayed |= await w.run(payment)

    assert replayed[bill.command_id] == made
    assert replayed[payment.command_id] == paid
    assert [(c.method, c.path) for c in w.xero.calls] == []
    assert [i["Status"] for i in w.xero.invoices.values()] == ["VOIDED"]
    assert [p["Status"] for p in w.xero.payments.values()] == ["DELETED"]


async def test_waiting_is_not_an_answer_the_command_goes_to_xero_again() -> None:
    w = writer_on(keep_answers=True)
    bill = create_bill("B-1", _contact(w.xero))
    w.xero.fail_next(503, times=len(UNAVAILABLE_BACKOFF_S) + 1)  # parked: Xero unavailable

    [parked] = (await w.run(bill)).values()
    [made] = (await w.run(bill)).values()

    assert parked.type == "XeroCommandWaiting"
    assert made.type == "XeroBillCreated"
    assert w.attempts.final == {bill.command_id: made}


async def test_a_refusal_is_final_for_its_command() -> None:
    w = writer_on(keep_answers=True)
    bill = create_bill("B-1", "no-such-contact")
    [refused] = (await w.run(bill)).values()
    w.xero.calls.clear()

    [again] = (await w.run(bill)).values()

    assert refused.type == again.type == "XeroCommandFailed"
    assert w.xero.calls == []


async def test_only_the_commands_without_an_answer_reach_xero() -> None:
    w = writer_on(keep_answers=True)
    contact = _contact(w.xero)
    old, new = create_bill("B-1", contact), create_bill("B-2", contact)
    await w.run(old)
    w.xero.calls.clear()

    results = await w.run(old, new)

    assert {r.type for r in results.values()} == {"XeroBillCreated"}
    [put] = w.xero.calls_to("PUT", "/Invoices")
    assert [e["InvoiceNumber"] for e in put.body["Invoices"]] == ["B-2"]
    assert len(w.xero.invoices) == 2


async def test_a_look_up_sees_a_voided_bill_of_ours_and_makes_no_other() -> None:
    w = writer_on()  # no answer on record: as after a crash between Xero's answer and ours
    bill = create_bill("B-1", _contact(w.xero))
    [made] = (await w.run(bill)).values()
    await w.run(_void(made.xero_id or ""))
    w.xero.pass_idempotency_window()

    [again] = (await w.run(bill)).values()

    assert (again.type, again.xero_id, again.xero_status) == (
        "XeroBillCreated",
        made.xero_id,
        "VOIDED",
    )
    assert [i["Status"] for i in w.xero.invoices.values()] == ["VOIDED"]
