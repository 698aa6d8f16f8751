"""Facts about Xero connections, recorded in PostgreSQL with the change they describe.

A connection changes state in several processes (ingest's connect flow, the
writer's token refresh); each change inserts its fact here in the same
transaction, and ingest's relay publishes the rows to Kafka in order. So the
token store and the event-sourced history can never disagree, even after a
crash between the database commit and Kafka's ack.

Rows hold no secret: only ids, names and account codes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from shared.contracts.domain_events import DomainEvent, DomainEventType
from shared.contracts.topics import DOMAIN_EVENTS

DDL = """
CREATE TABLE IF NOT EXISTS xero_connection_outbox (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS xero_connection_outbox_unpublished
    ON xero_connection_outbox (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS xero_connection_outbox_by_company
    ON xero_connection_outbox (company_id, seq);
"""


@dataclass(frozen=True)
class OutboxRow:
    event_id: str
    company_id: str
    topic: str
    kind: str  # the domain event type, or "categories"
    payload: bytes


def connection_fact(
    company_id: str, type_: DomainEventType, data: dict[str, Any], at: datetime | None = None
) -> OutboxRow:
    now = at or datetime.now(UTC)
    fact = DomainEvent(
        event_id=str(uuid.uuid4()),
        type=type_,
        company_id=company_id,
        occurred_at=now,
        source="connect",
        data=data,
    )
    return OutboxRow(fact.event_id, company_id, DOMAIN_EVENTS, type_, fact.to_bytes())


def json_row(event_id: str, company_id: str, topic: str, kind: str, body: Any) -> OutboxRow:
    payload = json.dumps(body, separators=(",", ":"), default=str).encode()
    return OutboxRow(event_id, company_id, topic, kind, payload)


async def add(conn: AsyncConnection[Any], *rows: OutboxRow) -> None:
    """Inside the caller's transaction: the facts commit or vanish with its change."""
    for row in rows:
        await conn.execute(
            "INSERT INTO xero_connection_outbox (event_id, company_id, topic, kind, payload) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (row.event_id, row.company_id, row.topic, row.kind, row.payload),
        )
