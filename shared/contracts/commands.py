"""Commands on ``rx.xero-commands.v1``: what the projector asks the writer to do in Xero.

Every command id is derived from what it does (company, document, revision), so
a command decided twice is the same command, and the writer's idempotency key
follows from it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.contracts.ids import Id
from shared.contracts.roger_events import Tracking, Vendor

# What the writer does with a document dated on or before the organisation's lock date
# (Xero's PeriodLockDate / EndOfYearLockDate), chosen per connection at setup: "fail" shows
# the document failed with the lock date and the fix; "next_open_day" posts it on the first
# day after the lock date and says so on the document.
LockDatePolicy = Literal["fail", "next_open_day"]

# The status a new bill or credit note gets in Xero, chosen per connection at setup: Draft
# ("DRAFT"), Awaiting approval ("SUBMITTED") or Awaiting payment ("AUTHORISED", the default).
# Xero takes payments and credit-note allocations on AUTHORISED documents only
# (xero-facts.md): on the others they fail with Xero's words and "approve it in Xero, then
# retry" (services/xero_writer/approval.py).
BillStatus = Literal["DRAFT", "SUBMITTED", "AUTHORISED"]

_NAMESPACE = uuid.UUID("6f1c1f5e-2b0a-4a8e-9d7e-3c1b8f0e7a41")


def command_id(company_id: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join((company_id, *parts))))


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    command_id: Id
    company_id: Id
    tenant_id: Id
    issued_at: datetime
    # The Roger document this command serves, for logs and the read API.
    document_kind: Literal["vendor", "bill", "receipt", "credit_note"]
    document_id: Id  # the Roger id of that document (the vendor's, for contact commands)


class EnsureContact(_Command):
    """Find the vendor's Xero contact, or create it; never two for one vendor."""

    kind: Literal["EnsureContact"] = "EnsureContact"
    vendor: Vendor


class BillLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    quantity: Decimal
    unit_amount: Decimal
    account_code: str
    tax_type: str | None = None
    tracking: tuple[Tracking, ...] = ()


class _DocumentBody(_Command):
    """What Xero is told about a bill or credit note: the same for creating and updating."""

    contact_id: str
    number: str
    issue_date: date
    due_date: date | None = None
    currency: str
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"]
    lines: tuple[BillLine, ...]
    url: str  # unique per Roger document: how the writer recognises one it made
    lock_date_policy: LockDatePolicy = "fail"  # the connection's choice (ConnectionData)
    # The status a new document gets in Xero (the connection's choice, ConnectionData); an
    # update keeps the one the document has in Xero unless this is "AUTHORISED".
    bill_status: BillStatus = "AUTHORISED"
    # Roger's total of the document, as the contract's ``total`` gives it (tax included):
    # the writer checks Xero's ``Total`` against it to the cent. None: not checked.
    total: Decimal | None = None


class CreateBill(_DocumentBody):
    """Create an AUTHORISED ACCPAY invoice (looked up first if an attempt may have landed)."""

    kind: Literal["CreateBill"] = "CreateBill"
    # The bill was voided or deleted in Xero by a person and a person asked for it again
    # (the projector's retry or resend after that): a voided or deleted bill found by its
    # Url is not this command's bill, so a new one is made. False (the default): a gone
    # bill of ours found by Url answers the command (made, then voided at Roger's request:
    # never made again).
    remake_gone: bool = False


class UpdateBill(_DocumentBody):
    """Replace the Xero bill's lines, dates, number and amounts with Roger's latest version."""

    kind: Literal["UpdateBill"] = "UpdateBill"
    invoice_id: str


class VoidBill(_Command):
    kind: Literal["VoidBill"] = "VoidBill"
    invoice_id: str


class CreateCreditNote(_DocumentBody):
    """Create an AUTHORISED ACCPAYCREDIT credit note."""

    kind: Literal["CreateCreditNote"] = "CreateCreditNote"


class AllocateCreditNote(_Command):
    """Allocate the credit note to its bill, up to what is still due on either."""

    kind: Literal["AllocateCreditNote"] = "AllocateCreditNote"
    credit_note_id: str
    invoice_id: str
    amount: Decimal  # the most Roger wants allocated: the credit note's total
    allocated_on: date


class DeleteAllocation(_Command):
    """Undo an allocation made by ``AllocateCreditNote`` (its bill is deleted or edited in
    Roger: Xero voids or edits only a bill with no credit allocated). The credit comes back
    to the credit note; Xero keeps the allocation, marked ``IsDeleted``."""

    kind: Literal["DeleteAllocation"] = "DeleteAllocation"
    credit_note_id: str
    allocation_id: str  # Xero's AllocationID, as ``XeroCreditNoteAllocated`` gave it
    invoice_id: str  # the bill it credited


class CreatePayment(_Command):
    kind: Literal["CreatePayment"] = "CreatePayment"
    payment_id: str
    invoice_id: str
    account_code: str
    paid_on: date
    amount: Decimal | None = None  # None: whatever is still due (a receipt is paid in full)
    currency: str
    reference: str  # unique per Roger payment: how the writer recognises a payment it made


class DeletePayment(_Command):
    kind: Literal["DeletePayment"] = "DeletePayment"
    payment_id: str
    xero_payment_id: str


class UpdateContact(_Command):
    kind: Literal["UpdateContact"] = "UpdateContact"
    contact_id: str
    vendor: Vendor


class UploadAttachment(_Command):
    """Fetch Roger's file, check it, and attach it to the Xero document."""

    kind: Literal["UploadAttachment"] = "UploadAttachment"
    target: Literal["Invoices", "CreditNotes"]
    xero_document_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str


AnyCommand = (
    EnsureContact
    | UpdateContact
    | CreateBill
    | UpdateBill
    | VoidBill
    | CreateCreditNote
    | AllocateCreditNote
    | DeleteAllocation
    | CreatePayment
    | DeletePayment
    | UploadAttachment
)
Command = Annotated[AnyCommand, Field(discriminator="kind")]
COMMAND: TypeAdapter[AnyCommand] = TypeAdapter(Command)


def encode(command: AnyCommand) -> bytes:
    return command.model_dump_json().encode()


def decode(raw: bytes) -> AnyCommand:
    return COMMAND.validate_json(raw)
