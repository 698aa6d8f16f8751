"""A bill voided or deleted in Xero by a person, asked for again by a person (the
projector's retry or resend sends ``CreateBill`` with ``remake_gone``), is made anew: the
gone bill the writer finds by its Url is not taken as the answer (README, "What comes back
from Xero, and conflicts"). Without the flag, a gone bill of ours still answers the command
(made, then voided at Roger's request: never made again)."""

from __future__ import annotations

from shared.contracts.commands import VoidBill, command_id
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import COMPANY, create_bill


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


def _void(invoice_id: str) -> VoidBill:
    return VoidBill(
        command_id=command_id(COMPANY, "void", "B-1"),
        company_id=COMPANY,
        tenant_id="fake-tenant",
        issued_at=create_bill("x", "c").issued_at,
        document_kind="bill",
        document_id="B-1",
        invoice_id=invoice_id,
    )


async def test_a_bill_voided_in_xero_and_asked_for_again_is_made_anew() -> None:
    w = writer_on()
    first = create_bill("B-1", _contact(w.xero))
    [made] = (await w.run(first)).values()
    await w.run(_void(made.xero_id or ""))
    w.xero.pass_idempotency_window()
    # The person's retry: a new attempt (a new command id), the same Url, the flag set.
    again = first.model_copy(
        update={"command_id": command_id(COMPANY, "create", "B-1", "1"), "remake_gone": True}
    )

    [remade] = (await w.run(again)).values()

    assert remade.type == "XeroBillCreated" and remade.xero_id != made.xero_id
    assert remade.xero_status == "AUTHORISED"
    assert sorted(i["Status"] for i in w.xero.invoices.values()) == ["AUTHORISED", "VOIDED"]

    # Asked once more (a crash before the answer): the live bill of that Url answers it.
    w.xero.pass_idempotency_window()
    [replayed] = (await w.run(again)).values()
    assert replayed.xero_id == remade.xero_id
    assert len(w.xero.invoices) == 2


async def test_without_the_flag_a_gone_bill_of_ours_still_answers_the_command() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero))
    [made] = (await w.run(bill)).values()
    await w.run(_void(made.xero_id or ""))
    w.xero.pass_idempotency_window()
    again = bill.model_copy(update={"command_id": command_id(COMPANY, "create", "B-1", "1")})

    [answered] = (await w.run(again)).values()

    assert (answered.xero_id, answered.xero_status) == (made.xero_id, "VOIDED")
    assert len(w.xero.invoices) == 1
