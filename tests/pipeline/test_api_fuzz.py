"""No 500 on any input (issue 13): the HTTP APIs fuzzed from their own OpenAPI documents.

Schemathesis draws requests, valid and invalid (positive and negative generation), from each
running service's ``/openapi.json`` and sends them to the pipeline: the read API with the
service token, ingest (connect flow, setup page, health) and the writer. ``/v1/events`` reads
its body raw, so its document says little: it is fuzzed here unsigned with odd
``Roger-Signature`` headers (always a 4xx), and signed with the contract's examples mutated at
random (malformed JSON, wrong types, odd strings), which reach every check behind the
signature. Every answer must be below 500. Bounded: ``EXAMPLES`` per API and mode, and
``BUDGET_S`` seconds per API.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.schemas import BaseSchema

from services.ingest.signature import sign
from tests.fixtures.pipeline import SERVICE_TOKEN, WEBHOOK_SECRET, Pipeline

EXAMPLES = 200
BUDGET_S = 60.0
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_EVENTS = [
    json.loads(p.read_text()) for p in sorted((ROOT / "docs/contracts/examples").glob("*.json"))
]

BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


class Tally:
    """Requests sent to one API, their statuses, and every server error with its request."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self.deadline = time.monotonic() + BUDGET_S

    def over(self) -> bool:
        return time.monotonic() > self.deadline

    def record(self, status: int | None, what: str, detail: str) -> None:
        self.sent += 1
        if status is not None:
            self.statuses[status] += 1
        if status is None or status >= 500:
            self.server_errors.append(f"{what} -> {status}: {detail[:300]}")

    def check(self, allowed: set[int] | None = None, minimum: int = 50) -> None:
        statuses = dict(sorted(self.statuses.items()))
        print(f"\n{self.name}: {self.sent} requests, statuses {statuses}")
        assert self.sent >= minimum, f"{self.name}: too few requests to mean anything"
        assert not self.server_errors, "\n".join(self.server_errors[:20])
        if allowed is not None:
            assert set(self.statuses) <= allowed, self.statuses


def fuzz_schema(base_url: str, tally: Tally, headers: dict[str, str], **only: Any) -> None:
    """Every operation of the service's own OpenAPI document, positive and negative."""
    schema: BaseSchema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    if only:
        schema = schema.include(**only)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @BOUNDED
        @given(case=schema.as_strategy(generation_mode=mode))
        def one(case: Case) -> None:
            if tally.over():
                return
            what = f"{case.method} {case.formatted_path}"
            try:
                response = case.call(base_url=base_url, headers=headers, timeout=15)
            except Exception as exc:  # noqa: BLE001 - a dropped connection is a failure too
                tally.record(None, what, repr(exc))
                return
            tally.record(response.status_code, what, f"{response.text} ({case.as_curl_command()})")

        try:
            one()
        except Unsatisfiable:
            # No operation with anything to get wrong (the writer: health and metrics only).
            if mode is GenerationMode.POSITIVE:
                raise


def _json() -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=40)
        | st.sampled_from(["", "\x00", "acme\n", "é" * 300, "9" * 60, "2026-02-30", "-0"])
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )


@st.composite
def _mutated_event(draw: Callable[..., Any]) -> Any:
    """A contract example with one value (at any depth) replaced or removed."""
    event = json.loads(json.dumps(draw(st.sampled_from(EXAMPLE_EVENTS))))
    node = event
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return event
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = draw(_json())
        return event


def _post(url: str, tally: Tally, body: bytes, signature: str | None) -> None:
    headers = {b"Content-Type": b"application/json"}
    if signature is not None:
        # As bytes: a header may carry any latin-1 octet (httpx would refuse non-ASCII text).
        headers[b"Roger-Signature"] = signature.encode("latin-1")
    try:
        r = httpx.post(url, content=body, headers=headers, timeout=15)
    except Exception as exc:  # noqa: BLE001
        tally.record(None, f"POST /v1/events {signature!r}", repr(exc))
        return
    tally.record(r.status_code, f"POST /v1/events {signature!r} {body[:200]!r}", r.text)


@pytest.mark.stack
def test_no_server_error_on_any_input(pipeline: Pipeline) -> None:
    token = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    events_url = f"{pipeline.ingest_url}/v1/events"
    tallies: list[Tally] = []

    read_api = Tally("projector (read API)")
    fuzz_schema(pipeline.read_url, read_api, token)
    tallies.append(read_api)

    ingest = Tally("ingest (connect flow, setup page, events, health)")
    fuzz_schema(pipeline.ingest_url, ingest, token)
    tallies.append(ingest)

    writer = Tally("writer")
    fuzz_schema(f"http://127.0.0.1:{pipeline.services['writer'].port}", writer, {})
    tallies.append(writer)

    unsigned = Tally("ingest /v1/events, unsigned or badly signed")
    latin1 = st.text(st.characters(max_codepoint=255, exclude_categories=["Cc"]), max_size=80)
    odd = st.sampled_from(["t=²", "t=,v1=", "t=1e400,v1=00", "v1=" + "0" * 64, "t=" + "9" * 400])

    @BOUNDED
    @given(signature=st.none() | odd | latin1, body=st.binary(max_size=200))
    def unsigned_one(signature: str | None, body: bytes) -> None:
        if not unsigned.over():
            _post(events_url, unsigned, body, signature)

    unsigned_one()
    tallies.append(unsigned)

    signed = Tally("ingest /v1/events, signed")
    bodies = (
        _mutated_event().map(lambda e: json.dumps(e).encode())
        | st.lists(_mutated_event(), max_size=3).map(lambda es: json.dumps(es).encode())
        | _json().map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=100)
    )

    @BOUNDED
    @given(body=bodies)
    def signed_one(body: bytes) -> None:
        if not signed.over():
            _post(events_url, signed, body, sign(WEBHOOK_SECRET, int(time.time()), body))

    signed_one()
    tallies.append(signed)

    for tally in tallies:
        tally.check(minimum=3 if tally is writer else 50)
    unsigned.check(allowed={400, 401, 413, 415, 422})
    print(f"schemathesis and hypothesis: {sum(t.sent for t in tallies)} requests, no 5xx")


def test_production_serves_no_api_documents() -> None:
    """Outside development, /docs, /redoc and /openapi.json are not served (issue 13)."""
    from services.projector.main import create_app
    from shared.settings import ProjectorSettings

    production = ProjectorSettings.model_validate(
        {"env": "production", "service_tokens": ["a-real-token-of-24-chars"]}
    )
    development = ProjectorSettings.model_validate({"env": "development"})
    for chosen, expected in ((production, 404), (development, 200)):
        client = TestClient(create_app(chosen))  # no lifespan: the routes alone, no database
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == expected, (path, chosen.env)
