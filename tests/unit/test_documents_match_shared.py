"""The project's copies of shared documents still match their source, when it is beside us.

A user clones only this repository, so the contracts, Xero's spec and Xero's facts live in it
(``docs/``, ``xero_sandbox/spec/``, ``shared/contracts/schemas/``). Where ``../shared/`` exists
(CI and our machines), this checks that no copy has drifted; elsewhere it is skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"

# (copy in this repository, source under ../shared)
COPIES = [
    *[
        (ROOT / "docs" / "contracts" / p.relative_to(SHARED / "contracts"), p)
        for p in sorted((SHARED / "contracts").rglob("*"))
        if p.is_file()
    ],
    (
        ROOT / "shared/contracts/schemas/roger-events.v1.schema.json",
        SHARED / "contracts/roger-events.schema.json",
    ),
    (ROOT / "docs/xero/xero-facts.md", SHARED / "docs/xero-facts.md"),
    (ROOT / "docs/pitfalls.md", SHARED / "docs/pitfalls.md"),
    *[
        (ROOT / "xero_sandbox/spec" / name, SHARED / "xero-openapi" / name)
        for name in ("xero_accounting.yaml", "xero-identity.yaml", "xero-webhooks.yaml", "LICENSE")
    ],
]


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared beside this clone")
@pytest.mark.parametrize("copy,source", COPIES, ids=lambda p: str(p).rsplit("/", 2)[-1])
def test_copy_matches_shared(copy: Path, source: Path) -> None:
    assert copy.is_file(), f"{copy.relative_to(ROOT)} is missing: copy it from {source}"
    assert copy.read_bytes() == source.read_bytes(), (
        f"{copy.relative_to(ROOT)} differs from {source}: copy the new version in"
    )


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared beside this clone")
def test_every_contract_file_is_copied() -> None:
    sources = {
        p.relative_to(SHARED / "contracts")
        for p in (SHARED / "contracts").rglob("*")
        if p.is_file()
    }
    copies = {
        p.relative_to(ROOT / "docs/contracts")
        for p in (ROOT / "docs/contracts").rglob("*")
        if p.is_file()
    }
    assert sources <= copies
