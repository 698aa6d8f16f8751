"""What the writer does when Xero says no: 429, 5xx, 401, 403, a refused batch.

One batch of one company's commands goes to Xero under these rules (xero-facts.md §3, §7):

- no connection, or a refresh token Xero refused -> every command ``waiting`` (it is sent
  again when the company connects again);
- a command naming another organisation than the company's connection -> ``failed``;
- 429 -> the organisation's limiter pauses for Retry-After, then the same batch again;
- 5xx, timeout, dropped answer (``Unavailable``) -> the call may have been applied: every
  later attempt looks up before it creates; bounded backoff (``backoff_s``), then the batch
  is parked (dead-lettered for replay) and its commands are ``waiting``;
- 401 -> one forced token refresh and the batch again; a second 401 -> ``waiting``;
- 403 -> ``waiting`` (the grant no longer covers the organisation);
- a batch Xero refuses whole (``Refused``) -> each command alone, to find the culprit: it
  fails with Xero's message, the others go through.

A command with a final answer on record (``AttemptLog.answers``) is answered from it
without calling Xero, and every final answer is recorded before it is published: a
replayed command can never act twice, however late (issue 10, "Replays safe forever").

Retries share one budget: ``len(backoff_s) + 1`` attempts per batch; a batch still
answered 429 after them is parked too. Everything with side effects is injected, so the
rules run without Kafka, PostgreSQL or a clock (tests/unit/test_writer_policy.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from services.xero_writer import executor
from services.xero_writer.outcomes import failed, result
from shared.contracts.commands import AnyCommand, encode
from shared.contracts.results import XeroResult
from shared.contracts.topics import XERO_COMMANDS_DLQ
from shared.logging import get_logger
from shared.xero import errors
from shared.xero.token_store import Access, NotConnected

log = get_logger("xero_writer")

# Seconds between attempts after Xero was unavailable; bounded well under Kafka's
# max.poll.interval (300 s) in total, as docs/pitfalls.md asks.
UNAVAILABLE_BACKOFF_S: tuple[float, ...] = (1, 2, 4, 8, 16, 30)

NOT_CONNECTED = "not_connected: the company has no Xero connection"
NEEDS_RECONNECT = "needs_reconnect: Xero refused the refresh token"
FOREIGN_TENANT = "the command names an organisation this company is not connected to"
# Xero's limit on one request's body (xero-facts.md): 3.5 MB.
XERO_MAX_REQUEST = 3_500_000
TOO_LARGE = (
    "the document is larger than Xero takes in one request (3.5 MB): shorten its lines or "
    "split it in Roger"
)


def request_size(command: AnyCommand) -> int:
    """About the size of ``command`` in a Xero request body, in bytes (its JSON encoding;
    Xero's field names are about as long as ours)."""
    return len(encode(command))


# What getting an access token may raise (TokenStore.access with XeroClient.refresh).
_NO_TOKEN = (NotConnected, errors.NeedsReconnect, errors.Unavailable, errors.Refused)


class TokenAccess(Protocol):
    """The company's valid access token (``force``: refresh even if it looks valid).

    Raises ``NotConnected``, ``NeedsReconnect``, or ``Unavailable``/``Refused`` from the
    token endpoint. In production: ``TokenStore.access`` with ``XeroClient.refresh``.
    """

    def __call__(self, company_id: str, *, force: bool = False) -> Awaitable[Access]: ...


class AttemptLog(Protocol):
    """``services.xero_writer.attempts.Attempts``: records an attempt, returns earlier ones;
    keeps each command's final answer."""

    async def begin(self, company_id: str, command_ids: Sequence[str]) -> set[str]: ...

    async def answers(self, command_ids: Sequence[str]) -> dict[str, XeroResult]: ...

    async def remember(self, results: Sequence[XeroResult]) -> None: ...


class Session(Protocol):
    """One organisation's calls with one token: the executor's ``Call`` plus the pause."""

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...

    def pause(self, seconds: float) -> None: ...

    def day_budget_wait(self) -> float: ...


OpenSession = Callable[[Access], Session]
# Tells Roger the organisation's day budget is spent: (company_id, tenant_id, seconds until
# calls go again); ``budget.DayBudgetNotices`` in production.
DaySpent = Callable[[str, str, float], Awaitable[None]]
# Dead-letters the commands with the reason, for replay (the writer's DLQ topic).
Park = Callable[[list[AnyCommand], str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


def waiting(cmd: AnyCommand, reason: str) -> XeroResult:
    return result(cmd, "XeroCommandWaiting", message=reason)


class Policy:
    """Carries out batches under the rules above; ``carry_out`` never raises for Xero's sake
    (our own storage or Kafka failing does raise: the lane tries the batch again)."""

    def __init__(
        self,
        *,
        access: TokenAccess,
        attempts: AttemptLog,
        open_session: OpenSession,
        park: Park,
        sleep: Sleep = asyncio.sleep,
        backoff_s: Sequence[float] = UNAVAILABLE_BACKOFF_S,
        day_spent: DaySpent | None = None,
    ) -> None:
        self._access, self._attempts, self._open = access, attempts, open_session
        self._park_letters, self._sleep, self._backoff = park, sleep, tuple(backoff_s)
        self._day_spent = day_spent

    async def carry_out(self, company_id: str, commands: list[AnyCommand]) -> list[XeroResult]:
        """One result per command (any order): created/updated/..., ``failed`` with Xero's
        message, or ``waiting`` with the reason (parked ones say where).

        A command answered before gets its recorded answer again, with no call to Xero;
        the final answers of the others are recorded before they are returned (and so
        before they are published).
        """
        known = await self._attempts.answers([c.command_id for c in commands])
        if known:
            log.info(
                "answered_from_record",
                company_id=company_id,
                commands=sorted(known),
                kind=commands[0].kind,
            )
        todo = [c for c in commands if c.command_id not in known]
        # Xero refuses a request over 3.5 MB: a document that alone is larger can never go.
        too_large = [failed(c, TOO_LARGE) for c in todo if request_size(c) > XERO_MAX_REQUEST]
        todo = [c for c in todo if request_size(c) <= XERO_MAX_REQUEST]
        fresh = too_large + (await self._carry_out(company_id, todo) if todo else [])
        await self._attempts.remember(fresh)
        return list(known.values()) + fresh

    async def _tell_day_spent(self, company_id: str, tenant_id: str, wait_s: float) -> None:
        """Roger is told the day budget is spent (once a day: the record's id is the day's)."""
        if self._day_spent is not None:
            await self._day_spent(company_id, tenant_id, wait_s)

    async def _carry_out(self, company_id: str, commands: list[AnyCommand]) -> list[XeroResult]:
        log_ctx = {
            "company_id": company_id,
            "commands": [c.command_id for c in commands],
            "kind": commands[0].kind,
        }
        try:
            access = await self._access(company_id)
        except _NO_TOKEN as exc:
            return await self._without_token(commands, exc)
        foreign = [c for c in commands if c.tenant_id != access.tenant_id]
        if foreign:
            # Never act on an organisation the company is not connected to.
            log.error("tenant_mismatch", **log_ctx)
            mine = [c for c in commands if c.tenant_id == access.tenant_id]
            refused = [failed(c, FOREIGN_TENANT) for c in foreign]
            return refused + (await self._carry_out(company_id, mine) if mine else [])
        earlier = await self._attempts.begin(company_id, [c.command_id for c in commands])
        session = self._open(access)
        refreshed = False
        if (spent_for := session.day_budget_wait()) > 0:
            # Our own day limiter holds the organisation: the calls below wait for it.
            await self._tell_day_spent(company_id, access.tenant_id, spent_for)

        for attempt, backoff in enumerate((*self._backoff, None)):
            try:
                return await executor.execute(session.call, commands, earlier)
            except errors.RateLimited as exc:
                # Not applied: the limiter holds the whole organisation, not just this lane.
                session.pause(exc.retry_after_s)
                if exc.problem == "day":
                    await self._tell_day_spent(company_id, access.tenant_id, exc.retry_after_s)
                log.warning(
                    "xero_rate_limited",
                    retry_after_s=exc.retry_after_s,
                    problem=exc.problem,
                    **log_ctx,
                )
            except errors.Unavailable as exc:
                # The call may have been applied: every later attempt looks up first.
                earlier = {c.command_id for c in commands}
                if backoff is None:
                    return await self._park(
                        commands, f"Xero unavailable after {attempt + 1} attempts: {exc.detail}"
                    )
                log.warning("xero_unavailable", detail=exc.detail, attempt=attempt + 1, **log_ctx)
                await self._sleep(backoff)
            except errors.Unauthorized as exc:
                if refreshed:
                    return [waiting(c, f"Xero refused our token: {exc.detail}") for c in commands]
                refreshed = True
                try:
                    access = await self._access(company_id, force=True)
                except _NO_TOKEN as refresh_exc:
                    return await self._without_token(commands, refresh_exc)
                session = self._open(access)
            except errors.Forbidden as exc:
                return [
                    waiting(c, f"Xero refused access to the organisation: {exc.detail}")
                    for c in commands
                ]
            except errors.Refused as exc:
                # The whole request was refused: find the culprit by sending each command alone.
                log.warning("xero_refused_batch", message=exc.message, **log_ctx)
                singles: list[XeroResult] = []
                for c in commands:
                    singles += await self._carry_out(company_id, [c])
                return singles
        return await self._park(commands, "Xero kept answering 429")

    async def _without_token(self, commands: list[AnyCommand], exc: Exception) -> list[XeroResult]:
        """No usable access token: wait for a (re)connect, or park while Xero is down."""
        if isinstance(exc, NotConnected):
            return [waiting(c, NOT_CONNECTED) for c in commands]
        if isinstance(exc, errors.NeedsReconnect):
            # Xero refused the refresh token, or no key of ours opens the stored one: say which.
            detail = str(getattr(exc, "detail", "") or "")
            reason = (
                NEEDS_RECONNECT if detail in ("", "invalid_grant") else f"needs_reconnect: {detail}"
            )
            return [waiting(c, reason) for c in commands]
        if isinstance(exc, errors.Unavailable):
            return await self._park(commands, f"Xero's token endpoint is unavailable: {exc.detail}")
        code = exc.code if isinstance(exc, errors.XeroError) else type(exc).__name__
        return [waiting(c, f"Xero's token endpoint refused the refresh: {code}") for c in commands]

    async def _park(self, commands: list[AnyCommand], reason: str) -> list[XeroResult]:
        await self._park_letters(commands, reason)
        return [waiting(c, f"{reason}; parked in {XERO_COMMANDS_DLQ} for replay") for c in commands]
