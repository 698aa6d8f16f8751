"""Short-lived signed sessions for the setup page: pure functions, no I/O.

A person cannot carry our service bearer token, so Roger's backend (which has
it) asks for a setup link for one company; the link carries a session signed
with a key derived from our token keys, valid for one company until it expires.
The page turns it into an HttpOnly cookie scoped to that company's pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_LABEL = b"rx-setup-session-v1"


def _key(token_key: str) -> bytes:
    return hmac.new(token_key.encode(), _LABEL, hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(company_id: str, expires_at: int, token_keys: list[str]) -> str:
    nonce = secrets.token_urlsafe(12)
    body = f"{company_id}.{expires_at}.{nonce}"
    return f"{body}.{_mac(_key(token_keys[0]), body)}"


def valid_for(session: str | None, company_id: str, now: float, token_keys: list[str]) -> bool:
    """True when ``session`` was issued by us, for this company, and has not expired."""
    if not session:
        return False
    parts = session.split(".")
    if len(parts) != 4:
        return False
    company, expires, _, mac = parts
    body = session.rsplit(".", 1)[0]
    # Every key is tried (rotation), and compare_digest keeps timing flat.
    signed = any(hmac.compare_digest(mac, _mac(_key(k), body)) for k in token_keys)
    if not signed or company != company_id or not expires.isdigit():
        return False
    return now < int(expires)


def csrf_token(session: str, token_keys: list[str]) -> str:
    """The forms' anti-forgery field: only a page served with the session knows it."""
    return _mac(_key(token_keys[0]), "csrf:" + session)


def csrf_ok(session: str, presented: str | None, token_keys: list[str]) -> bool:
    if not presented:
        return False
    return any(hmac.compare_digest(presented, _mac(_key(k), "csrf:" + session)) for k in token_keys)


def new_binding() -> tuple[str, str]:
    """(cookie value, stored key): ties an OAuth state to the browser that started it."""
    value = secrets.token_urlsafe(24)
    return value, binding_key(value)


def binding_key(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()
