"""OAuth 2.0 authorization code with PKCE (S256): the pure parts, no I/O.

The ``state`` is 256 random bits, stored only as its SHA-256 (a copy of our table
gives nobody a live state); the PKCE verifier is random too and stays on our side
until the code exchange.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

# offline_access for a refresh token; the granular accounting scopes that apps created since
# March 2026 get (xero-facts.md §2): contacts, bills and credit notes, payments, receipts,
# attachments, and read-only settings for the chart of accounts and the organisation.
SCOPES: tuple[str, ...] = (
    "offline_access",
    "accounting.contacts",
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.attachments",
    "accounting.settings.read",
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_verifier() -> str:
    """43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636); 86 here."""
    return secrets.token_urlsafe(64)


def challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def new_state() -> str:
    return secrets.token_urlsafe(32)


def state_key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def authorize_url(base: str, client_id: str, redirect_uri: str, state: str, verifier: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{base}{'&' if '?' in base else '?'}{query}"


@dataclass(frozen=True)
class PendingState:
    """One started connect flow, as stored until its callback (or expiry)."""

    company_id: str
    verifier: str
    redirect_after: str
    expires_at: datetime
    browser_key: str | None  # set when a browser session started it (see setup_page)


def expired(pending: PendingState, now: datetime) -> bool:
    return now >= pending.expires_at


def expiry(now: datetime, ttl_s: int) -> datetime:
    return now + timedelta(seconds=ttl_s)


def redirect_after_ok(url: str) -> bool:
    """Absolute http(s) URL or a path on this host; nothing that could smuggle a scheme."""
    if url.startswith("/") and not url.startswith("//"):
        return "\\" not in url
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def with_status(url: str, status: str, reason: str | None = None) -> str:
    params = {"status": status, **({"reason": reason} if reason else {})}
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
