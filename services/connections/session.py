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
import re
import secrets
from dataclasses import dataclass

_LABEL = b"rx-setup-session-v1"


def _key(token_key: str) -> bytes:
    return hmac.new(token_key.encode(), _LABEL, hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# Issue 13: a setup link is a bearer credential, so it lives at most this long, whatever the
# configuration or the link itself says.
MAX_SESSION_S = 1800


def issue(company_id: str, expires_at: int, version: int, token_keys: list[str]) -> str:
    """A signed session for ``company_id`` until ``expires_at`` (Unix s, capped by the caller
    to now + ``MAX_SESSION_S``), valid only while the company's connection version (a counter
    bumped at every connect and disconnect) is still ``version``."""
    nonce = secrets.token_urlsafe(12)
    body = f"{company_id}.{expires_at}.{version}.{nonce}"
    return f"{body}.{_mac(_key(token_keys[0]), body)}"


@dataclass(frozen=True)
class Claims:
    company_id: str
    expires_at: int
    version: int


def read(session: str | None, token_keys: list[str]) -> Claims | None:
    """The claims of a session we signed (any key: rotation), or None; expiry not checked."""
    if not session or len(session) > 512:
        return None
    parts = session.split(".")
    if len(parts) != 5:
        return None
    company, expires, version, _, mac = parts
    body = session.rsplit(".", 1)[0]
    # Every key is tried (rotation), and compare_digest keeps timing flat.
    if not mac.isascii() or not any(
        hmac.compare_digest(mac, _mac(_key(k), body)) for k in token_keys
    ):
        return None
    if not (_DIGITS.fullmatch(expires) and _DIGITS.fullmatch(version)):
        return None
    return Claims(company, int(expires), int(version))


_DIGITS = re.compile(r"[0-9]{1,12}")


def valid_for(
    session: str | None, company_id: str, now: float, token_keys: list[str], version: int
) -> bool:
    """True when ``session`` was issued by us, for this company and connection ``version``,
    has not expired, and expires no later than ``MAX_SESSION_S`` from now."""
    claims = read(session, token_keys)
    if claims is None or claims.company_id != company_id or claims.version != version:
        return False
    return now < claims.expires_at <= now + MAX_SESSION_S


def csrf_token(session: str, token_keys: list[str]) -> str:
    """The forms' anti-forgery field: only a page served with the session knows it."""
    return _mac(_key(token_keys[0]), "csrf:" + session)


def csrf_ok(session: str, presented: str | None, token_keys: list[str]) -> bool:
    if not presented or not presented.isascii():
        return False
    return any(hmac.compare_digest(presented, _mac(_key(k), "csrf:" + session)) for k in token_keys)


def new_binding() -> tuple[str, str]:
    """(cookie value, stored key): ties an OAuth state to the browser that started it."""
    value = secrets.token_urlsafe(24)
    return value, binding_key(value)


def binding_key(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()
