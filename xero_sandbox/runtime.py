"""The running sandbox: state, settings, clock and the per-process stores around them."""

from __future__ import annotations

import random
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .clock import Clock
from .idempotency import IdempotencyStore
from .limits import RateLimiter
from .persistence import StateFile
from .settings import Settings
from .state import SandboxState
from .webhooks import Webhooks


@dataclass
class Exchange:
    """One API answer as sent, kept so tests can check it against the spec."""

    seq: int
    method: str
    path: str
    status: int
    media_type: str
    body: bytes


class Sandbox:
    def __init__(self, state_path: Path | None = None) -> None:
        self.settings = Settings()
        self.clock = Clock()
        self.rng = random.Random()
        self.jwt_secret = secrets.token_bytes(32)
        self.limiter = RateLimiter()
        self.idempotency = IdempotencyStore()
        self.exchanges: deque[Exchange] = deque(maxlen=20_000)
        self.errors: list[str] = []
        self.webhooks = Webhooks()
        self._seq = 0
        self._file = StateFile(state_path) if state_path else None
        loaded = self._file.load() if self._file else None
        self.state = loaded or SandboxState()

    def now(self) -> datetime:
        return self.clock.now()

    def save(self) -> None:
        if self._file is not None:
            self._file.save(self.state)

    def reset(self) -> None:
        self.state = SandboxState()
        self.settings = Settings()
        self.clock = Clock()
        self.limiter = RateLimiter()
        self.idempotency.clear()
        self.exchanges.clear()
        self.errors.clear()
        self.webhooks.close()
        self.webhooks = Webhooks()
        self.save()

    def apply_settings_side_effects(self, patch: dict) -> None:
        if "clock_speed" in patch:
            self.clock.set_speed(self.settings.clock_speed)
        if patch.get("advance_clock_seconds"):
            self.clock.advance(float(patch["advance_clock_seconds"]))
        if "seed" in patch and self.settings.seed is not None:
            self.rng.seed(self.settings.seed)

    def record(self, method: str, path: str, status: int, media_type: str, body: bytes) -> None:
        self._seq += 1
        self.exchanges.append(Exchange(self._seq, method, path, status, media_type, body))

    def changed(self, tenant_id: str | None = None) -> None:
        """Announce what changed in one organisation (or all) to the webhook subscribers."""
        orgs = self.state.organisations
        for org in [orgs[tenant_id]] if tenant_id in orgs else list(orgs.values()):
            self.webhooks.observe(self, org)

    def close(self) -> None:
        self.webhooks.close()
        if self._file is not None:
            self._file.close()
