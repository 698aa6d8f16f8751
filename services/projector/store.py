"""The projector's PostgreSQL tables beside the event store, written in the same transaction.

eventsourcing's process recorder commits the aggregate's new events and the
Kafka position (tracking) atomically; this subclass adds the read model and the
command outbox to that same transaction, so a crash can never leave a decided
command unsent or a document view behind its state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from eventsourcing.postgres import PostgresProcessRecorder

READ_MODEL_DDL = """
CREATE TABLE IF NOT EXISTS sync_documents (
    company_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    roger_id TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    xero_id TEXT,
    xero_number TEXT,
    warnings JSONB NOT NULL DEFAULT '[]',
    payments JSONB NOT NULL DEFAULT '[]',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    state_since TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, kind, roger_id)
);
CREATE INDEX IF NOT EXISTS sync_documents_by_state ON sync_documents (company_id, state, kind);
CREATE TABLE IF NOT EXISTS sync_history (
    seq BIGSERIAL PRIMARY KEY,
    company_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    roger_id TEXT NOT NULL,
    entry JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sync_history_by_doc ON sync_history (company_id, kind, roger_id, seq);
CREATE TABLE IF NOT EXISTS projector_outbox (
    command_id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    payload BYTEA NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    answered_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS projector_outbox_unanswered
    ON projector_outbox (published_at) WHERE answered_at IS NULL;
"""

UPSERT_DOCUMENT = """
INSERT INTO sync_documents
    (company_id, kind, roger_id, state, reason, xero_id, xero_number, warnings, payments,
     updated_at)
VALUES (%(company_id)s, %(kind)s, %(roger_id)s, %(state)s, %(reason)s, %(xero_id)s,
        %(xero_number)s, %(warnings)s, %(payments)s, now())
ON CONFLICT (company_id, kind, roger_id) DO UPDATE SET
    state = EXCLUDED.state, reason = EXCLUDED.reason, xero_id = EXCLUDED.xero_id,
    xero_number = EXCLUDED.xero_number, warnings = EXCLUDED.warnings,
    payments = EXCLUDED.payments, updated_at = now(),
    state_since = CASE WHEN sync_documents.state = EXCLUDED.state
                       THEN sync_documents.state_since ELSE now() END
"""


def upsert_documents(curs: Any, views: Iterable[dict[str, Any]]) -> None:
    for view in views:
        row = dict(
            view, warnings=json.dumps(view["warnings"]), payments=json.dumps(view["payments"])
        )
        curs.execute(UPSERT_DOCUMENT, row)


def insert_history(curs: Any, rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
    for company_id, kind, roger_id, entry in rows:
        curs.execute(
            "INSERT INTO sync_history (company_id, kind, roger_id, entry) VALUES (%s, %s, %s, %s)",
            (company_id, kind, roger_id, json.dumps(entry, default=str)),
        )


class ReadModelRecorder(PostgresProcessRecorder):
    def _create_table(self, curs: Any) -> None:
        super()._create_table(curs)
        curs.execute(READ_MODEL_DDL)

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        upsert_documents(curs, kwargs.get("documents", ()))
        insert_history(curs, kwargs.get("history", ()))
        for command_id, company_id, payload in kwargs.get("outbox", ()):
            curs.execute(
                "INSERT INTO projector_outbox (command_id, company_id, payload) "
                "VALUES (%s, %s, %s) "
                "ON CONFLICT (command_id) DO NOTHING",
                (command_id, company_id, payload),
            )
        for company_id in kwargs.get("resend_for", ()):
            curs.execute(
                "UPDATE projector_outbox SET published_at = NULL "
                "WHERE company_id = %s AND answered_at IS NULL",
                (company_id,),
            )
        for command_id in kwargs.get("answered", ()):
            curs.execute(
                "UPDATE projector_outbox SET answered_at = now() WHERE command_id = %s",
                (command_id,),
            )
