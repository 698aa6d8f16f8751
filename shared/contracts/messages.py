"""Refusal messages for Roger events: one line each, field path first, bounded in size.

Every reason an event is refused (schema, rules, hygiene, the edge's own checks) reads
``<field path>: <what is wrong>``, e.g. ``data.attachments[1].url: must be an absolute
http(s) URL with a host, got the string "file:///etc/passwd"``:

- the path is dotted, with array indices in brackets, from the event's root (``(event)`` for
  the root itself); a member name that is not a plain identifier is quoted (``data["a b"]``);
- a value quoted back is cut to :data:`MAX_QUOTED_CHARS` characters, then ``…(N characters)``,
  with control characters and lone surrogates as ``\\uXXXX`` escapes: a 5 MB invalid value
  gives a short message, and any message can be encoded as UTF-8 and logged;
- no library text leaks through (no multi-line pydantic reports, no documentation URLs).

Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

# Long enough to recognise a value, short enough that thousands of refusals stay small.
MAX_QUOTED_CHARS = 100
# A path longer than this is cut like a value (32 levels of 100-character names would be 3 KB).
MAX_PATH_CHARS = 300
# At most this many errors are listed in one refusal (a 422 or a dead letter's reason); the
# rest are counted ("and N more"). Enough to fix a body; the batch is refused whole anyway.
MAX_ERRORS_LISTED = 50

ROOT = "(event)"

# C0 controls, DEL, C1 controls and surrogate code points: escaped whenever text is echoed.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}
_FORMATS = {
    "date-time": "an RFC 3339 date-time with a UTC offset (2026-11-20T09:10:00+01:00)",
    "date": "a date YYYY-MM-DD",
    "uuid": "a UUID",
}


def clip(text: str, limit: int = MAX_QUOTED_CHARS, *, quoted: bool = False) -> str:
    """``text`` safe and short enough to echo: cut to ``limit`` characters, unprintables as
    ``\\uXXXX``, then ``…(N characters)`` (N: the original length) when it was cut.

    ``quoted`` puts the kept part in double quotes (``\\`` and ``"`` escaped inside).
    """
    cut = text[:limit]
    if quoted:
        cut = '"' + cut.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if _UNPRINTABLE.search(cut):
        cut = _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", cut)
    return cut + (f"…({len(text)} characters)" if len(text) > limit else "")


def field_path(path: Iterable[str | int]) -> str:
    """``("data", "attachments", 1, "url")`` -> ``data.attachments[1].url``; ``()`` ->
    ``(event)``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{quote(part)}]")
    return clip("".join(out), MAX_PATH_CHARS) or ROOT


def quote(text: str) -> str:
    """A string value as it is echoed: in double quotes, clipped (see :func:`clip`)."""
    return clip(text, quoted=True)


def described(value: Any) -> str:
    """What a JSON value is, for "got ...": ``the string "1"``, ``the integer 1``, ``null``,
    ``an object``, ``an array of 3 items``; never longer than a clipped string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"the integer {clip(str(value), 40)}"
    if isinstance(value, float):
        return f"the number {clip(repr(value), 40)}"
    if isinstance(value, str):
        return "the empty string" if value == "" else f"the string {quote(value)}"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return clip(type(value).__name__)


def prefixed(path: str, message: str) -> str:
    """An event's message seen from an outer root: ``events[3]`` + ``data.total: ...``."""
    if message.startswith(ROOT):
        return path + message[len(ROOT) :]
    return path + ("" if message.startswith("[") else ".") + message


def unique(messages: Iterable[str]) -> list[str]:
    """Duplicates dropped, first occurrence kept (the schema can report one fault twice)."""
    return list(dict.fromkeys(messages))


def listed(messages: Sequence[str], limit: int = MAX_ERRORS_LISTED) -> list[str]:
    """The first ``limit`` messages, then ``and N more`` when some were left out."""
    if len(messages) <= limit:
        return list(messages)
    return [*messages[:limit], f"and {len(messages) - limit} more"]


def schema_messages(error: Any) -> list[str]:
    """One ``jsonschema`` ``ValidationError`` as messages (a ``required`` error gives one per
    missing member, each with that member's path)."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        return [f"{field_path([*path, p])}: is required" for p in missing]
    return [f"{field_path(path)}: {_what(error)}"]


def _what(error: Any) -> str:
    rule, expected, got = error.validator, error.validator_value, error.instance
    if rule == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        return f"must be {' or '.join(_KINDS.get(k, k) for k in kinds)}, got {described(got)}"
    if rule == "const":
        return f"must be {described(expected)}, got {described(got)}"
    if rule == "enum":
        choices = ", ".join(json.dumps(v) for v in expected)
        return f"must be one of {clip(choices, 400)}, got {described(got)}"
    if rule in ("minLength", "maxLength") and isinstance(got, str):
        if rule == "minLength" and got == "":
            return "must not be empty"
        bound = "at least" if rule == "minLength" else "at most"
        return f"must be {bound} {expected} characters long, got {len(got)}"
    if rule in ("minItems", "maxItems") and isinstance(got, list):
        bound = "at least" if rule == "minItems" else "at most"
        return f"must hold {bound} {expected} items, got {len(got)}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }[rule]
        return f"must be {bound} {expected}, got {described(got)}"
    if rule == "pattern":
        return f"must match {clip(str(expected))}, got {described(got)}"
    if rule == "format":
        return f"must be {_FORMATS.get(expected, clip(str(expected)))}, got {described(got)}"
    if rule in ("anyOf", "oneOf"):
        return _alternatives(error)
    return f"does not satisfy the contract's {clip(str(rule), 40)} rule, got {described(got)}"


def _alternatives(error: Any) -> str:
    """The contract's ``anyOf`` are "this or null": say what "this" wanted."""
    got = error.instance
    branches = [
        e
        for e in error.context or ()
        if not (e.validator == "type" and e.validator_value == "null")
    ]
    nullable = len(branches) < len(error.context or ())
    if branches and all(e.validator == "type" for e in branches):
        kinds = [
            k
            for e in branches
            for k in (
                [e.validator_value] if isinstance(e.validator_value, str) else e.validator_value
            )
        ]
        kinds += ["null"] if nullable else []
        return (
            f"must be {' or '.join(_KINDS.get(k, k) for k in unique(kinds))}, got {described(got)}"
        )
    inner = [_what(e) for e in branches if list(e.absolute_path) == list(error.absolute_path)]
    if inner:
        first = unique(inner)[0]
        if nullable and first.startswith("must "):  # "must be null or at most 10 characters..."
            return "must be null or " + first.removeprefix("must ").removeprefix("be ")
        return first
    return f"matches none of the forms the contract allows, got {described(got)}"


def pydantic_messages(exc: Any) -> list[str]:
    """A pydantic ``ValidationError`` as messages: its ``loc`` and ``msg`` only (no input, no
    URL); a backstop, since the schema refuses first what pydantic would."""
    out = []
    for e in exc.errors(include_url=False, include_input=False):
        loc = [p for p in e.get("loc", ()) if isinstance(p, str | int)]
        msg = " ".join(str(e.get("msg", "invalid")).split())
        out.append(f"{field_path(loc)}: {clip(msg[:1].lower() + msg[1:], 300)}")
    return unique(out)
