"""The documents of our interfaces, generated from the code into ``docs/interfaces/``.

    python -m deploy.interface_docs           # write them
    python -m deploy.interface_docs --check   # exit 1 naming the files that differ

- ``asyncapi.json``: every Kafka topic of ``shared.contracts.topics.TOPICS`` (AsyncAPI 3.0.0,
  Kafka bindings: partitions, retention, record size), its key (the company id) and its
  messages' JSON Schemas from the pydantic models of ``shared/contracts/`` (Roger's events by
  reference to the contract's own schema, ``docs/contracts/roger-events.schema.json``).
- ``openapi-ingest.json``, ``openapi-projector.json``, ``openapi-writer.json``: FastAPI's
  ``app.openapi()`` of each service's ``create_app``, with settings built in development mode
  from defaults alone (the environment's ``RX_`` variables are ignored, so the output is the
  same on every machine).

``tests/unit/test_interface_docs.py`` fails when the checked-in files differ from what the code
generates now.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from services.xero_inbound.notifications import XeroEvent
from shared.contracts.commands import Command
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from shared.contracts.topics import (
    DEAD_LETTER_TOPIC,
    DOMAIN_EVENTS,
    MAX_RECORD_BYTES,
    ORIGIN_TOPIC,
    ROGER_CATEGORIES,
    ROGER_EVENTS,
    ROGER_SYNC_BACK,
    ROGER_SYNC_STATUS,
    TOPICS,
    XERO_COMMANDS,
    XERO_NOTIFICATIONS,
    XERO_RESULTS,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "interfaces"
REF = "#/components/schemas/{model}"
ROGER_EVENTS_SCHEMA = "../contracts/roger-events.schema.json"

# Who writes and who reads each topic (README, "How it fits together").
WRITERS_READERS: dict[str, tuple[str, str]] = {
    ROGER_EVENTS: ("Roger's backend", "ingest"),
    DOMAIN_EVENTS: (
        "ingest (Roger's facts), the connect flow (connection facts), the projector's read "
        "API (retry facts)",
        "projector",
    ),
    XERO_COMMANDS: ("projector (outbox relay)", "xero_writer"),
    XERO_RESULTS: ("xero_writer", "projector, the connect flow (last sync)"),
    ROGER_CATEGORIES: ("the connect flow (outbox relay)", "Roger's backend"),
    XERO_NOTIFICATIONS: ("ingest (Xero's webhooks, services/xero_inbound)", "xero_inbound"),
    ROGER_SYNC_BACK: ("xero_inbound", "Roger's backend, projector"),
    ROGER_SYNC_STATUS: (
        "projector (failed documents), the token store (reconnects) and xero_writer (spent "
        "day budgets), through the outbox relays",
        "Roger's backend",
    ),
}
DEAD_LETTER_HEADERS: dict[str, str] = {
    "rx-dlq-reason": "what went wrong, in words (at most 4,000 characters)",
    "rx-dlq-error": "the exception's type, or a short code",
    "rx-dlq-source-topic": "topic the record was read from",
    "rx-dlq-source-partition": "its partition",
    "rx-dlq-source-offset": "its offset",
    "rx-dlq-consumer": "the consumer group (or service) that gave up on it",
    "rx-dlq-attempts": "how many times it was tried",
    "rx-dlq-first-failed-at": "ISO 8601 instant (UTC) of the first failure",
    "rx-dlq-last-failed-at": "ISO 8601 instant (UTC) of the last failure",
    "rx-dlq-truncated": "present when the value was cut to fit a record: the original size",
}


def _project_version() -> str:
    with open(REPO / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _message_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(message name -> payload schema or $ref, component schemas)."""
    _, defs = models_json_schema(
        [(DomainEvent, "validation"), (XeroResult, "validation"), (XeroEvent, "validation")],
        ref_template=REF,
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    command = TypeAdapter(Command).json_schema(ref_template=REF)
    schemas.update(command.pop("$defs", {}))
    schemas["XeroCommand"] = {"title": "XeroCommand", **command}
    from services.connections.setup_rules import categories_event

    example = categories_event(
        "acme-dk",
        [{"Code": "429", "Name": "General Expenses", "Type": "EXPENSE", "Status": "ACTIVE"}],
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    schemas["RogerCategories"] = {
        "title": "RogerCategories",
        "description": "The whole chart of accounts each time "
        "(services/connections/setup_rules.py, categories_event).",
        "type": "object",
        "required": sorted(example),
        "properties": {
            "company_id": {"type": "string"},
            "imported_at": {"type": "string", "format": "date-time"},
            "categories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {
                        k: {"type": "string"} if k == "code" else {"type": ["string", "null"]}
                        for k in example["categories"][0]
                    },
                },
            },
        },
        "examples": [example],
    }
    payloads = {
        ROGER_EVENTS: {"$ref": ROGER_EVENTS_SCHEMA},
        DOMAIN_EVENTS: {"$ref": REF.format(model="DomainEvent")},
        XERO_COMMANDS: {"$ref": REF.format(model="XeroCommand")},
        XERO_RESULTS: {"$ref": REF.format(model="XeroResult")},
        ROGER_CATEGORIES: {"$ref": REF.format(model="RogerCategories")},
        XERO_NOTIFICATIONS: {"$ref": REF.format(model="XeroEvent")},
        ROGER_SYNC_BACK: {"$ref": "../contracts/roger-sync-back.schema.json"},
        ROGER_SYNC_STATUS: {"$ref": "../contracts/roger-sync-status.schema.json"},
    }
    return payloads, dict(sorted(schemas.items()))


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic."""
    payloads, schemas = _message_schemas()
    key = {"type": "string", "description": "the Roger company_id (one company, one partition)"}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in TOPICS:
        source = ORIGIN_TOPIC.get(spec.name)
        name = f"{_channel_id(spec.name)}_record"
        if source is None:
            writes, reads = WRITERS_READERS[spec.name]
            payload = payloads[spec.name]
            description = f"{spec.purpose}. Written by {writes}; read by {reads}."
            if spec.name in DEAD_LETTER_TOPIC:
                description += f" Dead letters go to {DEAD_LETTER_TOPIC[spec.name]}."
            headers = None
        else:
            payload = {
                "description": f"the {source} record as it was read, byte for byte (often not "
                "valid: that is why it is here), cut to fit when rx-dlq-truncated is present"
            }
            description = (
                f"{spec.purpose}. Written by the consumer of {source} that gave up on a record; "
                "read by `roger-xero dlq list` and sent back by `roger-xero dlq replay`."
            )
            headers = {
                "type": "object",
                "properties": {
                    h: {"type": "string", "description": d} for h, d in DEAD_LETTER_HEADERS.items()
                },
                "required": [h for h in DEAD_LETTER_HEADERS if h != "rx-dlq-truncated"],
            }
        message: dict[str, Any] = {
            "name": name,
            "contentType": "application/json",
            "payload": payload,
            "bindings": {"kafka": {"key": key, "bindingVersion": "0.5.0"}},
        }
        if headers:
            message["headers"] = headers
        messages[name] = message
        config = {**spec.config, "max.message.bytes": str(MAX_RECORD_BYTES)}
        channels[_channel_id(spec.name)] = {
            "address": spec.name,
            "description": description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": [config["cleanup.policy"]],
                        "retention.ms": int(config["retention.ms"]),
                        "max.message.bytes": int(config["max.message.bytes"]),
                    },
                    "bindingVersion": "0.5.0",
                }
            },
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "roger-xero topics",
            "version": _project_version(),
            "description": "Every Kafka topic of roger-xero (shared/contracts/topics.py). "
            "Generated by `python -m deploy.interface_docs`; do not edit by hand.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "development": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "`make up` and deploy/docker-compose.yml",
            }
        },
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


@contextlib.contextmanager
def _defaults_only() -> Iterator[None]:
    # Settings from defaults alone: the documents must not depend on who generates them.
    saved = {k: v for k, v in os.environ.items() if k.startswith("RX_")}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def openapi() -> dict[str, dict[str, Any]]:
    """service -> FastAPI's OpenAPI document of its ``create_app`` (development settings)."""
    from services.ingest.app import create_app as ingest_app
    from services.projector.api import read_router
    from services.projector.main import create_app as projector_app
    from services.xero_writer.main import create_app as writer_app
    from shared.settings import (
        ConnectionsSettings,
        IngestSettings,
        ProjectorSettings,
        WriterSettings,
    )

    with _defaults_only():
        ingest = ingest_app(
            IngestSettings(env="development"), ConnectionsSettings(env="development")
        )
        projector_settings = ProjectorSettings(env="development")
        projector = projector_app(projector_settings)
        # The projector adds its read API in its lifespan, once its pool and producer exist;
        # the routes' shapes do not depend on them.
        projector.include_router(read_router(projector_settings, cast(Any, None), cast(Any, None)))
        writer = writer_app(WriterSettings(env="development"))
    return {
        "ingest": ingest.openapi(),
        "projector": projector.openapi(),
        "writer": writer.openapi(),
    }


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[Path, str]:
    """File -> its content, for every document under ``docs/interfaces/``."""
    files = {OUT / "asyncapi.json": _text(asyncapi())}
    for service, document in openapi().items():
        files[OUT / f"openapi-{service}.json"] = _text(document)
    return files


def stale(files: dict[Path, str]) -> list[Path]:
    """The files whose checked-in content differs from ``files`` (or that are missing)."""
    return [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.interface_docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        differ = stale(files)
        for path in differ:
            print(f"stale: {path.relative_to(REPO)}")
        if differ:
            print("regenerate with: .venv/bin/python -m deploy.interface_docs")
        return 1 if differ else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
