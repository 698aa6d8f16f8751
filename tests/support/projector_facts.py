"""Building facts and Xero answers for the projector's domain tests, and stepping its rules.

Facts are ``DomainEvent`` objects in the contract's shape (``roger-events.md``),
as ingest publishes them; answers are ``XeroResult`` objects as the writer does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.projector.domain import answers, decisions, facts
from services.projector.domain.state import CompanyState
from shared.contracts.commands import AnyCommand
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult

COMPANY = "acme"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
APP = "https://app.roger.example"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def fact(
    type_: str,
    data: dict[str, Any],
    day: int = 20,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> DomainEvent:
    return DomainEvent(
        event_id=event_id or str(uuid.uuid4()),
        type=type_,  # type: ignore[arg-type]
        company_id=COMPANY,
        occurred_at=occurred_at or at(day),
        source="http",
        data=data,
    )


def vendor(vendor_id: str = "ven_1", name: str = "Nordic Paper Supply ApS") -> dict[str, Any]:
    return {"id": vendor_id, "name": name, "country": "DK"}


def bill_data(
    bill_id: str = "b1",
    *,
    ven: dict[str, Any] | None = None,
    number: str | None = "INV-1",
    total: str = "21.00",
    description: str = "Paper",
    issue_date: str = "2026-11-02",
    due_date: str = "2026-12-02",
) -> dict[str, Any]:
    """A one-line inclusive bill: quantity 1 at ``total``, unless ``total`` is the default
    (two at 10.50)."""
    quantity, unit = ("2", "10.50") if total == "21.00" else ("1", total)
    return {
        "bill_id": bill_id,
        "vendor": ven or vendor(),
        "invoice_number": number,
        "issue_date": issue_date,
        "due_date": due_date,
        "currency": "DKK",
        "amount_type": "inclusive",
        "total": total,
        "attachments": [],
        "lines": [
            {
                "description": description,
                "quantity": quantity,
                "unit_amount": unit,
                "category_code": None,
                "tax_type": "INPUT2",
                "tracking": [],
            }
        ],
    }


def paid_data(
    bill_id: str = "b1",
    payment_id: str = "p1",
    amount: str = "21.00",
    paid_on: str = "2026-11-24",
    account: str | None = None,
) -> dict[str, Any]:
    return {
        "bill_id": bill_id,
        "payment_id": payment_id,
        "amount": amount,
        "currency": "DKK",
        "paid_on": paid_on,
        "payment_account_code": account,
    }


def connected(day: int = 1) -> DomainEvent:
    return fact(
        "XeroConnectionEstablished",
        {
            "tenant_id": "tenant-a",
            "default_account_code": "429",
            "default_payment_account_code": "090",
        },
        day=day,
    )


def step(state: CompanyState, event: DomainEvent | XeroResult) -> list[AnyCommand]:
    """Applies one fact or answer, then decides: the commands issued."""
    effects = (
        facts.apply_fact(state, event)
        if isinstance(event, DomainEvent)
        else answers.apply_result(state, event)
    )
    return decisions.decide(state, effects, NOW, APP)


def answer(cmd: AnyCommand, type_: str, **fields: Any) -> XeroResult:
    """Xero's answer to ``cmd``, as the writer publishes it."""
    return XeroResult(
        result_id=cmd.command_id,
        type=type_,  # type: ignore[arg-type]
        command_id=cmd.command_id,
        command_kind=cmd.kind,
        company_id=cmd.company_id,
        document_kind=cmd.document_kind,
        document_id=cmd.document_id,
        **fields,
    )
