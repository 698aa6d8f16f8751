"""What failed goes again: with Roger's newer version of it, or with a person's retry.

A refused allocation of a credit note or a file Xero would not take is not stuck:
the credit note's newer version (Roger's correction) or ``POST .../retry`` sends it
again under a new command id; a document whose only failure is such a part shows
``retryable`` in the read model, which is what the retry route checks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.projector.domain.projection import document_row
from services.projector.domain.state import CompanyState
from shared.contracts.commands import AllocateCreditNote, CreateCreditNote, UploadAttachment
from shared.contracts.domain_events import DomainEvent
from tests.support.projector_facts import answer, bill_data, connected, fact, step, vendor

PAPER = vendor("ven_paper", "Nordic Paper Supply ApS")
SCAN = {
    "filename": "credit.pdf",
    "content_type": "application/pdf",
    "size": 2048,
    "sha256": "cd" * 32,
    "url": "https://files.roger.example/credit.pdf",
}


def credit_note(day: int, attachments: list[dict[str, Any]] | None = None) -> DomainEvent:
    data = {
        "credit_note_id": "cn-1",
        "vendor": PAPER,
        "credit_note_number": "CN-1",
        "issue_date": "2026-11-10",
        "currency": "DKK",
        "amount_type": "inclusive",
        "lines": [{"description": "Damaged reams", "quantity": "1", "unit_amount": "5.00"}],
        "total": "5.00",
        "attachments": attachments or [],
        "applies_to_bill_id": "b1",
    }
    return fact("CreditNoteSubmitted", data, day=day)


def credit_note_in_xero(state: CompanyState) -> list[Any]:
    """The bill and the credit note in Xero; returns what the credit note's creation led to."""
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=PAPER), day=2))
    [create_bill] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    step(state, answer(create_bill, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21)))
    [create] = step(state, credit_note(day=3, attachments=[SCAN]))
    assert isinstance(create, CreateCreditNote)
    return step(state, answer(create, "XeroCreditNoteCreated", xero_id="xcn-1"))


def test_a_refused_allocation_goes_again_with_the_credit_notes_newer_version() -> None:
    state = CompanyState("acme")
    commands = credit_note_in_xero(state)
    [allocate] = [c for c in commands if isinstance(c, AllocateCreditNote)]
    step(state, answer(allocate, "XeroCommandFailed", message="Credit note is not AUTHORISED"))
    doc = state.docs[("credit_note", "cn-1")]
    assert doc.allocation is not None and doc.allocation.state == "failed"
    assert document_row("acme", doc)["retryable"] is True

    again = [c for c in step(state, credit_note(day=4)) if isinstance(c, AllocateCreditNote)]

    assert [c.command_id != allocate.command_id for c in again] == [True]


def test_retry_reaches_a_refused_allocation_and_a_refused_file() -> None:
    state = CompanyState("acme")
    commands = credit_note_in_xero(state)
    [allocate] = [c for c in commands if isinstance(c, AllocateCreditNote)]
    [upload] = [c for c in commands if isinstance(c, UploadAttachment)]
    step(state, answer(allocate, "XeroCommandFailed", message="Credit note is not AUTHORISED"))
    step(state, answer(upload, "XeroCommandFailed", message="file could not be fetched"))
    doc = state.docs[("credit_note", "cn-1")]
    assert doc.state == "synced" and document_row("acme", doc)["retryable"] is True

    retried = step(
        state, fact("DocumentRetryRequested", {"kind": "credit_note", "roger_id": "cn-1"})
    )

    assert sorted(c.kind for c in retried) == ["AllocateCreditNote", "UploadAttachment"]
    assert {c.command_id for c in retried}.isdisjoint({allocate.command_id, upload.command_id})
    assert document_row("acme", doc)["retryable"] is False


def test_a_refused_file_goes_again_when_roger_sends_the_document_again() -> None:
    state = CompanyState("acme")
    commands = credit_note_in_xero(state)
    [upload] = [c for c in commands if isinstance(c, UploadAttachment)]
    step(state, answer(upload, "XeroCommandFailed", message="file could not be fetched"))

    again = [
        c
        for c in step(state, credit_note(day=4, attachments=[SCAN]))
        if isinstance(c, UploadAttachment)
    ]

    assert [c.filename for c in again] == ["credit.pdf"]
    assert again[0].command_id != upload.command_id
