"""Xero's rate limits: per organisation per app 5 at once, 60 a minute, 5,000 a day; and
10,000 a minute per app across organisations.

Windows are fixed, not rolling, and each starts at its first call, so organisations reset
at different moments, as Xero's do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .settings import Limits

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@dataclass
class Window:
    start: datetime
    length: timedelta
    count: int = 0

    def roll(self, now: datetime) -> None:
        if now >= self.start + self.length:
            self.start = now
            self.count = 0

    def seconds_left(self, now: datetime) -> float:
        return max(0.0, (self.start + self.length - now).total_seconds())


@dataclass
class Refusal:
    problem: str  # X-Rate-Limit-Problem
    retry_after_virtual: float | None


@dataclass
class RateLimiter:
    minute: dict[tuple[str, str], Window] = field(default_factory=dict)
    day: dict[tuple[str, str], Window] = field(default_factory=dict)
    app_minute: dict[str, Window] = field(default_factory=dict)
    in_flight: dict[tuple[str, str], int] = field(default_factory=dict)

    def _window(self, table: dict, key: object, now: datetime, length: timedelta) -> Window:
        window = table.get(key)
        if window is None:
            window = table[key] = Window(start=now, length=length)
        window.roll(now)
        return window

    def admit(
        self, now: datetime, client_id: str, tenant_id: str, limits: Limits
    ) -> Refusal | None:
        """Count the call if it may proceed; otherwise say which limit it hit."""
        key = (client_id, tenant_id)
        minute = self._window(self.minute, key, now, MINUTE)
        day = self._window(self.day, key, now, DAY)
        app = self._window(self.app_minute, client_id, now, MINUTE)
        if limits.enabled:
            if self.in_flight.get(key, 0) >= limits.concurrent:
                return Refusal("concurrent", None)
            if app.count >= limits.app_per_minute:
                return Refusal("appminute", None)
            if day.count >= limits.per_day:
                return Refusal("day", day.seconds_left(now))
            if minute.count >= limits.per_minute:
                return Refusal("minute", minute.seconds_left(now))
        minute.count += 1
        day.count += 1
        app.count += 1
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        return None

    def release(self, client_id: str, tenant_id: str) -> None:
        key = (client_id, tenant_id)
        self.in_flight[key] = max(0, self.in_flight.get(key, 0) - 1)

    def headers(
        self, now: datetime, client_id: str, tenant_id: str | None, limits: Limits
    ) -> dict[str, str]:
        app = self._window(self.app_minute, client_id, now, MINUTE)
        headers = {"X-AppMinLimit-Remaining": str(max(0, limits.app_per_minute - app.count))}
        if tenant_id is not None:
            key = (client_id, tenant_id)
            minute = self._window(self.minute, key, now, MINUTE)
            day = self._window(self.day, key, now, DAY)
            headers["X-MinLimit-Remaining"] = str(max(0, limits.per_minute - minute.count))
            headers["X-DayLimit-Remaining"] = str(max(0, limits.per_day - day.count))
        return headers


def retry_after_header(virtual_seconds: float, speed: float) -> str:
    """Retry-After in real seconds: with a faster clock the wait shrinks accordingly."""
    real = virtual_seconds / speed if speed > 0 else virtual_seconds
    return str(max(1, math.ceil(real)))
