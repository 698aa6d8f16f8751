"""The read side of ``integration-api.md``: documents, one document's history, summary, retry."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, Query
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.contracts.domain_events import DomainEvent
from shared.contracts.topics import DOMAIN_EVENTS
from shared.http import ApiError, bearer_guard
from shared.settings import Settings

KINDS = ("bill", "receipt", "credit_note")
STATES = ("pending", "waiting", "synced", "failed", "deleted")
_COMPANY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _company(company_id: str) -> str:
    if not _COMPANY.match(company_id):
        raise ApiError(422, "invalid_company_id", "company_id must match [A-Za-z0-9_-]{1,64}")
    return company_id


def _cursor(kind: str, roger_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, roger_id]).encode()).decode()


def _uncursor(cursor: str) -> tuple[str, str]:
    try:
        kind, roger_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(kind), str(roger_id)
    except (ValueError, TypeError) as exc:
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned") from exc


def _doc(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": row["kind"],
        "roger_id": row["roger_id"],
        "state": row["state"],
        "reason": row["reason"],
        "xero_id": row["xero_id"],
        "xero_number": row["xero_number"],
        "warnings": row["warnings"],
        "payments": row["payments"],
        "updated_at": row["updated_at"].isoformat(),
    }


def read_router(
    settings: Settings, pool: AsyncConnectionPool, producer: AIOKafkaProducer
) -> APIRouter:
    guard = bearer_guard([t.get_secret_value() for t in settings.service_tokens])
    router = APIRouter(prefix="/v1/companies/{company_id}", dependencies=[Depends(guard)])

    @router.get("/documents")
    async def documents(
        company_id: str,
        state: str | None = None,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        _company(company_id)
        if state is not None and state not in STATES:
            raise ApiError(422, "invalid_state", f"state must be one of {', '.join(STATES)}")
        if kind is not None and kind not in KINDS:
            raise ApiError(422, "invalid_kind", f"kind must be one of {', '.join(KINDS)}")
        after = _uncursor(cursor) if cursor else ("", "")
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
        return {
            "documents": [_doc(r) for r in page],
            "next_cursor": _cursor(page[-1]["kind"], page[-1]["roger_id"]) if more else None,
        }

    @router.get("/documents/{kind}/{roger_id}")
    async def document(company_id: str, kind: str, roger_id: str) -> dict[str, Any]:
        _company(company_id)
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT * FROM sync_documents "
                "WHERE company_id = %s AND kind = %s AND roger_id = %s",
                (company_id, kind, roger_id),
            )
            row = await cur.fetchone()
            if row is None:
                raise ApiError(404, "not_found", f"no {kind} {roger_id} for company {company_id}")
            await cur.execute(
                "SELECT entry, recorded_at FROM sync_history WHERE company_id = %s AND kind = %s "
                "AND roger_id = %s ORDER BY seq",
                (company_id, kind, roger_id),
            )
            history = [
                dict(h["entry"], recorded_at=h["recorded_at"].isoformat())
                for h in await cur.fetchall()
            ]
        return {**_doc(row), "history": history}

    @router.post("/documents/{kind}/{roger_id}/retry", status_code=202)
    async def retry(company_id: str, kind: str, roger_id: str) -> dict[str, Any]:
        _company(company_id)
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT state FROM sync_documents "
                "WHERE company_id = %s AND kind = %s AND roger_id = %s",
                (company_id, kind, roger_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise ApiError(404, "not_found", f"no {kind} {roger_id} for company {company_id}")
        if row[0] != "failed":
            raise ApiError(
                409, "not_failed", f"only a failed document can be retried; it is {row[0]}"
            )
        now = datetime.now(UTC)
        fact = DomainEvent(
            event_id=f"retry:{company_id}:{kind}:{roger_id}:{now.timestamp()}",
            type="DocumentRetryRequested",
            company_id=company_id,
            occurred_at=now,
            source="api",
            data={"kind": kind, "roger_id": roger_id},
        )
        await producer.send_and_wait(DOMAIN_EVENTS, fact.to_bytes(), key=company_id.encode())
        return {"retrying": True}

    @router.get("/summary")
    async def summary(company_id: str) -> dict[str, Any]:
        _company(company_id)
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT kind, state, count(*) FROM sync_documents "
                "WHERE company_id = %s GROUP BY 1, 2",
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
            oldest = (await cur.fetchone())[0]  # type: ignore[index]
        return {
            "counts": counts,
            "oldest_pending_age_s": float(oldest) if oldest is not None else None,
        }

    return router
