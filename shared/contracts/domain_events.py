"""Domain events on ``rx.domain-events.v1``: immutable, versioned facts, keyed by company.

Roger events become domain events one to one (the Roger ``id`` stays the event
id, so duplicates stay recognisable downstream). Connection facts come from the
connect flow (or a test harness) and share the topic, so one company's history
is one ordered stream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.commands import BillStatus, LockDatePolicy
from shared.contracts.ids import Id
from shared.contracts.roger_events import RogerEvent

SCHEMA_VERSION: Literal[1] = 1

ROGER_TYPES: dict[str, str] = {
    "bill.submitted": "BillSubmitted",
    "bill.updated": "BillUpdated",
    "bill.deleted": "BillDeleted",
    "bill.paid": "BillPaid",
    "payment.reversed": "PaymentReversed",
    "credit_note.submitted": "CreditNoteSubmitted",
    "receipt.submitted": "ReceiptSubmitted",
    "vendor.updated": "VendorUpdated",
}

DomainEventType = Literal[
    "BillSubmitted",
    "BillUpdated",
    "BillDeleted",
    "BillPaid",
    "PaymentReversed",
    "CreditNoteSubmitted",
    "ReceiptSubmitted",
    "VendorUpdated",
    "XeroConnectionEstablished",
    "XeroConnectionLost",
    # The connect flow's facts (services/connections), for the connection's history; a
    # disconnect is XeroConnectionLost with reason "disconnected".
    "XeroConnectionAuthorized",
    "XeroOrganisationChosen",
    "XeroConnectionNeedsReconnect",
    "DocumentRetryRequested",
]


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Id
    type: DomainEventType
    company_id: Id
    occurred_at: datetime
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: Literal["http", "kafka", "connect", "api"]
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DomainEvent:
        return cls.model_validate_json(raw)


def from_roger(event: RogerEvent, source: Literal["http", "kafka"]) -> DomainEvent:
    return DomainEvent(
        event_id=event.id,
        type=ROGER_TYPES[event.type],  # type: ignore[arg-type]
        company_id=event.company_id,
        occurred_at=event.occurred_at,
        source=source,
        data=event.data,
    )


class ConnectionData(BaseModel):
    """Data of ``XeroConnectionEstablished``: where and with which defaults a company syncs."""

    tenant_id: str
    organisation_name: str | None = None
    base_currency: str | None = None
    default_account_code: str
    default_payment_account_code: str
    # A document dated on or before the organisation's lock date: "fail" (the default) or
    # "next_open_day" (posted on the first open day, said on the document).
    lock_date_policy: LockDatePolicy = "fail"
    # The status new bills and credit notes get in Xero: "DRAFT", "SUBMITTED" or
    # "AUTHORISED" (the default; payments and allocations need it).
    bill_status: BillStatus = "AUTHORISED"
