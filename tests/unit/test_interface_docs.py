"""docs/interfaces/ is what the code generates now (deploy/interface_docs.py): the AsyncAPI
document of every topic and the OpenAPI document of every service's HTTP API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.interface_docs import OUT, REPO, asyncapi, generate, stale
from shared.contracts.topics import MAX_RECORD_BYTES, TOPICS

REGENERATE = ".venv/bin/python -m deploy.interface_docs"


@pytest.fixture(scope="module")
def files() -> dict[Any, str]:
    return generate()


def test_checked_in_documents_match_the_code(files: dict[Any, str]) -> None:
    differ = [str(p.relative_to(REPO)) for p in stale(files)]
    assert not differ, f"stale interface documents {differ}: regenerate with `{REGENERATE}`"
    # Nothing checked in that the generator no longer makes.
    assert {p.name for p in OUT.glob("*.json")} == {p.name for p in files}


def test_generating_twice_gives_the_same_bytes(files: dict[Any, str]) -> None:
    assert generate() == files


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_asyncapi_has_every_topic_with_its_partitions_size_and_a_resolvable_payload() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    by_address = {c["address"]: c for c in document["channels"].values()}
    assert set(by_address) == {spec.name for spec in TOPICS}
    for spec in TOPICS:
        binding = by_address[spec.name]["bindings"]["kafka"]
        assert binding["partitions"] == spec.partitions
        assert binding["topicConfiguration"]["max.message.bytes"] == MAX_RECORD_BYTES
        assert binding["topicConfiguration"]["retention.ms"] == int(spec.config["retention.ms"])
    for ref in _refs(document):
        if ref.startswith("#/"):
            assert _resolve(document, ref) is not None, ref
        else:  # the contract's own schema, beside the document
            assert (OUT / ref).resolve().is_file(), ref


def test_openapi_documents_name_each_services_routes(files: dict[Any, str]) -> None:
    paths = {
        p.stem.removeprefix("openapi-"): set(json.loads(text)["paths"])
        for p, text in files.items()
        if p.name.startswith("openapi-")
    }
    assert set(paths) == {"ingest", "projector", "writer"}
    for routes in paths.values():
        assert {"/healthz", "/readyz", "/metrics"} <= routes
    assert "/v1/events" in paths["ingest"]
    assert "/v1/companies/{company_id}/xero/connect" in paths["ingest"]
    assert "/v1/companies/{company_id}/documents" in paths["projector"]
