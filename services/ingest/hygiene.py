"""Input hygiene at the edge: reading untrusted JSON safely, and what no field may hold.

Pure functions, no I/O. Everything Roger sends (over HTTP or on ``roger.events``) passes
through :func:`decode` and :func:`problems` before the contract's schema sees it, so that:

- parsing never raises: Python's ``json`` raises ``RecursionError`` on deep nesting and
  ``ValueError`` on integers over 4,300 digits; both become a reason;
- nothing downstream receives what it cannot store or send: control characters (tab, newline
  and carriage return are allowed in free text only), lone surrogates (not Unicode: they
  cannot even be encoded as UTF-8), NUL anywhere (PostgreSQL ``text`` and ``jsonb`` cannot
  store U+0000 and Xero would not take it), nesting deeper than :data:`MAX_DEPTH`, numbers
  longer than :data:`MAX_NUMBER_CHARS`, and ``NaN``/``Infinity`` (not JSON at all).

Each problem names its field as a path (``data.lines[3].description``), like the contract's
schema errors (``shared.contracts.messages``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from shared.contracts.messages import clip, field_path
from shared.contracts.roger_events import FREE_TEXT_FIELDS, is_id_field

# The contract's deepest value is 6 containers down (event, data, lines, a line, tracking, a
# tracking entry); 32 leaves room for forward-compatible extra fields while keeping every later
# step (schema validation, pydantic, serialisation) far from Python's recursion limit.
MAX_DEPTH = 32
# The contract's numbers are small integers (version, attachment size <= 10,485,760); money is
# a string. 40 characters hold any int64 or float spelling with room; a longer number is an
# attack or a bug, and ints over 4,300 digits make Python's int() raise.
MAX_NUMBER_CHARS = 40
# Enough to fix a body; a body with thousands of problems needs no more than this to be refused.
MAX_PROBLEMS = 20

Path = tuple[str | int, ...]

# C0 controls, DEL, C1 controls (Unicode category Cc) and surrogate code points. After
# json.loads a valid surrogate pair is one astral character, so any surrogate left is lone.
_STRICT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Strings (with escapes) and the structural characters, for locating over-deep nesting.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{},]')
# An escape that can make a control character or a surrogate in a string (C0 controls cannot
# appear raw in JSON, and UTF-8 cannot hold a surrogate), and C1 controls raw (see clean()).
_ESCAPE = re.compile(r"\\[bfnrtu]")
_C1 = re.compile("[\x80-\x9f]")


@dataclass(frozen=True)
class Problem:
    """One refused value: where it is (keys and array indices from the document's root)."""

    path: Path
    reason: str

    def describe(self, drop: int = 0) -> str:
        """``"data.lines[0].description: control character U+0007 at position 4"``.

        ``drop`` leaves out the first path elements (``events[3]`` when reporting per event).
        """
        return f"{pointer(self.path[drop:])}: {self.reason}"


class _Refused:
    """Stands in for a number or constant :func:`decode` would not take; :func:`problems`
    reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def pointer(path: Path) -> str:
    """The path as the schema errors print it (``data.lines[0]``); ``(event)`` for the root."""
    return field_path(path)


def printable(text: str, limit: int = 100) -> str:
    """``text`` safe to echo in an error or a log: controls and surrogates as ``\\uXXXX``,
    cut to ``limit`` characters then ``…(N characters)``."""
    return clip(text, limit)


def _parse_int(text: str) -> int | _Refused:
    if len(text) > MAX_NUMBER_CHARS:
        return _Refused(f"number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _parse_float(text: str) -> float | _Refused:
    if len(text) > MAX_NUMBER_CHARS:
        return _Refused(f"number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"number {text} is out of range")


def _parse_constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON value")


def decode(body: bytes) -> tuple[Any, str | None]:
    """UTF-8 JSON bytes -> (document, None), or (None, why it cannot be read). Never raises.

    Numbers over :data:`MAX_NUMBER_CHARS` and non-JSON constants come back as placeholders
    that :func:`problems` reports with their path.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8 (byte {exc.start})"
    try:
        doc = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        where = pointer(too_deep(text) or ())
        return None, f"{where}: nested deeper than {MAX_DEPTH} levels"
    except json.JSONDecodeError as exc:
        return None, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError as exc:  # the hooks stop int()'s 4,300-digit error; kept as a backstop
        return None, f"body is not readable JSON: {printable(str(exc))}"
    return doc, None


def too_deep(text: str, limit: int = MAX_DEPTH) -> Path | None:
    """The path of the first container nested deeper than ``limit`` in JSON ``text``.

    Only called when the parser gave up (RecursionError), so it need not be fast; it is
    iterative, so it cannot run out of stack itself.
    """
    # One entry per open container: its current key (object) or index (array).
    stack: list[list[Any]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        head = token[0]
        if head == '"':
            if match.group(1) and stack:  # an object key
                try:
                    stack[-1][1] = json.loads(token[: token.rindex('"') + 1])
                except ValueError:
                    stack[-1][1] = "?"
        elif head in "[{":
            if len(stack) >= limit:
                return tuple(selector for _, selector in stack)
            stack.append([head, 0 if head == "[" else ""])
        elif head in "]}":
            if stack:
                stack.pop()
        elif stack and stack[-1][0] == "[":  # a comma inside an array
            stack[-1][1] += 1
    return None


def clean(text: str, doc: Any) -> bool:
    """True only if :func:`problems` finds nothing in ``doc`` (decoded from ``text``) nor in
    any part of it; False means "look": :func:`problems` then says what, if anything.

    The common case's fast way (issue 14): no string can hold a refused character unless the
    text has an escape that makes one or holds DEL or a C1 control raw (an escaped ``\\n``
    in free text only sends the body the slow way); depth and refused numbers are found by a
    walk over the containers alone, without paths or string checks.
    """
    if ("\\" in text and _ESCAPE.search(text)) or "\x7f" in text:
        return False
    if not text.isascii() and _C1.search(text):
        return False
    if type(doc) is not dict and type(doc) is not list:
        return False  # a bare value: problems() looks at it
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        for item in value.values() if type(value) is dict else value:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is _Refused:
                return False
    return True


def problems(doc: Any) -> list[Problem]:
    """Every value of ``doc`` that no field may hold (at most :data:`MAX_PROBLEMS`).

    Walks iteratively, so any depth is safe; does not descend below :data:`MAX_DEPTH`.
    """
    found: list[Problem] = []
    stack: list[tuple[Any, Path, int]] = [(doc, (), 1)]
    while stack and len(found) < MAX_PROBLEMS:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                found.append(Problem(path, f"nested deeper than {MAX_DEPTH} levels"))
                continue
            children: list[tuple[Any, Path, int]] = []
            if isinstance(value, dict):
                for key, item in value.items():
                    reason = _string_problem(key, free_text=False, is_id=False)
                    if reason:
                        found.append(Problem((*path, key), f"member name holds {reason}"))
                    children.append((item, (*path, key), depth + 1))
            else:
                children = [(item, (*path, i), depth + 1) for i, item in enumerate(value)]
            stack.extend(reversed(children))  # popped in document order
        elif isinstance(value, str):
            field = path[-1] if path else ""
            is_text = isinstance(field, str) and field in FREE_TEXT_FIELDS
            reason = _string_problem(value, free_text=is_text, is_id=is_id_field(path))
            if reason:
                found.append(Problem(path, reason))
        elif isinstance(value, _Refused):
            found.append(Problem(path, value.reason))
    return found[:MAX_PROBLEMS]


def _string_problem(text: str, *, free_text: bool, is_id: bool) -> str | None:
    match = (_FREE_TEXT if free_text else _STRICT).search(text)
    if match is None:
        return None
    code = ord(match.group())
    where = f"at position {match.start()}"
    if code == 0:
        # PostgreSQL text/jsonb cannot store U+0000 and Xero would not take it: an id holding
        # one could never be stored or synced, however valid the contract's schema finds it.
        what = "an id" if is_id else "text"
        return f"NUL character (U+0000) {where}: {what} cannot hold NUL"
    if 0xD800 <= code <= 0xDFFF:
        return f"lone surrogate U+{code:04X} {where} (not valid Unicode)"
    allowed = " (only tab, newline and carriage return are allowed in free text)"
    return f"control character U+{code:04X} {where}" + ("" if free_text else allowed)
