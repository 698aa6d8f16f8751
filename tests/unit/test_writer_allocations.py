"""Allocations made and taken off again in Xero, safely after a lost answer and on replay.

``AllocateCreditNote`` answers with Xero's AllocationID; ``DeleteAllocation`` takes that
allocation off (``DELETE /CreditNotes/{id}/Allocations/{AllocationID}``). An allocation
taken off is "done, then undone": replaying the command that made it never makes it again.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.contracts.commands import AllocateCreditNote, DeleteAllocation, command_id
from tests.support.fake_xero import FakeXero, WriterHarness, writer_on
from tests.support.writer_commands import COMPANY, ISSUED, create_bill, create_credit_note


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    return "c-1"


def _head(key: str) -> dict[str, object]:
    return {
        "command_id": command_id(COMPANY, key),
        "company_id": COMPANY,
        "tenant_id": "fake-tenant",
        "issued_at": ISSUED,
        "document_kind": "credit_note",
        "document_id": "CN-1",
    }


async def _in_xero(w: WriterHarness) -> tuple[str, str]:
    """Bill B-1 (100.00) and credit note CN-1 (30.00); their Xero ids."""
    contact = _contact(w.xero)
    [bill] = (await w.run(create_bill("B-1", contact))).values()
    [note] = (await w.run(create_credit_note("CN-1", contact, Decimal("30.00")))).values()
    assert bill.xero_id and note.xero_id
    return bill.xero_id, note.xero_id


def _allocate(invoice_id: str, note_id: str, attempt: int = 0) -> AllocateCreditNote:
    return AllocateCreditNote(
        **_head(f"allocate/{attempt}"),  # type: ignore[arg-type]
        credit_note_id=note_id,
        invoice_id=invoice_id,
        amount=Decimal("30.00"),
        allocated_on=date(2026, 3, 5),
    )


def _unallocate(invoice_id: str, note_id: str, allocation_id: str) -> DeleteAllocation:
    return DeleteAllocation(
        **_head(f"unallocate/{allocation_id}"),  # type: ignore[arg-type]
        credit_note_id=note_id,
        allocation_id=allocation_id,
        invoice_id=invoice_id,
    )


async def test_an_allocation_answers_its_id_and_is_taken_off_by_it() -> None:
    w = writer_on()
    invoice_id, note_id = await _in_xero(w)
    [made] = (await w.run(_allocate(invoice_id, note_id))).values()
    assert made.type == "XeroCreditNoteAllocated" and made.amount == Decimal("30.00")
    [allocation] = w.xero.credit_notes[note_id]["Allocations"]
    assert made.xero_id == allocation["AllocationID"]

    [undone] = (await w.run(_unallocate(invoice_id, note_id, made.xero_id or ""))).values()

    assert (undone.type, undone.xero_id) == ("XeroAllocationDeleted", made.xero_id)
    [delete] = w.xero.calls_to("DELETE", f"/CreditNotes/{note_id}/Allocations/{made.xero_id}")
    assert delete.idempotency_key
    assert allocation["IsDeleted"] is True  # kept by Xero, marked deleted
    assert w.xero.credit_notes[note_id]["RemainingCredit"] == Decimal("30.00")
    assert w.xero.invoices[invoice_id]["AmountDue"] == Decimal("100.00")


async def test_a_removal_tried_before_and_landed_is_done_without_another_call() -> None:
    w = writer_on()  # no answer on record: as after a crash between Xero's answer and ours
    invoice_id, note_id = await _in_xero(w)
    [made] = (await w.run(_allocate(invoice_id, note_id))).values()
    remove = _unallocate(invoice_id, note_id, made.xero_id or "")
    await w.run(remove)
    w.xero.pass_idempotency_window()
    w.xero.calls.clear()

    [again] = (await w.run(remove)).values()

    assert again.type == "XeroAllocationDeleted"
    assert [c.method for c in w.xero.calls] == ["GET"]


async def test_an_allocation_taken_off_is_never_made_again_by_a_replay() -> None:
    w = writer_on(keep_answers=True)
    invoice_id, note_id = await _in_xero(w)
    allocate = _allocate(invoice_id, note_id)
    [made] = (await w.run(allocate)).values()
    await w.run(_unallocate(invoice_id, note_id, made.xero_id or ""))
    w.xero.pass_idempotency_window()  # months later: Xero has forgotten every key
    w.xero.calls.clear()

    [replayed] = (await w.run(allocate)).values()

    assert replayed == made
    assert w.xero.calls == []
    assert [a["IsDeleted"] for a in w.xero.credit_notes[note_id]["Allocations"]] == [True]


async def test_a_new_attempt_allocates_again_past_the_one_taken_off() -> None:
    w = writer_on()
    invoice_id, note_id = await _in_xero(w)
    [made] = (await w.run(_allocate(invoice_id, note_id))).values()
    await w.run(_unallocate(invoice_id, note_id, made.xero_id or ""))

    [again] = (await w.run(_allocate(invoice_id, note_id, attempt=1))).values()

    assert again.type == "XeroCreditNoteAllocated" and again.amount == Decimal("30.00")
    assert again.xero_id not in (None, made.xero_id)
    assert [a["IsDeleted"] for a in w.xero.credit_notes[note_id]["Allocations"]] == [True, False]


async def test_a_removal_named_by_an_older_answer_finds_the_allocation_by_its_bill() -> None:
    w = writer_on()
    invoice_id, note_id = await _in_xero(w)
    [made] = (await w.run(_allocate(invoice_id, note_id))).values()

    # Answers recorded before the writer gave the AllocationID named the credit note.
    [undone] = (await w.run(_unallocate(invoice_id, note_id, note_id))).values()

    assert (undone.type, undone.xero_id) == ("XeroAllocationDeleted", made.xero_id)
    assert [a["IsDeleted"] for a in w.xero.credit_notes[note_id]["Allocations"]] == [True]
