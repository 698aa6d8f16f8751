"""Xero's answers to commands, published by the writer on ``rx.xero-results.v1``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.ids import Id

ResultType = Literal[
    "XeroContactLinked",
    "XeroContactUpdated",
    "XeroBillCreated",
    "XeroBillUpdated",
    "XeroBillVoided",
    "XeroCreditNoteCreated",
    "XeroCreditNoteAllocated",  # xero_id: the AllocationID (None when nothing was allocated)
    "XeroAllocationDeleted",  # xero_id: the AllocationID, now IsDeleted in Xero
    "XeroPaymentCreated",
    "XeroPaymentDeleted",
    "XeroAttachmentUploaded",
    "XeroCommandFailed",  # Xero refused: its own message is in ``message``
    "XeroCommandWaiting",  # cannot run now (no connection, needs reconnect): retried later
]


class XeroResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    result_id: Id  # = command_id: one final answer per command
    type: ResultType
    command_id: Id
    command_kind: str
    company_id: Id
    document_kind: str
    document_id: Id
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    xero_id: str | None = None
    xero_number: str | None = None
    xero_total: Decimal | None = None
    xero_status: str | None = None
    amount: Decimal | None = None  # what Xero applied (payments, allocations)
    # A payment in a currency other than the organisation's base currency: Xero's
    # CurrencyRate (units of the payment's currency per one unit of the base currency) and
    # whose rate it is ("roger": sent with the payment; "xero": Xero's day rate).
    currency_rate: Decimal | None = None
    currency_rate_source: Literal["roger", "xero"] | None = None
    message: str | None = None  # Xero's own words: the refusal, or a warning
    # The Xero contact the document went to when it is not the one the command named (that
    # one was merged into it in Xero: MergedToContactID): the vendor's contact from now on.
    contact_id: str | None = None
    # Xero's X-DayLimit-Remaining for the organisation after this command's calls (None: not
    # heard), so the integration page shows the budget the writer actually spends.
    day_calls_remaining: int | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> XeroResult:
        return cls.model_validate_json(raw)
