"""Request bodies checked against Xero's OpenAPI spec (xero_accounting.yaml).

The spec is loaded once. Its schemas become JSON Schema (draft 7): `$ref`s rewritten,
`nullable` honoured, read-only properties accepted as anything (the SDK sends defaults for
them and Xero ignores them), and `required` left to the handlers, which answer missing
elements with Xero's own validation messages.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from ..wire import post_data_invalid
from .common import ApiError

SPEC = Path(__file__).resolve().parent.parent / "spec" / "xero_accounting.yaml"
_REF = "#/components/schemas/"
# The spec's example for deleting a payment wraps it in {"Payments": [...]}, its schema
# does not; both reach the handler, which reads either.
_SKIP = {("POST", "/Payments/{PaymentID}")}


def _is_number(_: Any, value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_integer(_: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, Decimal | float) and value == int(value)


_Validator = extend(
    Draft7Validator,
    type_checker=Draft7Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": _is_integer}
    ),
)


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("readOnly"):
        return {}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
            out[key] = "#/definitions/" + value[len(_REF) :]
        elif key in ("required", "example", "examples", "discriminator", "xml"):
            continue
        elif key.startswith("x-"):
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(prop) for name, prop in value.items()}
        else:
            out[key] = _convert(value)
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if "$ref" in out:
        # Draft 7 ignores siblings of $ref; keep it that way explicitly.
        return {"$ref": out["$ref"]}
    return out


@functools.lru_cache(maxsize=1)
def _spec() -> tuple[dict[str, Any], list[tuple[str, list[str], dict[str, Any]]]]:
    with SPEC.open() as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(handle, Loader=loader)  # noqa: S506 - safe loader
    definitions = {
        name: _convert(schema) for name, schema in document["components"]["schemas"].items()
    }
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method.upper() not in ("PUT", "POST"):
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            schema = (content.get("application/json") or {}).get("schema")
            if schema is None or (method.upper(), path) in _SKIP:
                continue
            operations.append((method.upper(), path.strip("/").split("/"), schema))
    # Literal segments beat placeholders when two templates fit the same URL.
    operations.sort(key=lambda op: sum(part.startswith("{") for part in op[1]))
    return definitions, operations


@functools.lru_cache(maxsize=256)
def _validators(method: str, path: str) -> tuple[Any, Any] | None:
    """(the compiled check, jsonschema's validator) of the operation's body, or None.

    The compiled one (``jsonschema_rs``, same schema, formats not asserted, like jsonschema
    without a format checker) answers "valid?" at a small share of the cost; jsonschema still
    finds the error Xero's message names, so an invalid body is judged as before.
    """
    validator = _validator(method, path)
    if validator is None:
        return None
    fast = jsonschema_rs.Draft7Validator(validator.schema, validate_formats=False)
    return fast, validator


@functools.lru_cache(maxsize=256)
def _validator(method: str, path: str) -> Any:
    definitions, operations = _spec()
    parts = path.strip("/").split("/")
    for op_method, segments, schema in operations:
        if op_method != method or len(segments) != len(parts):
            continue
        if all(
            s.startswith("{") or s.lower() == p.lower()
            for s, p in zip(segments, parts, strict=True)
        ):
            document = dict(_convert(schema))
            document["definitions"] = definitions
            return _Validator(document)
    return None


def check_body(method: str, path: str, body: Any) -> None:
    both = _validators(method, path)
    if both is None:
        return
    fast, validator = both
    if fast.is_valid(body):
        return
    error: ValidationError | None = next(iter(validator.iter_errors(body)), None)
    if error is None:
        return
    location = _location(error)
    shown = repr(error.instance)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise ApiError(
        400,
        post_data_invalid(f"Error converting value {shown} at '{location}': {_reason(error)}"),
    )


def _location(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _reason(error: ValidationError) -> str:
    if error.validator == "enum":
        return "the value is not one of the allowed values"
    if error.validator == "type":
        return f"expected {error.validator_value}"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    return str(error.message)[:200]


def warm_up() -> None:
    """Load the spec now rather than on the first write."""
    _spec()
