"""What the company sees of a document: the read API's shape, built from the state."""

from __future__ import annotations

from typing import Any

from services.projector.domain.state import CompanyState, DocKey, Document


def document_view(company_id: str, doc: Document) -> dict[str, Any]:
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
        "payments": [
            {"payment_id": p.payment_id, "state": p.state, "reason": p.reason, "xero_id": p.xero_id}
            for p in sorted(doc.payments.values(), key=lambda p: p.payment_id)
            if p.data is not None or p.reversed
        ],
    }


def views_for(state: CompanyState, touched: set[DocKey]) -> list[dict[str, Any]]:
    return [
        document_view(state.company_id, state.docs[key])
        for key in sorted(touched)
        if key in state.docs
    ]
