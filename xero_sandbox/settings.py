"""Run-time knobs: limits, faults per organisation, clock speed, lifetimes.

`PUT /_sandbox/settings` merges a partial document into these; unknown keys are refused
so a typo in a test cannot silently leave a limit at its default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


class SettingsError(ValueError):
    pass


@dataclass
class Limits:
    enabled: bool = True
    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10000


@dataclass
class Faults:
    """Injected failures for one organisation (or for all, under the key "*").

    `*_rate` is the share of calls affected (0..1); `*_next` forces the next N calls.
    """

    error_rate: float = 0.0
    error_next: int = 0
    error_status: int = 500  # 500 or 503
    delay_rate: float = 0.0
    delay_next: int = 0
    delay_seconds: float = 0.0
    drop_rate: float = 0.0
    drop_next: int = 0
    # Which methods the drop applies to; a dropped GET is harmless but still realistic.
    drop_methods: list[str] = field(default_factory=lambda: ["POST", "PUT", "DELETE"])
    # Which methods the delay applies to (empty: every method).
    delay_methods: list[str] = field(default_factory=list)
    latency_seconds: float = 0.0


@dataclass
class Settings:
    limits: Limits = field(default_factory=Limits)
    faults: dict[str, Faults] = field(default_factory=dict)
    clock_speed: float = 1.0
    access_token_seconds: int = 1800
    refresh_grace_seconds: int = 1800
    refresh_token_days: int = 60
    code_seconds: int = 300
    idempotency_seconds: int = 360
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachments_per_document: int = 10
    request_max_bytes: int = 3_500_000
    # Xero may keep the valid elements of a batch answered 400 (summarizeErrors=true).
    summarized_batch_commits_valid: bool = True
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, patch: dict[str, Any]) -> None:
        if not isinstance(patch, dict):
            raise SettingsError("settings must be a JSON object")
        known = {f.name for f in fields(self)} | {"advance_clock_seconds"}
        for key, value in patch.items():
            if key not in known:
                raise SettingsError(f"unknown setting {key!r}")
            if key == "advance_clock_seconds":
                continue
            if key == "limits":
                _merge_dataclass(self.limits, value)
            elif key == "faults":
                if not isinstance(value, dict):
                    raise SettingsError("faults must map a tenant id (or '*') to a fault object")
                for tenant, spec in value.items():
                    if spec is None:
                        self.faults.pop(tenant, None)
                        continue
                    current = self.faults.get(tenant) or Faults()
                    _merge_dataclass(current, spec)
                    if current.error_status not in (500, 503):
                        raise SettingsError("error_status must be 500 or 503")
                    self.faults[tenant] = current
            else:
                setattr(self, key, _coerce(key, getattr(self, key), value))


def _merge_dataclass(target: Any, patch: Any) -> None:
    if not isinstance(patch, dict):
        raise SettingsError(f"expected an object for {type(target).__name__}")
    names = {f.name for f in fields(target)}
    for key, value in patch.items():
        if key not in names:
            raise SettingsError(f"unknown setting {key!r}")
        setattr(target, key, _coerce(key, getattr(target, key), value))


def _coerce(key: str, current: Any, value: Any) -> Any:
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{key} must be a boolean")
        return value
    if isinstance(current, int | float) and not isinstance(value, bool):
        if isinstance(value, int | float):
            if value < 0:
                raise SettingsError(f"{key} must not be negative")
            return type(current)(value)
    if isinstance(current, list) and isinstance(value, list):
        return [str(v).upper() for v in value]
    raise SettingsError(f"bad value for {key}")
