"""What a valid setup is, and how Xero's answers look to Roger: pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_COMPANY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TENANT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def company_id_ok(company_id: str) -> bool:
    """roger-events.md: 1..64 characters of [A-Za-z0-9_-], the whole string (``fullmatch``:
    ``$`` would let a trailing newline through, issue 13)."""
    return _COMPANY_ID.fullmatch(company_id) is not None


def tenant_id_ok(tenant_id: str) -> bool:
    """Xero's tenant ids are GUIDs; 1..64 characters of [A-Za-z0-9-], the whole string."""
    return _TENANT_ID.fullmatch(tenant_id) is not None


# Bank accounts take payments but cannot be a bill line's account.
_NOT_FOR_EXPENSES = {"BANK"}


def organisation_view(connection: dict[str, Any], organisation: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant_id": connection["tenantId"],
        "name": organisation.get("Name") or connection.get("tenantName") or "",
        "base_currency": organisation.get("BaseCurrency"),
    }


def account_view(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": account.get("Code"),
        "name": account.get("Name"),
        "type": account.get("Type"),
        "class": account.get("Class"),
        "status": account.get("Status"),
        "enable_payments": can_take_payments(account),
        "tax_type": account.get("TaxType"),
    }


def can_take_payments(account: dict[str, Any]) -> bool:
    return account.get("Type") == "BANK" or account.get("EnablePaymentsToAccount") is True


def _by_code(accounts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["Code"]: a for a in accounts if a.get("Code")}


def setup_problems(
    accounts: list[dict[str, Any]], expense_code: str, payment_code: str
) -> list[dict[str, str]]:
    """Why these defaults cannot be used in this organisation; empty when they can."""
    chart = _by_code(accounts)
    problems: list[dict[str, str]] = []
    expense = chart.get(expense_code)
    if expense is None:
        problems.append(_problem("default_account_code", f"no account with code {expense_code}"))
    elif expense.get("Status") != "ACTIVE":
        problems.append(_problem("default_account_code", f"account {expense_code} is archived"))
    elif expense.get("Type") in _NOT_FOR_EXPENSES:
        problems.append(
            _problem("default_account_code", f"account {expense_code} is a bank account")
        )
    payment = chart.get(payment_code)
    if payment is None:
        problems.append(
            _problem("default_payment_account_code", f"no account with code {payment_code}")
        )
    elif payment.get("Status") != "ACTIVE":
        problems.append(
            _problem("default_payment_account_code", f"account {payment_code} is archived")
        )
    elif not can_take_payments(payment):
        problems.append(
            _problem(
                "default_payment_account_code",
                f"account {payment_code} cannot take payments "
                "(neither a bank account nor enabled for payments)",
            )
        )
    return problems


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def categories_event(
    company_id: str, accounts: list[dict[str, Any]], imported_at: datetime
) -> dict[str, Any]:
    """The roger.categories record: the whole chart each time, as the contract says."""
    return {
        "company_id": company_id,
        "imported_at": imported_at.isoformat(),
        "categories": [
            {
                "code": a["Code"],
                "name": a.get("Name"),
                "type": a.get("Type"),
                "status": a.get("Status"),
                "tax_type": a.get("TaxType"),
            }
            for a in sorted(accounts, key=lambda a: str(a.get("Code")))
            if a.get("Code")
        ],
    }


@dataclass(frozen=True)
class Profile:
    """The non-secret side of a connection, kept after disconnect."""

    tenant_id: str | None
    organisation_name: str | None
    base_currency: str | None
    default_account_code: str | None
    default_payment_account_code: str | None
    connected_at: datetime | None
    last_sync_at: datetime | None
    disconnected_at: datetime | None
    lock_date_policy: str = "fail"  # ConnectionData.lock_date_policy
    bill_status: str = "AUTHORISED"  # ConnectionData.bill_status
    # Xero's calls left today as the writer last heard them (XeroResult.day_calls_remaining).
    day_calls_remaining: int | None = None
    day_calls_seen_at: datetime | None = None


def connection_status(token_status: str | None, profile: Profile | None) -> str:
    """The contract's status, from the token row (if any) and the profile."""
    if token_status == "connected" and profile is not None and profile.connected_at:
        return "connected"
    if token_status in ("pending_setup", "connected"):
        return "pending_setup"
    if token_status == "needs_reconnect":
        return "needs_reconnect"
    if profile is not None and profile.disconnected_at is not None:
        return "disconnected"
    return "not_connected"


def connection_view(token_status: str | None, profile: Profile | None) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    p = profile
    return {
        "status": connection_status(token_status, profile),
        "tenant_id": p.tenant_id if p else None,
        "organisation_name": p.organisation_name if p else None,
        "base_currency": p.base_currency if p else None,
        "default_account_code": p.default_account_code if p else None,
        "default_payment_account_code": p.default_payment_account_code if p else None,
        "lock_date_policy": p.lock_date_policy if p else "fail",
        "bill_status": p.bill_status if p else "AUTHORISED",
        "connected_at": iso(p.connected_at) if p else None,
        "last_sync_at": iso(p.last_sync_at) if p else None,
        "disconnected_at": iso(p.disconnected_at) if p else None,
    }
