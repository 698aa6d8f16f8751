"""Roger-Signature: ``t=<unix seconds>,v1=<hex>[,v1=<hex>...]``, HMAC-SHA256 over ``<t>.<body>``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    header: str | None, body: bytes, secrets: Iterable[str], now: float, tolerance_s: int
) -> str | None:
    """Returns why the signature is refused, or None when one ``v1`` matches a secret."""
    if not header:
        return "missing Roger-Signature header"
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        # ASCII digits, at most 12 (Unix seconds until year 33658): int() of a 5,000-digit
        # header would raise, and "٣" is a digit to str.isdigit().
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        return "malformed Roger-Signature header"
    if abs(now - timestamp) > tolerance_s:
        return f"signature timestamp is more than {tolerance_s} s from now"
    payload = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return None
    return "signature does not match"
