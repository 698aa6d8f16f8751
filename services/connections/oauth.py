"""OAuth 2.0 authorization code with PKCE (S256): the pure parts, no I/O.

The ``state`` is 256 random bits, stored only as its SHA-256 (a copy of our table
gives nobody a live state); the PKCE verifier is random too and stays on our side
until the code exchange.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
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
    browser_key: str | None  # the browser bound to it: by the setup page or the launch link
    started_by: str = "api"  # "page" (the setup page, with a session) or "api"


def expired(pending: PendingState, now: datetime) -> bool:
    return now >= pending.expires_at


def expiry(now: datetime, ttl_s: int) -> datetime:
    return now + timedelta(seconds=ttl_s)


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    if parts.password is not None:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{suffix}"


def allowed_origins(configured: str, *fallbacks: str) -> frozenset[str]:
    """The comma-separated ``configured`` origins; when empty, the origins of ``fallbacks``."""
    names = [part.strip() for part in configured.split(",") if part.strip()] or list(fallbacks)
    return frozenset(o for o in (origin(n) for n in names) if o is not None)


def redirect_after_ok(url: str, origins: frozenset[str]) -> bool:
    """A path on this host, or an absolute http(s) URL whose origin is in ``origins``.

    Anything else would make our callback an open redirect (issue 13): a link that lands
    on another site with ``?status=connected`` looks like ours.
    """
    if any(ord(ch) < 0x21 or ch == "\\" for ch in url):
        return False  # control characters, spaces, backslashes: browsers "repair" these
    if url.startswith("/"):
        return not url.startswith("//")
    found = origin(url)
    return found is not None and found in origins


def token_claims(access_token: str) -> dict[str, Any]:
    """The claims of Xero's access token (a JWT), unverified: it came straight from Xero's
    token endpoint over TLS, and we read only ids from it (``authentication_event_id``,
    ``xero_userid``). Empty when it is not a JWT."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def with_status(url: str, status: str, reason: str | None = None) -> str:
    params = {"status": status, **({"reason": reason} if reason else {})}
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
