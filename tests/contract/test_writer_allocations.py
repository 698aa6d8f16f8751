"""Credit allocations made and taken off by the writer's own operations, on the FakeXero and
on the sandbox (which follows Xero): the AllocationID comes back, taking it off gives the
credit back and frees the bill to be voided, and taking it off twice is no error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from services.xero_writer import contact_ops, document_ops, payment_ops
from shared.contracts.commands import AllocateCreditNote, DeleteAllocation, VoidBill, command_id
from tests.support.gateways import Gateway
from tests.support.writer_commands import (
    COMPANY,
    ISSUED,
    TENANT,
    create_bill,
    create_credit_note,
    ensure_contact,
)


def _head(key: str, kind: str = "credit_note") -> dict[str, Any]:
    return {
        "command_id": command_id(COMPANY, "contract", key),
        "company_id": COMPANY,
        "tenant_id": TENANT,
        "issued_at": ISSUED,
        "document_kind": kind,
        "document_id": "CN-1",
    }


def _live(note: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in note.get("Allocations") or [] if not a.get("IsDeleted")]


async def _note(gateway: Gateway, note_id: str) -> dict[str, Any]:
    [note] = (await gateway.call("GET", f"/CreditNotes/{note_id}"))["CreditNotes"]
    return note  # type: ignore[no-any-return]


async def _invoice(gateway: Gateway, invoice_id: str) -> dict[str, Any]:
    [invoice] = (await gateway.call("GET", f"/Invoices/{invoice_id}"))["Invoices"]
    return invoice  # type: ignore[no-any-return]


async def test_an_allocation_is_taken_off_by_its_id_and_the_bill_can_be_voided(
    gateway: Gateway,
) -> None:
    [contact] = await contact_ops.ensure_contacts(
        gateway.call, [ensure_contact("Nordic Paper Supply ApS")], set()
    )
    contact_id = contact.xero_id or ""
    [bill] = await document_ops.create_bills(gateway.call, [create_bill("B-1", contact_id)], set())
    [note] = await document_ops.create_credit_notes(
        gateway.call, [create_credit_note("CN-1", contact_id, Decimal("30.00"))], set()
    )
    invoice_id, note_id = bill.xero_id or "", note.xero_id or ""

    def allocate(attempt: int) -> AllocateCreditNote:
        return AllocateCreditNote(
            **_head(f"allocate/{attempt}"),
            credit_note_id=note_id,
            invoice_id=invoice_id,
            amount=Decimal("30.00"),
            allocated_on=date(2026, 3, 5),
        )

    made = await payment_ops.allocate_credit_note(gateway.call, allocate(0), False)
    assert made.type == "XeroCreditNoteAllocated" and made.amount == Decimal("30.00")
    assert [a["AllocationID"] for a in _live(await _note(gateway, note_id))] == [made.xero_id]

    remove = DeleteAllocation(
        **_head("unallocate"),
        credit_note_id=note_id,
        allocation_id=made.xero_id or "",
        invoice_id=invoice_id,
    )
    undone = await payment_ops.delete_allocation(gateway.call, remove, False)
    again = await payment_ops.delete_allocation(gateway.call, remove, True)

    assert (undone.type, undone.xero_id) == ("XeroAllocationDeleted", made.xero_id)
    assert again.type == "XeroAllocationDeleted"
    after = await _note(gateway, note_id)
    assert _live(after) == [] and Decimal(str(after["RemainingCredit"])) == Decimal("30.00")
    assert Decimal(str((await _invoice(gateway, invoice_id))["AmountDue"])) == Decimal("100.00")

    # A new attempt credits the bill again; once taken off once more, the bill is voided.
    remade = await payment_ops.allocate_credit_note(gateway.call, allocate(1), False)
    assert remade.type == "XeroCreditNoteAllocated" and remade.xero_id != made.xero_id
    second = remove.model_copy(update={"allocation_id": remade.xero_id or ""})
    await payment_ops.delete_allocation(gateway.call, second, False)
    void = VoidBill(**_head("void", "bill"), invoice_id=invoice_id)
    voided = await document_ops.void_bill(gateway.call, void, False)
    assert voided.type == "XeroBillVoided", voided
    assert (await _invoice(gateway, invoice_id))["Status"] == "VOIDED"
