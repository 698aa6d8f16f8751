"""Credit notes (ACCPAYCREDIT/ACCRECCREDIT) and their allocations."""

from __future__ import annotations

from typing import Any

from .common import Ctx


def settle(ctx: Ctx, note: dict[str, Any]) -> None:
    raise NotImplementedError


def render(ctx: Ctx, note: dict[str, Any], with_lines: bool = True) -> dict[str, Any]:
    return dict(note)


def render_allocation(ctx: Ctx, allocation: dict[str, Any]) -> dict[str, Any]:
    return dict(allocation)
