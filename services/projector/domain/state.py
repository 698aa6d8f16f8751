"""A company's sync state: what Roger said, what Xero holds, and what is still owed.

Plain data, folded from domain events and Xero answers by ``rules``; the
eventsourcing aggregate in ``aggregate.py`` only stores the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

DocState = Literal["pending", "waiting", "synced", "failed", "deleted"]
DocKind = Literal["bill", "receipt", "credit_note"]
DocKey = tuple[str, str]  # (kind, Roger id)


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
    version_at: str  # occurred_at of that record (ISO)
    contact_id: str | None = None
    # vendor.updated asks for the contact to follow; the version the contact shows
    update_version_at: str | None = None
    synced_version_at: str | None = None
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
class Allocation:
    """A credit note's allocation to the bill it applies to."""

    bill_id: str
    state: DocState = "pending"
    reason: str | None = None
    amount: Decimal | None = None
    attempt: int = 0
    outstanding: str | None = None


@dataclass
class AttachmentSync:
    filename: str
    sha256: str
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None
    attempt: int = 0
    outstanding: str | None = None


@dataclass
class Document:
    """A bill, a receipt (a bill paid in full) or a vendor credit note."""

    kind: DocKind
    roger_id: str
    data: dict[str, Any] | None = None  # the latest Roger version
    version_at: str | None = None
    synced_version_at: str | None = None  # the version Xero holds
    deleted: bool = False
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None
    xero_number: str | None = None
    xero_total: Decimal | None = None
    warnings: list[str] = field(default_factory=list)
    attempt: int = 0
    outstanding: str | None = None
    payments: dict[str, Payment] = field(default_factory=dict)
    allocation: Allocation | None = None
    attachments: dict[str, AttachmentSync] = field(default_factory=dict)

    @property
    def key(self) -> DocKey:
        return (self.kind, self.roger_id)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass
class Outstanding:
    """What a command in flight is for, so its answer lands in the right place."""

    command_kind: str
    doc: DocKey | None = None  # None for contact commands
    vendor_id: str | None = None
    sub_id: str | None = None  # payment id or attachment filename


@dataclass
class CompanyState:
    company_id: str
    connection: Connection | None = None
    vendors: dict[str, VendorLink] = field(default_factory=dict)
    docs: dict[DocKey, Document] = field(default_factory=dict)
    seen_events: set[str] = field(default_factory=set)
    outstanding: dict[str, Outstanding] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)

    def doc(self, kind: DocKind, roger_id: str) -> Document:
        key = (kind, roger_id)
        if key not in self.docs:
            self.docs[key] = Document(kind=kind, roger_id=roger_id)
        return self.docs[key]
