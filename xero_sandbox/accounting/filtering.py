"""`where=` and `order=` applied to a list, with Xero's error for a filter it cannot parse."""

from __future__ import annotations

from typing import Any

from ..wire import query_parse_error
from .common import ApiError, Ctx
from .where import WhereError, compile_where, sort_items


def filtered(
    ctx: Ctx,
    items: list[dict[str, Any]],
    fields: set[str],
    type_name: str,
    default_order: str | None,
) -> list[dict[str, Any]]:
    where = ctx.q("where")
    try:
        if where and where.strip():
            test = compile_where(where, fields, type_name)
            items = [item for item in items if test(item)]
        return sort_items(items, ctx.q("order") or default_order)
    except WhereError as exc:
        raise ApiError(400, query_parse_error(str(exc))) from exc
