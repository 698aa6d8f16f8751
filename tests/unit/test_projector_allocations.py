"""A credit note's allocation can be taken off its bill again (issue 11, "order of operations").

Xero voids or edits only a bill with no credit allocated to it. So when Roger deletes
or edits a bill that a credit note was allocated to, the projector first takes the
allocation off (``DeleteAllocation``, by the AllocationID Xero gave), then voids or
updates the bill; after an update the credit is allocated again (a new command id),
after a deletion it stays an open credit in Xero, shown on the credit note.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.projector.domain.state import CompanyState
from shared.contracts.commands import (
    AllocateCreditNote,
    AnyCommand,
    CreateCreditNote,
    DeleteAllocation,
    UpdateBill,
    VoidBill,
)
from tests.support.projector_facts import answer, bill_data, connected, fact, step, vendor

PAPER = vendor("ven_paper", "Nordic Paper Supply ApS")


def credit_note(day: int = 3) -> Any:
    data = {
        "credit_note_id": "cn-1",
        "vendor": PAPER,
        "credit_note_number": "CN-1",
        "issue_date": "2026-11-10",
        "currency": "DKK",
        "amount_type": "inclusive",
        "lines": [{"description": "Damaged reams", "quantity": "1", "unit_amount": "5.00"}],
        "total": "5.00",
        "attachments": [],
        "applies_to_bill_id": "b1",
    }
    return fact("CreditNoteSubmitted", data, day=day)


def allocated(state: CompanyState) -> AllocateCreditNote:
    """Bill b1 (21.00) and credit note cn-1 (5.00) in Xero, the credit allocated."""
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=PAPER), day=2))
    [create_bill] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    step(state, answer(create_bill, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21)))
    [create] = step(state, credit_note())
    assert isinstance(create, CreateCreditNote)
    [allocate] = step(state, answer(create, "XeroCreditNoteCreated", xero_id="xcn-1"))
    assert isinstance(allocate, AllocateCreditNote)
    done = answer(allocate, "XeroCreditNoteAllocated", xero_id="alloc-1", amount=Decimal(5))
    assert step(state, done) == []
    return allocate


def only(commands: list[AnyCommand], kind: type) -> Any:
    [command] = commands
    assert isinstance(command, kind), command
    return command


def test_a_deleted_bill_loses_its_credit_first_then_is_voided() -> None:
    state = CompanyState("acme")
    allocated(state)

    remove = only(step(state, fact("BillDeleted", {"bill_id": "b1"}, day=5)), DeleteAllocation)
    assert (remove.credit_note_id, remove.allocation_id, remove.invoice_id) == (
        "xcn-1",
        "alloc-1",
        "inv-1",
    )
    void = only(step(state, answer(remove, "XeroAllocationDeleted", xero_id="alloc-1")), VoidBill)
    assert step(state, answer(void, "XeroBillVoided", xero_id="inv-1")) == []

    bill, note = state.docs[("bill", "b1")], state.docs[("credit_note", "cn-1")]
    assert bill.state == "deleted"
    assert note.allocation is not None and note.allocation.state == "deleted"
    assert note.allocation.xero_id is None
    assert any("credit stays open" in w for w in note.warnings)


def test_an_edited_bill_is_updated_without_its_credit_then_credited_again() -> None:
    state = CompanyState("acme")
    allocate = allocated(state)
    newer = fact("BillUpdated", bill_data("b1", ven=PAPER, total="30.00"), day=6)

    remove = only(step(state, newer), DeleteAllocation)
    update = only(step(state, answer(remove, "XeroAllocationDeleted")), UpdateBill)
    again = only(
        step(state, answer(update, "XeroBillUpdated", xero_id="inv-1", xero_total=Decimal(30))),
        AllocateCreditNote,
    )

    assert again.command_id != allocate.command_id
    note = state.docs[("credit_note", "cn-1")]
    step(state, answer(again, "XeroCreditNoteAllocated", xero_id="alloc-2", amount=Decimal(5)))
    assert note.allocation is not None
    assert (note.allocation.state, note.allocation.xero_id) == ("synced", "alloc-2")


def test_a_refused_removal_shows_on_the_bill_and_goes_again_on_retry() -> None:
    state = CompanyState("acme")
    allocated(state)
    remove = only(step(state, fact("BillDeleted", {"bill_id": "b1"}, day=5)), DeleteAllocation)

    step(state, answer(remove, "XeroCommandFailed", message="The period is locked"))

    bill = state.docs[("bill", "b1")]
    assert bill.state == "failed" and bill.reason is not None
    assert "cn-1" in bill.reason and "The period is locked" in bill.reason
    again = only(
        step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"})),
        DeleteAllocation,
    )
    assert again.command_id != remove.command_id
    void = only(step(state, answer(again, "XeroAllocationDeleted")), VoidBill)
    step(state, answer(void, "XeroBillVoided", xero_id="inv-1"))
    assert bill.state == "deleted"


def test_a_credit_of_nothing_is_allocated_again_once_the_bill_is_raised() -> None:
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=PAPER), day=2))
    [create_bill] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    step(state, answer(create_bill, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21)))
    [create] = step(state, credit_note())
    [allocate] = step(state, answer(create, "XeroCreditNoteCreated", xero_id="xcn-1"))
    step(state, answer(allocate, "XeroCreditNoteAllocated", amount=Decimal(0)))  # nothing due

    update = only(
        step(state, fact("BillUpdated", bill_data("b1", ven=PAPER, total="30.00"), day=6)),
        UpdateBill,  # nothing to take off first
    )
    again = only(
        step(state, answer(update, "XeroBillUpdated", xero_id="inv-1", xero_total=Decimal(30))),
        AllocateCreditNote,
    )
    assert again.command_id != allocate.command_id


def test_a_removal_that_must_wait_holds_the_bill_and_shows_why() -> None:
    state = CompanyState("acme")
    allocated(state)
    remove = only(step(state, fact("BillDeleted", {"bill_id": "b1"}, day=5)), DeleteAllocation)

    waiting = answer(remove, "XeroCommandWaiting", message="Xero is unavailable")
    assert step(state, waiting) == []

    note = state.docs[("credit_note", "cn-1")]
    assert note.allocation is not None
    assert (note.allocation.state, note.allocation.reason) == ("waiting", "Xero is unavailable")
    assert remove.command_id in state.outstanding  # the outbox sends it again, same id
    void = only(step(state, answer(remove, "XeroAllocationDeleted")), VoidBill)
    assert void.invoice_id == "inv-1"


def test_a_second_credit_note_waiting_on_the_bill_is_allocated_once_the_first_is() -> None:
    """Two credit notes for one bill: the second's creation is answered while the first's
    allocation is in flight (it waits: one step at a time per bill); the first's answer
    must free it (it was left waiting for good, a race seen in the pipeline)."""
    state = CompanyState(company_id="co-1")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=PAPER), day=2))
    [create_bill] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    step(state, answer(create_bill, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21)))
    [create_1] = step(state, credit_note())
    second = credit_note(day=4)
    second.data.update(credit_note_id="cn-2", credit_note_number="CN-2")
    [create_2] = step(state, second)
    [allocate_1] = step(state, answer(create_1, "XeroCreditNoteCreated", xero_id="xcn-1"))
    assert isinstance(allocate_1, AllocateCreditNote)
    assert step(state, answer(create_2, "XeroCreditNoteCreated", xero_id="xcn-2")) == []

    freed = step(
        state, answer(allocate_1, "XeroCreditNoteAllocated", xero_id="alloc-1", amount=Decimal(5))
    )

    [allocate_2] = freed
    assert isinstance(allocate_2, AllocateCreditNote) and allocate_2.credit_note_id == "xcn-2"
