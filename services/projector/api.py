"""The read side of ``integration-api.md``: documents, one document's history, summary, retry.

Our additions (README, "What comes back from Xero"): each document's ``in_xero``,
``conflict`` and ``roger`` fields, ``GET .../xero-bills`` (bills made in Xero) and
``POST .../resend`` (``roger-xero reconcile --fix``).

Routes only: each checks its request and calls a query of ``views.py``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, Query
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from services.projector import views
from shared.contracts.domain_events import DomainEvent
from shared.contracts.topics import DOMAIN_EVENTS
from shared.http import ApiError, bearer_guard
from shared.settings import ProjectorSettings

_COMPANY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _company(company_id: str) -> str:
    if not _COMPANY.match(company_id):
        raise ApiError(422, "invalid_company_id", "company_id must match [A-Za-z0-9_-]{1,64}")
    return company_id


# A Roger id as our topics carry it (shared.contracts.ids): printable, 1 to 512 characters.
_ROGER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,512}$")


def _document(kind: str, roger_id: str) -> None:
    """422 naming the part of the path that can never name a document (PostgreSQL text cannot
    even hold a NUL, so such an id would fail the query instead of finding nothing)."""
    if kind not in views.KINDS:
        raise ApiError(422, "invalid_kind", f"kind must be one of {', '.join(views.KINDS)}")
    if not _ROGER_ID.match(roger_id):
        raise ApiError(422, "invalid_roger_id", "roger_id must be 1 to 512 printable characters")


def _cursor(first: str, second: str) -> str:
    """A page's ``next_cursor``: the two texts of the key to read on after."""
    return base64.urlsafe_b64encode(json.dumps([first, second]).encode()).decode()


def _key_of(cursor: str) -> tuple[str, str]:
    """The two texts of a ``_cursor``. Raises ValueError, TypeError or RecursionError for
    anything else, and UnicodeEncodeError for a lone surrogate (PostgreSQL cannot take it)."""
    first, second = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    first, second = str(first), str(second)
    (first + second).encode()
    return first, second


def _uncursor(cursor: str, check: Callable[[str, str], Any]) -> Any:
    """``check`` applied to the key of ``cursor``: what the route reads on after. 422
    ``invalid_cursor`` for a cursor no page gave (``check`` raises ValueError or ApiError)."""
    try:
        return check(*_key_of(cursor))
    except (ValueError, TypeError, RecursionError, ApiError) as exc:
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned") from exc


def _document_key(kind: str, roger_id: str) -> tuple[str, str]:
    _document(kind, roger_id)
    return kind, roger_id


def _bill_key(created: str, xero_id: str) -> tuple[datetime, str]:
    at = datetime.fromisoformat(created)
    if at.tzinfo is None or not _ROGER_ID.match(xero_id):
        raise ValueError("not a cursor of ours")
    return at, xero_id


class ResendRequest(BaseModel):
    """What ``roger-xero reconcile --fix`` asks to send again: the ``document`` or the
    ``payment`` ``payment_id`` Xero never got (no Xero id on our side); or what a person
    asks: Roger's version over an edit made in Xero (``update``), a bill voided there made
    again (``document``). ``reason`` is the difference found (shown in its history)."""

    model_config = ConfigDict(extra="forbid")

    resend: Literal["document", "update", "payment"]
    payment_id: str | None = Field(default=None, min_length=1, max_length=512)
    reason: str | None = Field(default=None, max_length=2000)


def read_router(
    settings: ProjectorSettings, pool: AsyncConnectionPool, producer: AIOKafkaProducer
) -> APIRouter:
    """The read API's routes (``/v1/companies/{company_id}/...``), behind the service tokens.

    Each route checks its request (422 on a bad company id, state, kind or cursor) and calls
    one query of ``views``; retry publishes ``DocumentRetryRequested`` for a document that
    failed or whose payment, allocation or attachment failed (404 if unknown, 409 if nothing
    of it failed).
    """
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
        if state is not None and state not in views.STATES:
            raise ApiError(422, "invalid_state", f"state must be one of {', '.join(views.STATES)}")
        if kind is not None and kind not in views.KINDS:
            raise ApiError(422, "invalid_kind", f"kind must be one of {', '.join(views.KINDS)}")
        after = _uncursor(cursor, _document_key) if cursor else ("", "")
        page = await views.documents(
            pool, company_id, state=state, kind=kind, after=after, limit=limit
        )
        return {
            "documents": page.documents,
            "next_cursor": _cursor(*page.last) if page.last else None,
        }

    # ":path": a Roger id may hold "/" (the contract allows it; sent as %2F or not).
    @router.get("/documents/{kind}/{roger_id:path}")
    async def document(company_id: str, kind: str, roger_id: str) -> dict[str, Any]:
        _company(company_id)
        _document(kind, roger_id)
        found = await views.document_with_history(pool, company_id, kind, roger_id)
        if found is None:
            raise ApiError(404, "not_found", f"no {kind} {roger_id} for company {company_id}")
        return found

    @router.post("/documents/{kind}/{roger_id:path}/retry", status_code=202)
    async def retry(company_id: str, kind: str, roger_id: str) -> dict[str, Any]:
        _company(company_id)
        _document(kind, roger_id)
        found = await views.document_state(pool, company_id, kind, roger_id)
        if found is None:
            raise ApiError(404, "not_found", f"no {kind} {roger_id} for company {company_id}")
        if not found.retryable:
            raise ApiError(
                409,
                "not_failed",
                "only a document that failed, or whose payment, allocation or attachment "
                f"failed, can be retried; it is {found.state} and nothing of it failed",
            )
        fact = retry_requested(company_id, kind, roger_id, datetime.now(UTC))
        await producer.send_and_wait(DOMAIN_EVENTS, fact.to_bytes(), key=company_id.encode())
        return {"retrying": True}

    @router.post("/documents/{kind}/{roger_id:path}/resend", status_code=202)
    async def resend(
        company_id: str, kind: str, roger_id: str, body: ResendRequest
    ) -> dict[str, Any]:
        """Sends what Roger holds again, as ``roger-xero reconcile --fix`` decided (a
        ``DocumentRetryRequested`` with ``resend``). 404 if the document, or the payment
        ``payment_id`` of it, is unknown; 409 as ``resend_refusal`` says; 422 a payment
        resend without ``payment_id``."""
        _company(company_id)
        _document(kind, roger_id)
        if body.resend == "payment" and body.payment_id is None:
            raise ApiError(422, "invalid_body", "a payment resend needs payment_id")
        found = await views.document_state(pool, company_id, kind, roger_id)
        if found is None:
            raise ApiError(404, "not_found", f"no {kind} {roger_id} for company {company_id}")
        refused = resend_refusal(found, body)
        if refused is not None:
            raise refused
        fact = retry_requested(
            company_id,
            kind,
            roger_id,
            datetime.now(UTC),
            {"resend": body.resend, "payment_id": body.payment_id, "reason": body.reason},
        )
        await producer.send_and_wait(DOMAIN_EVENTS, fact.to_bytes(), key=company_id.encode())
        return {"resending": True}

    @router.get("/xero-bills")
    async def xero_bills(
        company_id: str,
        cursor: str | None = None,
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        """``{"bills": [...], "next_cursor"}``: the bills the company has in Xero that were
        made there, not by Roger (announced on ``roger.sync-back`` as ``BillCreatedInXero``),
        newest first, a page at a time like ``documents``."""
        _company(company_id)
        after = _uncursor(cursor, _bill_key) if cursor else None
        page = await views.xero_bills(pool, company_id, after=after, limit=limit)
        return {
            "bills": page.bills,
            "next_cursor": _cursor(page.last[0].isoformat(), page.last[1]) if page.last else None,
        }

    @router.get("/synced-per-hour")
    async def synced_per_hour(
        company_id: str, hours: int = Query(views.MAX_HOURS, ge=1, le=views.MAX_HOURS)
    ) -> dict[str, Any]:
        """``{"hours": [{"hour", "synced"}]}``: documents synced per hour, oldest first (the
        integration page's chart)."""
        _company(company_id)
        return {"hours": await views.synced_per_hour(pool, company_id, hours)}

    @router.get("/summary")
    async def summary(company_id: str) -> dict[str, Any]:
        _company(company_id)
        return await views.summary(pool, company_id)

    return router


def resend_refusal(found: views.DocumentState, body: ResendRequest) -> ApiError | None:
    """Why ``POST .../resend`` must not send, or None.

    409 ``conflict``: the document is held in a conflict with Xero (a person decides:
    retry). For a payment: 404 ``not_found`` if the document has no payment
    ``payment_id``; 409 ``payment_in_xero`` if Roger has it as made in Xero (it has a Xero
    id: making it again would pay the vendor twice; a payment removed in Xero by a person
    is theirs to decide); 409 ``payment_reversed`` if Roger reversed it. For the document:
    409 ``document_in_xero`` if Xero has it (a Xero id, not voided or deleted there): sending
    it again would overwrite what an accountant changed there (a person uses retry, or
    ``"update"``, to send Roger's version on purpose)."""
    if found.conflict:
        return ApiError(
            409,
            "conflict",
            "the document is held in a conflict with Xero: a person decides (retry "
            "sends Roger's version; leaving it keeps Xero's)",
        )
    if body.resend == "document" and found.xero_id and not found.gone_in_xero:
        return ApiError(
            409,
            "document_in_xero",
            f"Xero has the document as {found.xero_id}: resending it would overwrite what was "
            'changed there; send Roger\'s version on purpose with {"resend": "update"} '
            "or retry",
        )
    if body.resend != "payment":
        return None
    payment = found.payments.get(body.payment_id or "")
    if payment is None:
        return ApiError(404, "not_found", f"the document has no payment {body.payment_id}")
    if payment.get("xero_id"):
        return ApiError(
            409,
            "payment_in_xero",
            f"payment {body.payment_id} is in Xero as {payment['xero_id']} "
            f"({payment.get('state')}): sending it again would pay the bill twice; if it was "
            "removed in Xero, a person decides (pay it again in Xero, or reverse it in Roger)",
        )
    if payment.get("reversed"):
        return ApiError(409, "payment_reversed", f"payment {body.payment_id} was reversed in Roger")
    return None


def retry_requested(
    company_id: str,
    kind: str,
    roger_id: str,
    now: datetime,
    resend: dict[str, Any] | None = None,
) -> DomainEvent:
    """The fact a person's retry publishes (read by ``facts.retry_requested``); with
    ``resend`` (``facts.RetryData``'s fields), reconcile's resend."""
    prefix = "resend" if resend else "retry"
    return DomainEvent(
        event_id=f"{prefix}:{company_id}:{kind}:{roger_id}:{now.timestamp()}",
        type="DocumentRetryRequested",
        company_id=company_id,
        occurred_at=now,
        source="api",
        data={"kind": kind, "roger_id": roger_id, **(resend or {})},
    )
