"""The `where=` filter language (a small subset of .NET Dynamic LINQ, as Xero uses it).

Supports `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`/`AND`, `||`/`OR`, `!`/`NOT`, parentheses,
strings, numbers, true/false/null, `GUID("…")`, `DateTime(y,m,d[,h,mi,s])`, nested fields
(`Contact.ContactID`) and `.Contains/.StartsWith/.EndsWith/.ToLower/.ToUpper`. String
equality ignores case, as Xero's SQL-backed filter does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


class WhereError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|&&|\|\||=|<|>|!|\(|\)|,|\.)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass
class Tok:
    kind: str
    value: str


def _tokens(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise WhereError(f"Syntax error at position {pos} in '{text}'")
        pos = match.end()
        kind = match.lastgroup or ""
        out.append(Tok(kind, match.group(kind)))
    return out


Node = Callable[[dict[str, Any]], Any]


class _Parser:
    def __init__(self, text: str, fields: set[str], type_name: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.fields = {f.lower() for f in fields}
        self.type_name = type_name

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> Tok:
        tok = self.peek()
        if tok is None or (value is not None and tok.value.upper() != value.upper()):
            raise WhereError(f"'{value}' expected")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.value.upper() in values

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise WhereError(f"Syntax error near '{self.peek().value}'")  # type: ignore[union-attr]
        return node

    def or_(self) -> Node:
        left = self.and_()
        while self.at("||", "OR"):
            self.take()
            right = self.and_()
            left = (lambda a, b: lambda o: bool(a(o)) or bool(b(o)))(left, right)
        return left

    def and_(self) -> Node:
        left = self.not_()
        while self.at("&&", "AND"):
            self.take()
            right = self.not_()
            left = (lambda a, b: lambda o: bool(a(o)) and bool(b(o)))(left, right)
        return left

    def not_(self) -> Node:
        if self.at("!", "NOT"):
            self.take()
            inner = self.not_()
            return lambda o: not inner(o)
        return self.compare()

    def compare(self) -> Node:
        left = self.primary()
        if self.at("==", "=", "!=", "<", "<=", ">", ">="):
            op = self.take().value
            right = self.primary()
            return (lambda a, b, op: lambda o: _compare(a(o), b(o), op))(left, right, op)
        return left

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise WhereError("Expression expected")
        if tok.value == "(":
            self.take()
            node = self.or_()
            self.take(")")
            return self.methods(node)
        if tok.kind == "str":
            self.take()
            literal = _unquote(tok.value)
            return self.methods(lambda o: literal)
        if tok.kind == "num":
            self.take()
            number = Decimal(tok.value)
            return lambda o: number
        if tok.kind == "name":
            upper = tok.value.upper()
            if upper in ("TRUE", "FALSE"):
                self.take()
                flag = upper == "TRUE"
                return lambda o: flag
            if upper == "NULL":
                self.take()
                return lambda o: None
            if upper == "GUID":
                self.take()
                self.take("(")
                raw = _unquote(self.take().value)
                self.take(")")
                try:
                    value = str(uuid.UUID(raw))
                except ValueError as exc:
                    raise WhereError(f"'{raw}' is not a valid GUID") from exc
                return lambda o: value
            if upper == "DATETIME":
                self.take()
                self.take("(")
                parts = [int(self.take().value)]
                while self.at(","):
                    self.take()
                    parts.append(int(self.take().value))
                self.take(")")
                try:
                    moment = datetime(*parts[:6], tzinfo=UTC)  # type: ignore[misc,arg-type]
                except (TypeError, ValueError) as exc:
                    raise WhereError("invalid DateTime") from exc
                return lambda o: moment
            return self.path()
        raise WhereError(f"Syntax error near '{tok.value}'")

    def path(self) -> Node:
        names = [self.take().value]
        while self.at(".") and self._next_is_field():
            self.take(".")
            names.append(self.take().value)
        if names[0].lower() not in self.fields:
            raise WhereError(f"No property or field '{names[0]}' exists in type '{self.type_name}'")
        return self.methods(lambda o: _lookup(o, names))

    def _next_is_field(self) -> bool:
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
        after = self.toks[self.i + 2] if self.i + 2 < len(self.toks) else None
        return nxt is not None and nxt.kind == "name" and (after is None or after.value != "(")

    def methods(self, node: Node) -> Node:
        while self.at("."):
            self.take(".")
            name = self.take().value.lower()
            self.take("(")
            args: list[Node] = []
            if not self.at(")"):
                args.append(self.or_())
                while self.at(","):
                    self.take()
                    args.append(self.or_())
            self.take(")")
            node = _method(node, name, args)
        return node


def _method(node: Node, name: str, args: list[Node]) -> Node:
    if name in ("contains", "startswith", "endswith") and len(args) == 1:
        arg = args[0]

        def test(o: dict[str, Any]) -> bool:
            value, needle = node(o), arg(o)
            if value is None or needle is None:
                return False
            hay, sub = str(value).lower(), str(needle).lower()
            if name == "contains":
                return sub in hay
            return hay.startswith(sub) if name == "startswith" else hay.endswith(sub)

        return test
    if name in ("tolower", "toupper") and not args:
        return lambda o: (
            None
            if node(o) is None
            else (str(node(o)).lower() if name == "tolower" else str(node(o)).upper())
        )
    raise WhereError(f"No applicable method '{name}' exists")


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _lookup(obj: Any, names: list[str]) -> Any:
    for name in names:
        if not isinstance(obj, dict):
            return None
        lowered = name.lower()
        obj = next((v for k, v in obj.items() if k.lower() == lowered), None)
    return obj


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if isinstance(value, str):
        return value.lower()
    return value


def _compare(left: Any, right: Any, op: str) -> bool:
    a, b = _norm(left), _norm(right)
    if op in ("==", "="):
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError as exc:
        raise WhereError(f"Operator '{op}' incompatible with operand types") from exc


def compile_where(text: str, fields: set[str], type_name: str) -> Node:
    return _Parser(text, fields, type_name).parse()


def order_key(text: str | None) -> tuple[list[str], bool] | None:
    """`order=Name ASC` / `order=Date DESC` → (field path, descending)."""
    if not text:
        return None
    parts = text.strip().split()
    if not parts or len(parts) > 2:
        raise WhereError(f"Invalid order '{text}'")
    descending = len(parts) == 2 and parts[1].upper() == "DESC"
    return parts[0].split("."), descending


def sort_items(items: list[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    spec = order_key(text)
    if spec is None:
        return items
    path, descending = spec

    def key(item: dict[str, Any]) -> tuple[int, Any]:
        value = _norm(_lookup(item, path))
        return (0, value) if value is not None else (1, "")

    try:
        return sorted(items, key=key, reverse=descending)
    except TypeError as exc:
        raise WhereError(f"Invalid order '{text}'") from exc
