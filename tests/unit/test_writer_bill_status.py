"""Issue 16 in the writer: new bills and credit notes get the status chosen at setup
(``bill_status``); a payment or allocation on one Xero has not approved fails with Xero's
words and the fix; a bill not approved is deleted, not voided."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.xero_writer.approval import AWAITS_APPROVAL
from shared.contracts.commands import AllocateCreditNote, UpdateBill, VoidBill, command_id
from tests.support.fake_xero import NOT_AUTHORISED, FakeXero, writer_on
from tests.support.writer_commands import (
    COMPANY,
    ISSUED,
    create_bill,
    create_credit_note,
    create_payment,
)


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


def _head(kind: str, key: str) -> dict[str, object]:
    return {
        "command_id": command_id(COMPANY, kind, key),
        "company_id": COMPANY,
        "tenant_id": "fake-tenant",
        "issued_at": ISSUED,
        "document_id": key,
    }


async def test_a_new_bill_gets_the_status_chosen_at_setup() -> None:
    for status in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        w = writer_on()
        bill = create_bill("B-1", _contact(w.xero)).model_copy(update={"bill_status": status})

        [made] = (await w.run(bill)).values()

        assert (made.type, made.xero_status) == ("XeroBillCreated", status), made
        [invoice] = w.xero.invoices.values()
        assert invoice["Status"] == status


async def test_a_new_credit_note_gets_the_status_chosen_at_setup() -> None:
    w = writer_on()
    note = create_credit_note("CN-1", _contact(w.xero), Decimal("10")).model_copy(
        update={"bill_status": "DRAFT"}
    )

    [made] = (await w.run(note)).values()

    assert (made.type, made.xero_status) == ("XeroCreditNoteCreated", "DRAFT"), made


async def test_the_default_is_awaiting_payment() -> None:
    assert create_bill("B-1", "c-1").bill_status == "AUTHORISED"


async def test_an_update_keeps_the_status_the_bill_has_in_xero() -> None:
    """Under a Draft choice an update sends no Status: a bill the accountant approved
    meanwhile stays approved (Xero never takes it back to Draft)."""
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero)).model_copy(update={"bill_status": "DRAFT"})
    [made] = (await w.run(bill)).values()
    assert made.xero_id
    w.xero.invoices[made.xero_id]["Status"] = "AUTHORISED"  # approved in Xero
    update = UpdateBill(
        **{**bill.model_dump(), **_head("update", "B-1"), "kind": "UpdateBill"},
        invoice_id=made.xero_id,
    )

    [updated] = (await w.run(update)).values()

    assert updated.type == "XeroBillUpdated", updated
    assert w.xero.invoices[made.xero_id]["Status"] == "AUTHORISED"


async def test_a_payment_on_a_draft_bill_fails_with_xeros_words_and_the_fix() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero)).model_copy(update={"bill_status": "DRAFT"})
    [made] = (await w.run(bill)).values()
    assert made.xero_id

    [paid] = (await w.run(create_payment(made.xero_id, "p-1", Decimal("10.00")))).values()

    assert paid.type == "XeroCommandFailed"
    assert paid.message == f"{NOT_AUTHORISED}: {AWAITS_APPROVAL}"
    assert w.xero.invoices[made.xero_id]["Payments"] == []


async def test_a_payment_once_the_bill_is_approved_in_xero_is_made() -> None:
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero)).model_copy(update={"bill_status": "SUBMITTED"})
    [made] = (await w.run(bill)).values()
    assert made.xero_id
    w.xero.invoices[made.xero_id]["Status"] = "AUTHORISED"  # approved in Xero

    [paid] = (await w.run(create_payment(made.xero_id, "p-2", Decimal("10.00")))).values()

    assert paid.type == "XeroPaymentCreated", paid


async def test_an_allocation_to_a_draft_bill_fails_with_the_fix() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    bill = create_bill("B-1", contact).model_copy(update={"bill_status": "DRAFT"})
    [made] = (await w.run(bill)).values()
    [note] = (await w.run(create_credit_note("CN-1", contact, Decimal("30.00")))).values()
    assert made.xero_id and note.xero_id
    allocate = AllocateCreditNote(
        **{**_head("allocate", "CN-1"), "document_kind": "credit_note"},  # type: ignore[arg-type]
        credit_note_id=note.xero_id,
        invoice_id=made.xero_id,
        amount=Decimal("30.00"),
        allocated_on=date(2026, 3, 5),
    )

    [answer] = (await w.run(allocate)).values()

    assert answer.type == "XeroCommandFailed"
    assert answer.message is not None and answer.message.endswith(AWAITS_APPROVAL)
    assert "AUTHORISED" in answer.message


async def test_a_draft_bill_deleted_in_roger_is_deleted_in_xero() -> None:
    """Xero voids approved bills only; a Draft one is deleted instead."""
    w = writer_on()
    bill = create_bill("B-1", _contact(w.xero)).model_copy(update={"bill_status": "DRAFT"})
    [made] = (await w.run(bill)).values()
    assert made.xero_id
    void = VoidBill(
        **{**_head("void", "B-1"), "document_kind": "bill"},  # type: ignore[arg-type]
        invoice_id=made.xero_id,
    )

    [voided] = (await w.run(void)).values()

    assert (voided.type, voided.xero_status) == ("XeroBillVoided", "DELETED"), voided
    assert w.xero.invoices[made.xero_id]["Status"] == "DELETED"
