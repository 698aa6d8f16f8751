"""The projector's PostgreSQL tables beside the event store, written in the same transaction.

eventsourcing's process recorder commits the aggregate's new events and the
Kafka position (tracking) atomically; this subclass adds the read model and the
command outbox to that same transaction, so a crash can never leave a decided
command unsent or a document view behind its state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from shared.contracts.topics import XERO_COMMANDS
from shared.messaging import outbox
from shared.messaging.outbox import OutboxRow

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
-- The oldest pending document of all companies, read at every metrics scrape.
CREATE INDEX IF NOT EXISTS sync_documents_pending_since ON sync_documents (state_since)
    WHERE state = 'pending';
-- Whether a retry has anything to send: the document, or a payment, allocation or file, failed.
ALTER TABLE sync_documents ADD COLUMN IF NOT EXISTS retryable BOOLEAN NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS sync_history (
    seq BIGSERIAL PRIMARY KEY,
    company_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    roger_id TEXT NOT NULL,
    entry JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sync_history_by_doc ON sync_history (company_id, kind, roger_id, seq);
-- What Xero says of the document (roger.sync-back), a conflict held for a person, and what
-- Roger holds of it (for reconcile): {"in_xero", "conflict", "roger"}.
ALTER TABLE sync_documents ADD COLUMN IF NOT EXISTS detail JSONB NOT NULL DEFAULT '{}';
-- Records applied ahead of their partition's tracked position (services/projector/
-- fair_reading.py): a re-read from that position skips them. Rows go once it passes them.
CREATE TABLE IF NOT EXISTS rx_projector_ahead (
    name TEXT NOT NULL,
    record_offset BIGINT NOT NULL,
    PRIMARY KEY (name, record_offset)
);
-- Bills made directly in Xero (roger.sync-back BillCreatedInXero), per company.
CREATE TABLE IF NOT EXISTS sync_xero_bills (
    company_id TEXT NOT NULL,
    xero_id TEXT NOT NULL,
    bill JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, xero_id)
);
"""

UPSERT_DOCUMENT = """
INSERT INTO sync_documents
    (company_id, kind, roger_id, state, reason, xero_id, xero_number, warnings, payments,
     retryable, detail, updated_at)
VALUES (%(company_id)s, %(kind)s, %(roger_id)s, %(state)s, %(reason)s, %(xero_id)s,
        %(xero_number)s, %(warnings)s, %(payments)s, %(retryable)s, %(detail)s, now())
ON CONFLICT (company_id, kind, roger_id) DO UPDATE SET
    state = EXCLUDED.state, reason = EXCLUDED.reason, xero_id = EXCLUDED.xero_id,
    xero_number = EXCLUDED.xero_number, warnings = EXCLUDED.warnings,
    payments = EXCLUDED.payments, retryable = EXCLUDED.retryable, detail = EXCLUDED.detail,
    updated_at = now(),
    state_since = CASE WHEN sync_documents.state = EXCLUDED.state
                       THEN sync_documents.state_since ELSE now() END
"""


def upsert_documents(curs: Any, views: Iterable[dict[str, Any]]) -> None:
    rows = [
        dict(
            view,
            warnings=json.dumps(view["warnings"]),
            payments=json.dumps(view["payments"]),
            detail=json.dumps(view.get("detail") or {}, default=str),
        )
        for view in views
    ]
    if rows:
        curs.executemany(UPSERT_DOCUMENT, rows)


UPSERT_XERO_BILL = """
INSERT INTO sync_xero_bills (company_id, xero_id, bill) VALUES (%s, %s, %s)
ON CONFLICT (company_id, xero_id) DO UPDATE SET bill = EXCLUDED.bill, recorded_at = now()
"""


def upsert_xero_bills(curs: Any, rows: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Rows (company_id, InvoiceID, bill as JSON): bills made directly in Xero."""
    params = [(c, x, json.dumps(bill, default=str)) for c, x, bill in rows]
    if params:
        curs.executemany(UPSERT_XERO_BILL, params)


MARK_FAILED = """
INSERT INTO sync_documents (company_id, kind, roger_id, state, reason, retryable)
VALUES (%s, %s, %s, 'failed', %s, true)
ON CONFLICT (company_id, kind, roger_id) DO UPDATE SET
    state = 'failed', reason = EXCLUDED.reason, retryable = true, updated_at = now(),
    state_since = CASE WHEN sync_documents.state = 'failed'
                       THEN sync_documents.state_since ELSE now() END
"""


def mark_failed(curs: Any, rows: Iterable[tuple[str, str, str, str]]) -> None:
    """Rows (company_id, kind, roger_id, reason): those documents show ``failed``, keeping
    the rest of their row (Xero id, payments, warnings)."""
    rows = list(rows)
    if rows:
        curs.executemany(MARK_FAILED, rows)


def insert_history(curs: Any, rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
    params = [
        (company_id, kind, roger_id, json.dumps(entry, default=str))
        for company_id, kind, roger_id, entry in rows
    ]
    if params:
        curs.executemany(
            "INSERT INTO sync_history (company_id, kind, roger_id, entry) VALUES (%s, %s, %s, %s)",
            params,
        )


class ReadModelRecorder(PostgresProcessRecorder):
    """eventsourcing's process recorder, writing in the same transaction (keyword arguments
    of ``Application._record``'s processing event): ``ahead`` and ``ahead_below`` (records
    applied ahead of the tracked position, and the position that now covers them),
    ``documents`` (rows to upsert),
    ``failed`` (documents to mark failed), ``history``, ``outbox`` (command rows),
    ``status`` (``roger.sync-status`` outbox rows), ``xero_bills`` (bills made in Xero),
    ``resend_for`` (companies whose unanswered commands go again) and ``answered``."""

    def _create_table(self, curs: Any) -> None:
        super()._create_table(curs)
        # The same lock as shared.db.ensure_schema: ingest creates the outbox table too.
        curs.execute("SELECT pg_advisory_xact_lock(7261)")
        curs.execute(READ_MODEL_DDL)
        curs.execute(outbox.DDL)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """eventsourcing's ``PostgresApplicationRecorder.insert_events`` (9.5) without its
        ``conn.pipeline()``: libpq's pipeline mode can deadlock when a statement is larger than
        the socket buffers (psycopg issue #685), and the contract allows an 8 MB bill, so one
        large fact stalled the projector, and every company behind it, for good. The same
        statements, in the same transaction, one round trip each."""
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            with conn.cursor() as curs:
                self._insert_stored_events(curs, stored_events, **kwargs)
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        self._insert_rows(curs, **kwargs)

    def applied_ahead(self, name: str) -> list[int]:
        """Offsets of partition ``name`` ("topic:partition") applied ahead of its tracked
        position (``SyncApplication``'s ``ahead`` rows)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute("SELECT record_offset FROM rx_projector_ahead WHERE name = %s", (name,))
            return [row["record_offset"] for row in curs.fetchall()]

    def _insert_rows(self, curs: Any, **kwargs: Any) -> None:
        if ahead := kwargs.get("ahead"):
            curs.executemany(
                "INSERT INTO rx_projector_ahead (name, record_offset) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                ahead,
            )
        if below := kwargs.get("ahead_below"):
            curs.execute(
                "DELETE FROM rx_projector_ahead WHERE name = %s AND record_offset < %s", below
            )
        upsert_documents(curs, kwargs.get("documents", ()))
        upsert_xero_bills(curs, kwargs.get("xero_bills", ()))
        mark_failed(curs, kwargs.get("failed", ()))
        insert_history(curs, kwargs.get("history", ()))
        # Commands decided, in the shared outbox (shared.messaging.outbox), same transaction.
        outbox.add_sync(
            curs,
            (
                OutboxRow(
                    command_id,
                    company_id,
                    XERO_COMMANDS,
                    "command",
                    payload,
                    origin="projector",
                    awaits_answer=True,
                )
                for command_id, company_id, payload in kwargs.get("outbox", ())
            ),
        )
        # What Roger tells the company's admins (roger.sync-status), same transaction.
        outbox.add_sync(curs, kwargs.get("status", ()))
        for company_id in kwargs.get("resend_for", ()):
            outbox.resend_unanswered_sync(curs, company_id)
        outbox.mark_answered_sync(curs, kwargs.get("answered", ()))


class SnapshotRecorder(PostgresAggregateRecorder):
    """eventsourcing's snapshot table, written a row at a time with the state sent as binary.

    eventsourcing inserts an array of its composite type, which psycopg writes as text, escaping
    every byte of the state in Python: seconds for the snapshot of a company with 100,000
    documents (megabytes), while the company's records waited. The same rows, the same
    conflict on a version already stored."""

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %b)"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        curs.executemany(
            statement,
            [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events],
        )
