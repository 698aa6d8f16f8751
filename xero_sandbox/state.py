"""Everything the sandbox remembers: OAuth clients and grants, organisations and their books.

Documents are kept as PascalCase dicts holding Python values (Decimal, date, datetime);
the accounting modules render them to the wire. The whole tree is picklable so `--state`
can snapshot it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .chart import COUNTRY_OF_CURRENCY, default_accounts, default_tax_rates
from .wire import new_id


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str


@dataclass
class Grant:
    """One consent: a user let a client reach some organisations with some scopes."""

    grant_id: str
    client_id: str
    user_id: str
    scopes: list[str]
    auth_event_id: str
    revoked: bool = False


@dataclass
class AccessToken:
    grant_id: str
    expires_at: datetime


@dataclass
class RefreshToken:
    grant_id: str
    issued_at: datetime
    expires_at: datetime
    # Set when rotated: the old token then stays usable for a grace period.
    superseded_at: datetime | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    user_id: str
    tenant_ids: list[str]
    scopes: list[str]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    used: bool = False


@dataclass
class Connection:
    id: str
    client_id: str
    user_id: str
    tenant_id: str
    auth_event_id: str
    created: datetime
    updated: datetime


@dataclass
class Attachment:
    attachment_id: str
    file_name: str
    mime_type: str
    content: bytes
    sha256: str
    include_online: bool


@dataclass
class Organisation:
    tenant_id: str
    name: str
    base_currency: str
    currencies: list[str]
    created: datetime
    short_code: str
    country: str
    accounts: dict[str, dict[str, Any]]
    tax_rates: dict[str, dict[str, Any]]
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    allocations: dict[str, dict[str, Any]] = field(default_factory=dict)
    bank_transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # document id -> attachments in upload order
    attachments: dict[str, list[Attachment]] = field(default_factory=dict)
    # Xero's lock dates: nothing approved may be dated on or before them.
    period_lock_date: date | None = None
    end_of_year_lock_date: date | None = None
    # TrackingCategoryID -> {"TrackingCategoryID", "Name", "Status", "Options": [...]}
    tracking_categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    # currency -> {day (None: any day) -> units of that currency per one base unit}
    rates: dict[str, dict[date | None, Decimal]] = field(default_factory=dict)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Snapshots written before a field existed still load, with its default.
        defaults: dict[str, Any] = {
            "period_lock_date": None,
            "end_of_year_lock_date": None,
            "tracking_categories": {},
            "rates": {},
        }
        self.__dict__.update({**defaults, **state})

    def account_by_code(self, code: str) -> dict[str, Any] | None:
        wanted = code.strip().upper()
        for account in self.accounts.values():
            if str(account.get("Code", "")).upper() == wanted:
                return account
        return None


def new_organisation(
    name: str, base_currency: str, currencies: list[str], now: datetime
) -> Organisation:
    enabled = [c for c in dict.fromkeys(currencies) if c != base_currency]
    accounts = default_accounts(now)
    for account in accounts.values():
        # Every Xero bank account has a currency: the base one unless set otherwise.
        if account["Type"] == "BANK":
            account["CurrencyCode"] = base_currency
    return Organisation(
        tenant_id=new_id(),
        name=name,
        base_currency=base_currency,
        currencies=enabled,
        created=now,
        short_code="!" + secrets.token_hex(3)[:5],
        country=COUNTRY_OF_CURRENCY.get(base_currency, "GB"),
        accounts=accounts,
        tax_rates=default_tax_rates(base_currency),
    )


@dataclass
class SandboxState:
    clients: dict[str, Client] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)

    def connection_for(self, client_id: str, user_id: str, tenant_id: str) -> Connection | None:
        for connection in self.connections.values():
            if (
                connection.client_id == client_id
                and connection.user_id == user_id
                and connection.tenant_id == tenant_id
            ):
                return connection
        return None
