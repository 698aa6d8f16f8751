"""Bank transactions (SPEND/RECEIVE)."""

from __future__ import annotations

from typing import Any

from .common import Ctx


def render(ctx: Ctx, transaction: dict[str, Any]) -> dict[str, Any]:
    return dict(transaction)
