"""Xero's webhook payload (xero_sandbox/spec/xero-webhooks.yaml, ``WebhookEvent``) and the
record we keep of each event on ``rx.xero-notifications.v1``. The poller (``poller.py``)
puts the same records there for the changes it finds, with the document it already read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class XeroEvent(BaseModel):
    """One event of a webhook payload. ``eventDateUtc`` is naive in Xero's answers: UTC."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    resource_url: str = Field(alias="resourceUrl")
    resource_id: str = Field(alias="resourceId")
    event_date_utc: datetime = Field(alias="eventDateUtc")
    event_type: str = Field(alias="eventType")  # CREATE | UPDATE
    event_category: str = Field(alias="eventCategory")  # INVOICE | CONTACT | CREDITNOTE | ...
    tenant_id: str = Field(alias="tenantId")
    tenant_type: Literal["ORGANISATION", "APPLICATION"] = Field(alias="tenantType")
    # Ours, never Xero's: the Invoice or Contact as the poller read it from a list (its
    # lines left out), so the worker does not read it again. None: the worker reads it.
    document: dict[str, Any] | None = None

    @field_validator("event_date_utc")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> XeroEvent:
        return cls.model_validate_json(raw)


class XeroPayload(BaseModel):
    """A whole webhook POST; an empty ``events`` list is Xero's intent-to-receive check."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    events: list[XeroEvent]
    first_event_sequence: int = Field(alias="firstEventSequence")
    last_event_sequence: int = Field(alias="lastEventSequence")
    entropy: str = ""
