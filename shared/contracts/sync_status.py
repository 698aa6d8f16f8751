"""Records on ``roger.sync-status``: what Roger tells a company's admins about its sync
(docs/contracts/roger-sync-status.md; schema ``roger-sync-status.schema.json``, generated
from ``SyncStatusEvent`` by ``python -m shared.contracts.sync_status``).

Three things happen that a person must act on or know:

- ``document.failed``: Xero refused a document (or one of its payments), with Xero's words
  and, where we know it, the fix; published by the projector with the document's new state.
- ``connection.needs_reconnect``: Xero refused the refresh token (or the stored tokens can
  no longer be opened); published by the token store with the connection's new status.
- ``budget.day_spent``: the organisation's day budget of Xero calls is spent (Xero answered
  429 with ``X-Rate-Limit-Problem: day``, or the writer's own day limiter refused); the
  writer waits until ``resets_at``.

Every record's ``id`` is derived from what happened (uuid5: company, what, which document
and attempt, or which connection episode, or which day), so a replay or a second detection
yields the same id, and the outbox (unique ``message_id``) publishes it once.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SyncStatusType = Literal["document.failed", "connection.needs_reconnect", "budget.day_spent"]

_NAMESPACE = uuid.UUID("0c5f7f52-6e3b-4f0e-93c1-6a2d8f7b9e14")
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs/contracts/roger-sync-status.schema.json"


def status_id(company_id: str, type_: SyncStatusType, *parts: str) -> str:
    """The id of one thing that happened: the same parts always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, "/".join((company_id, type_, *parts))))


class DocumentRef(BaseModel):
    """The Roger document a ``document.failed`` is about (``payment_id``: the payment of a
    bill that failed, when the document itself did not)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["bill", "receipt", "credit_note"]
    roger_id: str
    xero_id: str | None = None
    payment_id: str | None = None


class SyncStatusEvent(BaseModel):
    """One record on ``roger.sync-status`` (key: ``company_id``)."""

    model_config = ConfigDict(frozen=True)

    id: str  # stable: deduplicate on it
    type: SyncStatusType
    company_id: str
    tenant_id: str | None = None  # the Xero organisation, when known
    occurred_at: datetime  # RFC 3339, UTC
    reason: str  # in words: Xero's own, and the fix where we know it
    document: DocumentRef | None = None  # document.failed only
    resets_at: datetime | None = None  # budget.day_spent only: when calls go again

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def document_failed(
    company_id: str,
    tenant_id: str | None,
    document: DocumentRef,
    attempt: int,
    reason: str,
    at: datetime,
) -> SyncStatusEvent:
    """A document (or its payment) failed in this attempt for this reason: one record."""
    parts = (document.kind, document.roger_id, document.payment_id or "", str(attempt), reason)
    return SyncStatusEvent(
        id=status_id(company_id, "document.failed", *parts),
        type="document.failed",
        company_id=company_id,
        tenant_id=tenant_id,
        occurred_at=at,
        reason=reason,
        document=document,
    )


def needs_reconnect(
    company_id: str, tenant_id: str, reason: str, episode: str, at: datetime
) -> SyncStatusEvent:
    """The connection needs a person to connect again; ``episode`` names the connection's
    life that ended (e.g. when its row last changed), so each loss is told once."""
    return SyncStatusEvent(
        id=status_id(company_id, "connection.needs_reconnect", tenant_id, episode),
        type="connection.needs_reconnect",
        company_id=company_id,
        tenant_id=tenant_id,
        occurred_at=at,
        reason=reason,
    )


def day_budget_spent(
    company_id: str, tenant_id: str, day: date, resets_at: datetime, at: datetime
) -> SyncStatusEvent:
    """The organisation's day budget of Xero calls is spent on ``day`` (UTC): once a day."""
    return SyncStatusEvent(
        id=status_id(company_id, "budget.day_spent", tenant_id, day.isoformat()),
        type="budget.day_spent",
        company_id=company_id,
        tenant_id=tenant_id,
        occurred_at=at,
        reason=(
            "the organisation's day budget of Xero API calls is spent: documents wait and "
            f"go on by themselves after {resets_at.isoformat()}"
        ),
        resets_at=resets_at,
    )


def sync_status_schema() -> dict[str, Any]:
    schema = SyncStatusEvent.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "roger-sync-status-v1",
        **schema,
        "title": "What Roger tells a company's admins about its sync (roger.sync-status), "
        "version 1",
        "description": "A document failed, the connection needs reconnecting, or the day's "
        "budget of Xero calls is spent. See roger-sync-status.md.",
    }


def rendered() -> str:
    return json.dumps(sync_status_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(rendered())
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")
