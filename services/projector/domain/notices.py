"""What the projector tells Roger on ``roger.sync-status`` (shared.contracts.sync_status):
each document the last event left ``failed``, and each of its payments left ``failed``, with
the reason shown on it (Xero's words, and the fix where we know it).

One record per document, attempt and reason: a document touched again while still failed
(a note in its history, a replay) derives the same id, which the outbox publishes once; a
retry is a new attempt, so failing again is told again.

Pure: no Kafka, no database, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.projector.domain.state import CompanyState, DocKey
from shared.contracts.sync_status import DocumentRef, SyncStatusEvent, document_failed


def failures(state: CompanyState, touched: Iterable[DocKey], at: datetime) -> list[SyncStatusEvent]:
    """``document.failed`` records of the touched documents (and payments) now failed."""
    tenant = state.connection.tenant_id if state.connection else None
    told: list[SyncStatusEvent] = []
    for key in sorted(touched):
        doc = state.docs.get(key)
        if doc is None:
            continue
        if doc.state == "failed":
            ref = DocumentRef(kind=doc.kind, roger_id=doc.roger_id, xero_id=doc.xero_id)
            reason = doc.reason or "Xero refused the document"
            told.append(document_failed(state.company_id, tenant, ref, doc.attempt, reason, at))
        for payment in sorted(doc.payments.values(), key=lambda p: p.payment_id):
            if payment.state != "failed":
                continue
            ref = DocumentRef(
                kind=doc.kind,
                roger_id=doc.roger_id,
                xero_id=doc.xero_id,
                payment_id=payment.payment_id,
            )
            reason = f"payment {payment.payment_id}: {payment.reason or 'Xero refused it'}"
            told.append(document_failed(state.company_id, tenant, ref, payment.attempt, reason, at))
    return told
