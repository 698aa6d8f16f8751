"""The read model's document rows (table ``sync_documents``), projected from a company's state.

What the company sees of a document: its state and reason, its Xero id and
number, warnings, and each payment's state. Written in the same transaction as
the fact or answer that changed it (``application.py``), or all at once by a
rebuild (``rebuild.py``); read by the read API's queries (``views.py``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from services.projector.domain.state import CompanyState, DocKey, Document, Payment, VendorLink
from shared.contracts.roger_events import BillData, CreditNoteData, ReceiptData

DocumentRow = dict[str, Any]  # the columns of sync_documents that the state decides


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def detail(doc: Document, link: VendorLink | None = None) -> dict[str, Any]:
    """The ``detail`` column (read API: ``in_xero``, ``conflict``, ``roger``):

    - ``in_xero``: what Xero last said of it (``XeroSide`` as JSON: ``status``, ``summary``
      such as "paid in Xero on 2026-11-03 (100.0000)", money as text, ``payments`` made in
      Xero, ``edits``), or None if Xero never told us of a change;
    - ``conflict``: ``{"reason", "at", "roger", "xero", "xero_holds"}`` while held for a
      person, else None;
    - ``roger``: what Roger holds and what we gave Xero, for ``roger-xero reconcile``:
      ``total``, ``currency``, ``number``, ``date`` and ``due_date`` (ISO dates as Xero is
      given them: a receipt's are its ``paid_on``, a bill without a due date is due on its
      issue date, a credit note has none), ``deleted``, ``in_xero_as_sent`` (Xero was
      given Roger's latest version), ``xero_total`` (Xero's answer), ``contact_id``,
      ``contact_status``, ``payments`` ``[{"payment_id", "amount" (None: the whole total),
      "xero_id", "state", "reversed"}]``.
    """
    data = doc.data
    number = None
    if data is not None:
        number = getattr(data, "invoice_number", None) or getattr(data, "receipt_number", None)
        number = number or getattr(data, "credit_note_number", None) or doc.roger_id
    side = doc.in_xero
    return {
        "in_xero": None if side is None else {k: _json(v) for k, v in asdict(side).items()},
        "conflict": None
        if doc.conflict is None
        else {k: _json(v) for k, v in asdict(doc.conflict).items()},
        "roger": {
            "total": _text(data.total) if data is not None else None,
            "currency": data.currency if data is not None else None,
            "number": number,
            **_dates(doc),
            "deleted": doc.deleted,
            "in_xero_as_sent": doc.version_at is not None
            and doc.synced_version_at is not None
            and doc.synced_version_at >= doc.version_at,
            "xero_total": _text(doc.xero_total),
            "contact_id": link.contact_id if link is not None else None,
            "contact_status": link.contact_status if link is not None else None,
            "payments": [
                {
                    "payment_id": p.payment_id,
                    "amount": _text(p.amount),
                    "xero_id": p.xero_id,
                    "state": p.state,
                    "reversed": p.reversed,
                }
                for p in sorted(doc.payments.values(), key=lambda p: p.payment_id)
                if p.data is not None or p.reversed
            ],
        },
    }


def _dates(doc: Document) -> dict[str, str | None]:
    """The date and due date Xero is given for the document (``decisions._body``)."""
    data = doc.data
    if isinstance(data, BillData):
        return {"date": _text(data.issue_date), "due_date": _text(data.due_date or data.issue_date)}
    if isinstance(data, ReceiptData):
        return {"date": _text(data.paid_on), "due_date": _text(data.paid_on)}
    if isinstance(data, CreditNoteData):
        return {"date": _text(data.issue_date), "due_date": None}
    return {"date": None, "due_date": None}


def _json(value: Any) -> Any:
    """Money, dates and times as text; lists and dicts as they are."""
    if value is None or isinstance(value, str | bool | int | list | dict):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def document_row(company_id: str, doc: Document, state: CompanyState | None = None) -> DocumentRow:
    """Row of one document: company_id, kind, roger_id, state, reason, xero_id, xero_number,
    warnings (list of str), payments (list of {payment_id, state, reason, xero_id,
    currency_rate (str: Xero's CurrencyRate of a foreign-currency payment, else None),
    currency_rate_source ("roger" | "xero" | None)}) and
    retryable (the document, or one of its payments, its allocation or attachments, failed:
    what ``POST .../retry`` sends again) and detail (``detail``; the vendor's contact
    only when ``state`` is given)."""
    link = state.vendors.get(doc.vendor_id or "") if state is not None else None
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
        "detail": detail(doc, link),
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
        document_row(state.company_id, state.docs[key], state)
        for key in sorted(touched)
        if key in state.docs
    ]
