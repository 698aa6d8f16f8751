"""Check the sandbox's answers against the response schemas of Xero's OpenAPI spec.

Deliberately separate from the sandbox's own request validation: a shared mistake would
hide itself. Also checks what the spec only hints at and xero-python relies on: fields
marked `x-is-msdate` must be `/Date(ms±zzzz)/` strings.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker

SPEC_DIR = Path(__file__).resolve().parents[2] / "xero_sandbox" / "spec"
MS_DATE = r"^/Date\(-?\d+([+-]\d{4})?\)/$"


def _load(name: str) -> dict[str, Any]:
    with (SPEC_DIR / name).open() as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = "#/definitions/" + value.rsplit("/", 1)[-1]
        elif key in ("example", "examples", "xml") or key.startswith("x-"):
            continue
        elif key == "properties":
            out[key] = {k: _convert(v) for k, v in value.items()}
        else:
            out[key] = _convert(value)
    if node.get("x-is-msdate") and out.get("type") == "string":
        out["pattern"] = MS_DATE
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "$ref" in out:
        return {"$ref": out["$ref"]}
    return out


@functools.lru_cache(maxsize=1)
def _operations() -> list[tuple[str, list[str], dict[str, Any], dict[str, Any]]]:
    out = []
    for name, prefix in (("xero_accounting.yaml", "/api.xro/2.0"), ("xero-identity.yaml", "")):
        spec = _load(name)
        definitions = {k: _convert(v) for k, v in spec["components"]["schemas"].items()}
        shared = spec["components"].get("responses", {})
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                schemas = {}
                for status, response in operation["responses"].items():
                    if "$ref" in response:
                        response = shared[response["$ref"].rsplit("/", 1)[-1]]
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if schema is not None:
                        schemas[str(status)] = _convert(schema)
                segments = (prefix + path).strip("/").split("/")
                out.append((method.upper(), segments, schemas, definitions))
    out.sort(key=lambda op: sum(s.startswith("{") for s in op[1]))
    return out


def _find(method: str, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    parts = path.strip("/").split("/")
    for op_method, segments, schemas, definitions in _operations():
        if op_method != method or len(segments) != len(parts):
            continue
        if all(
            s.startswith("{") or s.lower() == p.lower()
            for s, p in zip(segments, parts, strict=True)
        ):
            return schemas, definitions
    return None


def problems(exchange: dict[str, Any]) -> list[str]:
    """What is wrong with one recorded answer; empty when it matches the spec."""
    if not exchange["media_type"].startswith("application/json"):
        return []
    found = _find(exchange["method"], exchange["path"])
    where = f"{exchange['method']} {exchange['path']} → {exchange['status']}"
    if found is None:
        return [f"{where}: no such operation in the spec"]
    schemas, definitions = found
    schema = schemas.get(str(exchange["status"]))
    if schema is None:
        return []  # 401/403/429/500 bodies are the gateway's, not in the spec
    body = json.loads(base64.b64decode(exchange["body"]))
    document = dict(schema, definitions=definitions)
    validator = Draft7Validator(document, format_checker=FormatChecker(formats=["uuid"]))
    return [
        f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ][:10]
