"""Rebuilding the read model (documents and their histories) from the event store.

The aggregates' events are the truth; the read tables are a view of them. A
rebuild replays each company's events through today's rules and rewrites that
company's rows in one transaction, so readers see the old view or the new one.
Stop the projector first: a rebuild does not take the consumer's place.
"""

from __future__ import annotations

from typing import Any

import psycopg

from services.projector.application import HistoryRow, SyncApplication, history_rows
from services.projector.domain.aggregate import CompanySync
from services.projector.domain.projection import document_row
from services.projector.store import insert_history, upsert_documents, upsert_xero_bills


def _replay(app: SyncApplication, originator_id: Any) -> tuple[CompanySync, list[HistoryRow]]:
    company: CompanySync | None = None
    history: list[HistoryRow] = []
    for event in app.events.get(originator_id):
        stored: Any = event  # eventsourcing's aggregate events: mutate() and timestamp
        company = stored.mutate(company)
        assert company is not None
        history += history_rows(company, stored.timestamp)
        company.state.docs.trim()  # a long history's documents are not all held as objects
    assert company is not None
    return company, history


def rebuild_read_model(
    app: SyncApplication, database_url: str, only: set[str] | None = None
) -> dict[str, int]:
    """Returns the number of documents per company rebuilt."""
    table = "rx_projector_events"
    with psycopg.connect(database_url) as conn:
        ids = [row[0] for row in conn.execute(f"SELECT DISTINCT originator_id FROM {table}")]  # noqa: S608
    rebuilt: dict[str, int] = {}
    for originator_id in ids:
        company, history = _replay(app, originator_id)
        if only and company.company_id not in only:
            continue
        views = [
            document_row(company.company_id, doc, company.state)
            for doc in company.state.docs.values()
        ]
        bills = company.state.xero_bills or {}
        with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM sync_documents WHERE company_id = %s", (company.company_id,))
            cur.execute("DELETE FROM sync_history WHERE company_id = %s", (company.company_id,))
            cur.execute("DELETE FROM sync_xero_bills WHERE company_id = %s", (company.company_id,))
            upsert_documents(cur, views)
            insert_history(cur, history)
            upsert_xero_bills(cur, [(company.company_id, x, b) for x, b in bills.items()])
        rebuilt[company.company_id] = len(views)
    return rebuilt
