"""The read model's document rows (table ``sync_documents``), projected from a company's state.

What the company sees of a document: its state and reason, its Xero id and
number, warnings, and each payment's state. Written in the same transaction as
the fact or answer that changed it (``application.py``), or all at once by a
rebuild (``rebuild.py``); read by the read API's queries (``views.py``).
"""

from __future__ import annotations

from typing import Any

from services.projector.domain.state import CompanyState, DocKey, Document, Payment

DocumentRow = dict[str, Any]  # the columns of sync_documents that the state decides


def document_row(company_id: str, doc: Document) -> DocumentRow:
    """Row of one document: company_id, kind, roger_id, state, reason, xero_id, xero_number,
    warnings (list of str), payments (list of {payment_id, state, reason, xero_id,
    currency_rate (str: Xero's CurrencyRate of a foreign-currency payment, else None),
    currency_rate_source ("roger" | "xero" | None)}) and
    retryable (the document, or one of its payments, its allocation or attachments, failed:
    what ``POST .../retry`` sends again)."""
    warnings = list(doc.warnings)
    if doc.allocation and doc.allocation.state in ("waiting", "pending"):
        warnings.append(
            f"allocation to bill {doc.allocation.bill_id}: {doc.allocation.reason or 'pending'}"
        )
    return {
        "company_id": company_id,
        "kind": doc.kind,
        "roger_id": doc.roger_id,
        "state": doc.state,
        "reason": doc.reason,
        "xero_id": doc.xero_id,
        "xero_number": doc.xero_number,
        "warnings": warnings,
        "retryable": doc.retryable,
        "payments": [
            {
                "payment_id": p.payment_id,
                "state": p.state,
                "reason": p.reason,
                "xero_id": p.xero_id,
                **_rate(p),
            }
            for p in sorted(doc.payments.values(), key=lambda p: p.payment_id)
            if p.data is not None or p.reversed
        ],
    }


def _rate(payment: Payment) -> dict[str, str | None]:
    """Which rate a foreign-currency payment was booked at, and whose (snapshots older than
    these fields read the class defaults: None)."""
    rate = payment.currency_rate
    return {
        "currency_rate": None if rate is None else str(rate),
        "currency_rate_source": payment.currency_rate_source,
    }


def rows_for(state: CompanyState, touched: set[DocKey]) -> list[DocumentRow]:
    """Rows of the touched documents that the state holds, in key order."""
    return [
        document_row(state.company_id, state.docs[key])
        for key in sorted(touched)
        if key in state.docs
    ]
