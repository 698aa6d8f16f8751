"""A credit note allocated to its bill, then the bill deleted or edited in Roger: end to end.

Xero voids or edits only a bill with no credit allocated to it, so the allocation is
taken off first (``DELETE /CreditNotes/{id}/Allocations/{AllocationID}``, kept by Xero
with ``IsDeleted``). After a deletion the bill is voided and the credit note stays open
in Xero with its whole credit (Roger still holds it: there is no ``credit_note.deleted``
in the contract), shown with a warning; after an edit the bill is updated and the credit
allocated again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.pipeline_documents import amount, company, invoice, send, synced, wait_doc


def allocated(d: dict[str, Any]) -> bool:
    return d["state"] == "synced" and not any("allocation to bill" in w for w in d["warnings"])


def credited_bill(pipeline: Pipeline, c: str) -> None:
    send(
        pipeline,
        ev.bill(c, "b1", [ev.line("Paper", "1", "1000.00")], "1000.00"),
        ev.credit_note(
            c, "cn1", [ev.line("Returned boxes", "1", "300.00")], "300.00", applies_to="b1"
        ),
    )
    wait_doc(pipeline, c, "credit_note", "cn1", allocated, "cn1 allocated")


def test_an_allocated_credit_notes_bill_deleted_is_voided_and_the_credit_stays_open(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    credited_bill(pipeline, c)
    [made] = pipeline.ledger(tenant)["allocations"]
    assert amount(made["Amount"]) == Decimal("300.00") and made["IsDeleted"] is False

    send(pipeline, ev.deleted(c, "b1", day=27))

    wait_doc(pipeline, c, "bill", "b1", lambda d: d["state"] == "deleted", "b1 voided")
    note = wait_doc(
        pipeline,
        c,
        "credit_note",
        "cn1",
        lambda d: any("credit stays open" in w for w in d["warnings"]),
        "cn1 shown open",
    )
    assert note["state"] == "synced", note
    ledger = pipeline.ledger(tenant)
    assert invoice(ledger, "bill", "b1")["Status"] == "VOIDED"
    [gone] = ledger["allocations"]
    assert gone["AllocationID"] == made["AllocationID"] and gone["IsDeleted"] is True
    [credit] = ledger["credit_notes"]
    assert credit["Status"] == "AUTHORISED"
    assert amount(credit["RemainingCredit"]) == Decimal("300.00")


def test_an_allocated_credit_notes_bill_edited_is_updated_and_credited_again(
    pipeline: Pipeline,
) -> None:
    c, tenant = company(pipeline)
    credited_bill(pipeline, c)

    more = [ev.line("Paper, more", "1", "1200.00")]
    send(pipeline, ev.bill(c, "b1", more, "1200.00", type_="bill.updated", day=23))

    def credited_again() -> dict[str, Any] | None:
        ledger = pipeline.ledger(tenant)
        live = [a for a in ledger["allocations"] if not a["IsDeleted"]]
        bill = invoice(ledger, "bill", "b1")
        done = len(live) == 1 and amount(bill["Total"]) == Decimal("1200.00")
        return ledger if done else None

    ledger = wait_for(credited_again, 90, "credit allocated to the updated bill")
    bill = invoice(ledger, "bill", "b1")
    assert amount(bill["AmountCredited"]) == Decimal("300.00")
    assert amount(bill["AmountDue"]) == Decimal("900.00")
    assert [a["IsDeleted"] for a in ledger["allocations"]].count(True) == 1
    wait_doc(pipeline, c, "bill", "b1", synced, "b1 updated")
    wait_doc(pipeline, c, "credit_note", "cn1", allocated, "cn1 allocated again")
