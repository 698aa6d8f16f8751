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

from shared.roger_events import Tracking, Vendor

_NAMESPACE = uuid.UUID("6f1c1f5e-2b0a-4a8e-9d7e-3c1b8f0e7a41")


def command_id(company_id: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join((company_id, *parts))))


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    command_id: str
    company_id: str
    tenant_id: str
    issued_at: datetime
    # The Roger document this command serves, for logs and the read API.
    document_kind: Literal["vendor", "bill", "receipt", "credit_note", "payment"]
    document_id: str


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


class CreateBill(_Command):
    """Create an AUTHORISED ACCPAY invoice (looked up first if an attempt may have landed)."""

    kind: Literal["CreateBill"] = "CreateBill"
    contact_id: str
    invoice_number: str
    issue_date: date
    due_date: date
    currency: str
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"]
    lines: tuple[BillLine, ...]
    url: str  # unique per Roger document: how the writer recognises a bill it made


class CreatePayment(_Command):
    kind: Literal["CreatePayment"] = "CreatePayment"
    payment_id: str
    invoice_id: str
    account_code: str
    paid_on: date
    amount: Decimal
    currency: str
    reference: str  # unique per Roger payment: how the writer recognises a payment it made


Command = Annotated[EnsureContact | CreateBill | CreatePayment, Field(discriminator="kind")]
COMMAND = TypeAdapter(Command)


def encode(command: EnsureContact | CreateBill | CreatePayment) -> bytes:
    return command.model_dump_json().encode()


def decode(raw: bytes) -> EnsureContact | CreateBill | CreatePayment:
    return COMMAND.validate_json(raw)
