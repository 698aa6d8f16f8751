"""``docs/contracts/roger-sync-back.schema.json`` from ``SyncBackEvent``: the checked-in
contract is generated (``python -m services.xero_inbound.schema``) and a unit test keeps
it equal to the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.xero_inbound.sync_back import SyncBackEvent

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs/contracts/roger-sync-back.schema.json"


def sync_back_schema() -> dict[str, Any]:
    schema = SyncBackEvent.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "roger-sync-back-v1",
        **schema,
        "title": "What changed in Xero, for Roger (roger.sync-back), version 1",
        "description": "One change made in Xero outside Roger. See roger-sync-back.md for "
        "what each type means and how our own writes are kept out.",
    }


def rendered() -> str:
    return json.dumps(sync_back_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(rendered())
