"""Xero's per-organisation limits, kept on our side so we rarely meet a 429.

Per organisation: at most ``concurrent`` calls at once and ``per_minute`` calls
in any 60 s; after a 429 the organisation pauses for Retry-After. Each
organisation has its own limiter, so one company's backlog never delays another.

``OrgLimiter`` counts in this process only: right for one writer. The writer runs
``shared_limits.SharedLimiter``, the same interface (``Limiter``) with its counts in
PostgreSQL, so the limits hold across writer instances.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class Limiter(Protocol):
    """One organisation's limiter, as ``session.OrgSession`` uses it."""

    def call(self) -> AbstractAsyncContextManager[None]:
        """Waits for a turn; the call is made inside the block."""
        ...

    def pause(self, seconds: float) -> None:
        """Holds the organisation's calls for ``seconds`` (Xero's Retry-After)."""
        ...

    def day_wait(self) -> float:
        """Seconds until calls go again when the day budget is spent, else 0."""
        ...


class OrgLimiter:
    def __init__(self, per_minute: int, concurrent: int, per_day: int) -> None:
        self.per_minute, self.per_day = per_minute, per_day
        self._slots = asyncio.Semaphore(concurrent)
        self._recent: deque[float] = deque()
        self._day_start, self._day_count = time.monotonic(), 0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def day_wait(self) -> float:
        """Seconds until calls go again when this organisation's day budget is spent, else 0."""
        now = time.monotonic()
        if now - self._day_start >= 86_400 or self._day_count < self.per_day:
            return 0.0
        return 86_400 - (now - self._day_start)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def _wait_turn(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now - self._day_start >= 86_400:
                    self._day_start, self._day_count = now, 0
                while self._recent and now - self._recent[0] >= 60:
                    self._recent.popleft()
                waits = [self._paused_until - now]
                if len(self._recent) >= self.per_minute:
                    waits.append(60 - (now - self._recent[0]))
                if self._day_count >= self.per_day:
                    waits.append(86_400 - (now - self._day_start))
                wait = max(waits)
                if wait <= 0:
                    self._recent.append(now)
                    self._day_count += 1
                    return
                await asyncio.sleep(min(wait, 5.0))

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._wait_turn()
            yield
