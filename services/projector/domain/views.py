"""What the company sees of a document: the read API's shape, built from the state."""

from __future__ import annotations

from typing import Any

from services.projector.domain.state import Bill, CompanyState


def bill_view(company_id: str, bill: Bill) -> dict[str, Any]:
    return {
        "company_id": company_id,
        "kind": "bill",
        "roger_id": bill.bill_id,
        "state": bill.state,
        "reason": bill.reason,
        "xero_id": bill.xero_id,
        "xero_number": bill.xero_number,
        "warnings": list(bill.warnings),
        "payments": [
            {"payment_id": p.payment_id, "state": p.state, "reason": p.reason, "xero_id": p.xero_id}
            for p in sorted(bill.payments.values(), key=lambda p: p.payment_id)
            if p.data is not None or p.reversed
        ],
    }


def views_for(state: CompanyState, touched: set[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        bill_view(state.company_id, state.bills[doc_id])
        for kind, doc_id in sorted(touched)
        if kind == "bill" and doc_id in state.bills
    ]
