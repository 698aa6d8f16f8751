"""A company's sync state: what Roger said, what Xero holds, and what is still owed.

Plain data, folded from domain events and Xero results by ``rules``; the
eventsourcing aggregate in ``aggregate.py`` only stores the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DocState = Literal["pending", "waiting", "synced", "failed", "deleted"]


@dataclass
class Connection:
    tenant_id: str
    default_account_code: str
    default_payment_account_code: str
    organisation_name: str | None = None


@dataclass
class VendorLink:
    vendor_id: str
    vendor: dict[str, Any]  # the latest Roger vendor record
    version_at: str  # occurred_at of that record (ISO, UTC)
    contact_id: str | None = None
    failure: str | None = None
    attempt: int = 0
    outstanding: str | None = None  # command id in flight


@dataclass
class Payment:
    payment_id: str
    data: dict[str, Any] | None = None  # the bill.paid data, once known
    reversed: bool = False
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None
    attempt: int = 0
    outstanding: str | None = None


@dataclass
class Bill:
    bill_id: str
    data: dict[str, Any] | None = None  # the latest bill.submitted/updated data
    version_at: str | None = None
    deleted: bool = False
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None
    xero_number: str | None = None
    warnings: list[str] = field(default_factory=list)
    attempt: int = 0
    outstanding: str | None = None
    payments: dict[str, Payment] = field(default_factory=dict)
    updated_at: str | None = None


@dataclass
class CompanyState:
    company_id: str
    connection: Connection | None = None
    vendors: dict[str, VendorLink] = field(default_factory=dict)
    bills: dict[str, Bill] = field(default_factory=dict)
    seen_events: set[str] = field(default_factory=set)
    # command id -> (document kind, document id): what an answer refers to
    outstanding: dict[str, tuple[str, str]] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
