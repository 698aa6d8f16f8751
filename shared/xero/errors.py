"""Every way a Xero call can fail, sorted by what the caller does about it.

One taxonomy for the writer and the connect flow alike (status codes per Xero's
http-response-codes page, docs/xero/xero-facts.md §3 and §7):

    XeroError
    ├── RateLimited     429: wait ``retry_after_s`` (minute/day limits), then the same call again
    ├── Unavailable     5xx, timeout, dropped connection: the call may or may not have been applied
    ├── Unauthorized    401: the access token is dead (expired, revoked, the app removed)
    ├── Forbidden       403: the token may not touch this organisation
    ├── Refused         any other 4xx (and a token endpoint refusal): as sent, it never succeeds
    └── NeedsReconnect  the token endpoint refused the refresh token (invalid_grant)

``code`` is short and safe to show a person (``xero_rate_limited``, ``invalid_grant``, ...):
it never holds a token, an authorization code, a token endpoint body or a URL. ``detail``
and ``Refused.message`` may hold Xero's own words about a document (validation messages) and
are for the writer's results and logs, never for the connect flow's answers.
"""

from __future__ import annotations

from typing import Any


class XeroError(Exception):
    """Base of every Xero failure; ``code`` is safe to show, ``status`` is Xero's, if any."""

    default_code = "xero_error"

    def __init__(self, detail: str = "", *, code: str | None = None, status: int | None = None):
        self.detail = detail
        self.code = code or self.default_code
        self.status = status
        # str(exc) is the safe code: an exception that reaches a log or a response says no more.
        super().__init__(self.code)


class RateLimited(XeroError):
    """429. ``retry_after_s``: Xero's Retry-After in seconds (a default when it sent none, as
    for the concurrent limit); ``problem``: its X-Rate-Limit-Problem (minute, day, concurrent,
    appminute)."""

    default_code = "xero_rate_limited"

    def __init__(self, retry_after_s: float, problem: str) -> None:
        super().__init__(f"rate limited ({problem}), retry after {retry_after_s}s", status=429)
        self.retry_after_s, self.problem = retry_after_s, problem


class Unavailable(XeroError):
    """5xx, a timeout or a dropped connection: the call may have been applied, so a retry of
    a create must look up first. ``code`` is ``xero_unreachable`` without an answer and
    ``xero_http_<status>`` with one."""

    default_code = "xero_unreachable"

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None):
        code = code or (f"xero_http_{status}" if status else None)
        super().__init__(detail, code=code, status=status)


class Unauthorized(XeroError):
    """401: refresh the access token once and try again; a second 401 needs a person."""

    default_code = "xero_unauthorized"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail, status=401)


class Forbidden(XeroError):
    """403: the grant does not (or no longer) cover this organisation."""

    default_code = "organisation_not_accessible"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail, status=403)


class Refused(XeroError):
    """A 4xx (other than 401/403/429) on an API call, or a token endpoint refusal.

    ``message``: Xero's own words (validation messages joined by "; ", else its Message);
    ``body``: the decoded answer (API calls only; None for the token endpoint, whose body is
    never kept). ``code``: the OAuth error code for the token endpoint, else ``xero_http_<n>``.
    """

    def __init__(self, status: int, message: str, body: Any, *, code: str | None = None):
        super().__init__(message, code=code or f"xero_http_{status}", status=status)
        self.message, self.body = message, body


class NeedsReconnect(XeroError):
    """Xero refused the refresh token (invalid_grant): a person must connect again."""

    default_code = "needs_reconnect"

    def __init__(self, detail: str = "invalid_grant") -> None:
        super().__init__(detail)
