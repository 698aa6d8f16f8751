"""The read API's queries over the read model (``sync_documents``, ``sync_history``).

Read-only SQL, returning the shapes of ``integration-api.md``; the routes in
``api.py`` check the request and call these. The rows themselves are written
by the projector (``domain/projection.py`` through ``store.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from prometheus_client import Gauge
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

KINDS = ("bill", "receipt", "credit_note")
STATES = ("pending", "waiting", "synced", "failed", "deleted")
DocKey = tuple[str, str]  # (kind, Roger id): the documents' order, and a page's position


@dataclass(frozen=True)
class DocumentsPage:
    documents: list[dict[str, Any]]  # each as ``document_json``
    last: DocKey | None  # where the next page starts after; None if this is the last page


# Links that open a document in Xero for a person signed in to the organisation. Xero's own
# MCP server (XeroAPI/xero-mcp-server, src/consts/deeplinks.ts) links a credit note as
# go.xero.com/organisationlogin/default.aspx?shortcode=S&redirecturl=/AccountsPayable/
# ViewCreditNote.aspx?creditNoteID=..., a bank transaction as /Bank/ViewTransaction.aspx?
# bankTransactionID=...; bills are /AccountsPayable/View.aspx?InvoiceID=... (used bare, without
# a shortcode, by expense tools such as Fyle's). We do not store the organisation's ShortCode
# yet, so these are the bare paths: Xero opens them in the organisation the person last used
# (one public note says a bare link can fail when that is another organisation; the shortcode
# form is the follow-up once the connect flow keeps Organisation.ShortCode).
_XERO_LINKS = {
    "bill": "https://go.xero.com/AccountsPayable/View.aspx?InvoiceID={}",
    "credit_note": "https://go.xero.com/AccountsPayable/ViewCreditNote.aspx?creditNoteID={}",
    "receipt": "https://go.xero.com/Bank/ViewTransaction.aspx?bankTransactionID={}",
}


def xero_url(kind: str, xero_id: str | None) -> str | None:
    """The link that opens the document in Xero (bills are ACCPAY invoices, credit notes
    ACCPAYCREDIT credit notes, receipts SPEND bank transactions), or None before Xero has it."""
    template = _XERO_LINKS.get(kind)
    if not xero_id or template is None:
        return None
    return template.format(quote(xero_id, safe=""))


def document_json(row: dict[str, Any]) -> dict[str, Any]:
    """A ``sync_documents`` row as the API shows it (``updated_at`` in ISO 8601; ``xero_url``
    opens it in Xero, None until Xero has it). Our additions to ``integration-api.md``
    (``domain/projection.py``, ``detail``): ``in_xero`` (what Xero last said of a change
    made there, e.g. ``summary`` "paid in Xero on 2026-11-03 (100.0000)", or None),
    ``conflict`` (both versions while held for a person, or None) and ``roger`` (what
    Roger holds, for reconcile)."""
    extra = row.get("detail") or {}
    return {
        "kind": row["kind"],
        "roger_id": row["roger_id"],
        "state": row["state"],
        "reason": row["reason"],
        "xero_id": row["xero_id"],
        "xero_number": row["xero_number"],
        "xero_url": xero_url(row["kind"], row["xero_id"]),
        "warnings": row["warnings"],
        "payments": row["payments"],
        "updated_at": row["updated_at"].isoformat(),
        "in_xero": extra.get("in_xero"),
        "conflict": extra.get("conflict"),
        "roger": extra.get("roger"),
    }


@dataclass(frozen=True)
class XeroBillsPage:
    """One page of ``xero_bills``; ``last`` is the (created, InvoiceID) to read on after, or
    None on the last page."""

    bills: list[dict[str, Any]]
    last: tuple[datetime, str] | None


async def xero_bills(
    pool: AsyncConnectionPool,
    company_id: str,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> XeroBillsPage:
    """Up to ``limit`` bills the company has in Xero that were made there, not by us
    (``BillCreatedInXero``; one since adopted as a Roger document is left out), newest first
    (Xero's creation time as an instant, else when we heard of it; then InvoiceID), after
    ``after``: each ``{"xero_id", "number", "status", "contact_id", "currency", "date",
    "due_date", "total", "amount_due", "created_at", "xero_url"}``."""
    at, xero_id = after if after is not None else (None, "")
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT bill, created FROM sync_xero_bills b, LATERAL (SELECT coalesce("
            "(b.bill->>'created_at')::timestamptz, b.recorded_at) AS created) k "
            "WHERE company_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM sync_documents d WHERE d.company_id = b.company_id "
            "AND d.xero_id = b.xero_id) "
            "AND (%s::timestamptz IS NULL OR (k.created, b.xero_id) < (%s, %s)) "
            "ORDER BY k.created DESC, b.xero_id DESC LIMIT %s",
            (company_id, at, at, xero_id, limit + 1),
        )
        rows = await cur.fetchall()
    page = rows[:limit]
    bills = [dict(row[0], xero_url=xero_url("bill", row[0].get("xero_id"))) for row in page]
    more = len(rows) > limit
    return XeroBillsPage(bills, (page[-1][1], page[-1][0]["xero_id"]) if more else None)


async def documents(
    pool: AsyncConnectionPool,
    company_id: str,
    *,
    state: str | None,
    kind: str | None,
    after: DocKey,
    limit: int,
) -> DocumentsPage:
    """Up to ``limit`` of the company's documents after ``after`` (("", "") for the first
    page), in (kind, Roger id) order, optionally only those in ``state`` or of ``kind``."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM sync_documents WHERE company_id = %s "
            "AND (%s::text IS NULL OR state = %s) AND (%s::text IS NULL OR kind = %s) "
            "AND (kind, roger_id) > (%s, %s) ORDER BY kind, roger_id LIMIT %s",
            (company_id, state, state, kind, kind, after[0], after[1], limit + 1),
        )
        rows = await cur.fetchall()
    page = rows[:limit]
    more = len(rows) > limit
    return DocumentsPage(
        documents=[document_json(r) for r in page],
        last=(page[-1]["kind"], page[-1]["roger_id"]) if more else None,
    )


async def document_with_history(
    pool: AsyncConnectionPool, company_id: str, kind: str, roger_id: str
) -> dict[str, Any] | None:
    """The document (``document_json``) with ``history``: its entries in order, each with
    ``recorded_at``; None if the company has no such document."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM sync_documents WHERE company_id = %s AND kind = %s AND roger_id = %s",
            (company_id, kind, roger_id),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute(
            "SELECT entry, recorded_at FROM sync_history WHERE company_id = %s AND kind = %s "
            "AND roger_id = %s ORDER BY seq",
            (company_id, kind, roger_id),
        )
        history = [
            dict(h["entry"], recorded_at=h["recorded_at"].isoformat()) for h in await cur.fetchall()
        ]
    return {**document_json(row), "history": history}


@dataclass(frozen=True)
class DocumentState:
    state: str  # one of ``STATES``
    retryable: bool  # the document, or one of its payments, allocation or files, failed
    conflict: bool = False  # held in a conflict with Xero, for a person
    # Its payments by Roger payment id: {"state", "xero_id", "reversed"} (the row's
    # ``payments`` with ``reversed`` from ``detail.roger.payments``).
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    xero_id: str | None = None  # the document in Xero, once made
    gone_in_xero: bool = False  # voided or deleted in Xero (roger.sync-back)


async def document_state(
    pool: AsyncConnectionPool, company_id: str, kind: str, roger_id: str
) -> DocumentState | None:
    """The document's state, whether a retry has something to send, whether it is held
    in a conflict with Xero and its payments, or None if the company has no such document."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT state, retryable, jsonb_typeof(detail->'conflict') = 'object', payments, "
            "detail->'roger'->'payments', xero_id, detail->'in_xero'->>'gone' "
            "FROM sync_documents WHERE company_id = %s AND kind = %s AND roger_id = %s",
            (company_id, kind, roger_id),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    reversed_ = {
        str(p.get("payment_id")) for p in row[4] or [] if isinstance(p, dict) and p.get("reversed")
    }
    payments = {
        str(p["payment_id"]): {
            "state": p.get("state"),
            "xero_id": p.get("xero_id"),
            "reversed": str(p["payment_id"]) in reversed_,
        }
        for p in row[3] or []
        if isinstance(p, dict) and p.get("payment_id") is not None
    }
    return DocumentState(
        str(row[0]), bool(row[1]), bool(row[2]), payments, row[5], row[6] is not None
    )


OLDEST_PENDING = Gauge(
    "rx_documents_oldest_pending_seconds",
    "seconds since the oldest document of any company became pending (0 if none is)",
)


BY_STATE = Gauge("rx_documents", "documents of all companies by kind and state", ["kind", "state"])


async def sample_documents(pool: AsyncConnectionPool) -> None:
    """Sets ``rx_documents_oldest_pending_seconds`` (alert ``RxOldestPendingTooOld``) and
    ``rx_documents{kind, state}``."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT extract(epoch FROM now() - min(state_since)) FROM sync_documents "
            "WHERE state = 'pending'"
        )
        row = await cur.fetchone()
        counts = await (
            await conn.execute("SELECT kind, state, count(*) FROM sync_documents GROUP BY 1, 2")
        ).fetchall()
    OLDEST_PENDING.set(float(row[0]) if row is not None and row[0] is not None else 0.0)
    seen = {(str(kind), str(state)): n for kind, state, n in counts}
    for kind in KINDS:
        for state in STATES:
            BY_STATE.labels(kind, state).set(seen.get((kind, state), 0))


async def summary(pool: AsyncConnectionPool, company_id: str) -> dict[str, Any]:
    """``counts`` (kind -> state -> number of documents, zeros included) and
    ``oldest_pending_age_s`` (seconds since the oldest pending document became pending, or
    None if none is)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT kind, state, count(*) FROM sync_documents WHERE company_id = %s GROUP BY 1, 2",
            (company_id,),
        )
        counts: dict[str, dict[str, int]] = {k: dict.fromkeys(STATES, 0) for k in KINDS}
        for kind, state, n in await cur.fetchall():
            counts.setdefault(kind, dict.fromkeys(STATES, 0))[state] = n
        cur = await conn.execute(
            "SELECT extract(epoch FROM now() - min(state_since)) FROM sync_documents "
            "WHERE company_id = %s AND state = 'pending'",
            (company_id,),
        )
        row = await cur.fetchone()
    oldest = row[0] if row is not None else None
    return {
        "counts": counts,
        "oldest_pending_age_s": float(oldest) if oldest is not None else None,
    }


# Xero's answers that put (part of) a document into Xero; failures, waits, the vendor's
# contact (noted on each of its documents), answers the projector could not place (a
# "note" on the entry) and changes made in Xero ("sync_back_id") are not a sync of it.
_NOT_SYNCED = ("XeroCommandFailed", "XeroCommandWaiting", "XeroContactLinked", "XeroContactUpdated")
MAX_HOURS = 24 * 7


async def synced_per_hour(
    pool: AsyncConnectionPool, company_id: str, hours: int = MAX_HOURS
) -> list[dict[str, Any]]:
    """Documents synced in each of the last ``hours`` whole hours up to and including the
    current one, oldest first: ``[{"hour": ISO 8601 UTC start of the hour, "synced": n}]``,
    zeros included. A document counts once in an hour in which Xero answered one of its
    commands with success (from ``sync_history``; a document changed twice counts in both
    hours)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "WITH hours AS (SELECT generate_series(date_trunc('hour', now()) "
            "  - make_interval(hours => %s - 1), date_trunc('hour', now()), "
            "  interval '1 hour') AS hour), "
            "synced AS (SELECT date_trunc('hour', recorded_at) AS hour, "
            "  count(DISTINCT (kind, roger_id)) AS n FROM sync_history "
            "  WHERE company_id = %s AND recorded_at >= date_trunc('hour', now()) "
            "  - make_interval(hours => %s - 1) AND entry->>'source' = 'xero' "
            "  AND NOT (entry->>'type' = ANY(%s)) AND NOT entry ? 'note' "
            "  AND NOT entry ? 'sync_back_id' GROUP BY 1) "
            "SELECT hours.hour, coalesce(synced.n, 0) FROM hours "
            "LEFT JOIN synced USING (hour) ORDER BY hours.hour",
            (hours, company_id, hours, list(_NOT_SYNCED)),
        )
        rows = await cur.fetchall()
    return [{"hour": hour.astimezone(UTC).isoformat(), "synced": int(n)} for hour, n in rows]
