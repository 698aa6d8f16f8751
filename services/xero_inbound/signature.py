"""Xero's webhook signature: ``x-xero-signature`` = base64(HMAC-SHA256(webhook key, raw
body)) (developer.xero.com/documentation/guides/webhooks/configuring-your-server)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def xero_signature(key: str, body: bytes) -> str:
    """The header Xero sends for ``body`` signed with ``key``."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def signed_by_xero(body: bytes, header: str | None, keys: list[str]) -> bool:
    """True if ``header`` is ``body``'s signature under any of ``keys`` (several during a
    rotation). Compared in constant time; a missing or non-ASCII header is False."""
    if not header or not header.isascii():
        return False
    given = header.strip().encode()
    matched = False
    for key in keys:
        # No early exit: every key is tried, so timing says nothing about which matched.
        matched |= hmac.compare_digest(xero_signature(key, body).encode(), given)
    return matched
