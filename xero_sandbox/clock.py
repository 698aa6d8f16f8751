"""The sandbox's notion of now: real time, optionally faster, optionally pushed forward.

Tests jump the clock instead of sleeping; benchmarks run it faster so a day's quota
passes in minutes. Every expiry (tokens, codes, idempotency keys, rate windows) reads it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        self._anchor_real = time.monotonic()
        self._anchor_virtual = datetime.now(UTC)
        self._speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._anchor_real) * self._speed
        return self._anchor_virtual + timedelta(seconds=elapsed)

    def set_speed(self, speed: float) -> None:
        # Re-anchor so changing speed never makes time jump backwards.
        self._anchor_virtual = self.now()
        self._anchor_real = time.monotonic()
        self._speed = speed

    def advance(self, seconds: float) -> None:
        self._anchor_virtual += timedelta(seconds=seconds)

    def real_seconds(self, virtual_seconds: float) -> float:
        """How long a client must really wait for `virtual_seconds` of sandbox time to pass."""
        return virtual_seconds / self._speed if self._speed > 0 else virtual_seconds
