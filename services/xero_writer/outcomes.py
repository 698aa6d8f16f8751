"""What every Xero operation shares: the call signature, idempotency keys, and answers."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from shared.contracts.commands import AnyCommand
from shared.contracts.results import XeroResult

# call(method, path, params=..., body=..., content=..., idempotency_key=...), bound to one
# organisation, its token and its limiter.
Call = Callable[..., Awaitable[dict[str, Any]]]


def batch_key(commands: Sequence[AnyCommand], step: str) -> str:
    """The same commands in the same step always send the same Idempotency-Key."""
    digest = hashlib.sha256("|".join([step, *sorted(c.command_id for c in commands)]).encode())
    return f"rx-{step}-{digest.hexdigest()[:48]}"


def result(cmd: AnyCommand, type_: str, **fields: Any) -> XeroResult:
    return XeroResult(
        result_id=cmd.command_id,
        type=type_,  # type: ignore[arg-type]
        command_id=cmd.command_id,
        command_kind=cmd.kind,
        company_id=cmd.company_id,
        document_kind=cmd.document_kind,
        document_id=cmd.document_id,
        **fields,
    )


def failed(cmd: AnyCommand, message: str) -> XeroResult:
    return result(cmd, "XeroCommandFailed", message=message)


def money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def join_notes(*notes: str | None) -> str | None:
    """Warnings for one result, in order, as one message (None when there are none)."""
    kept = [n for n in notes if n]
    return "; ".join(kept) or None
