"""Helpers for the sandbox conformance suite: a fresh app + organisation per test."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.sandbox import SandboxProcess
from tests.sandbox.spec_check import problems

_counter = itertools.count(1)


@dataclass
class Books:
    """One OAuth app connected to one organisation, driven through xero-python."""

    sandbox: SandboxProcess
    client_id: str
    client_secret: str
    tenant_id: str
    token: dict[str, Any]
    xero: Any

    @property
    def api(self) -> Any:
        return self.xero.accounting

    def ledger(self) -> dict[str, Any]:
        return self.sandbox.ledger(self.tenant_id)


def make_books(
    sandbox: SandboxProcess,
    base_currency: str = "DKK",
    currencies: tuple[str, ...] = ("EUR",),
    scopes: list[str] | None = None,
) -> Books:
    n = next(_counter)
    client_id = f"app-{n}-{uuid.uuid4().hex[:8]}"
    secret = "secret-" + uuid.uuid4().hex
    sandbox.register_client(client_id, secret, ["http://localhost:5555/callback"])
    tenant = sandbox.create_org(f"Acme {n}", base_currency, list(currencies))
    token = sandbox.grant(client_id, [tenant], scopes=scopes)
    return Books(
        sandbox, client_id, secret, tenant, token, sandbox.xero_client(client_id, secret, token)
    )


@pytest.fixture
def books(xero_sandbox: SandboxProcess) -> Iterator[Books]:
    yield make_books(xero_sandbox)


@pytest.fixture(autouse=True)
def _answers_are_xero_shaped(xero_sandbox: SandboxProcess) -> Iterator[None]:
    """Every test also checks that the sandbox never crashed and that every answer it gave
    during the test validates against the spec's response schemas."""
    before = len(xero_sandbox.errors())
    seen = xero_sandbox.exchanges()
    last = seen[-1]["seq"] if seen else 0
    yield
    errors = xero_sandbox.errors()[before:]
    assert not errors, "sandbox raised:\n" + "\n".join(errors)
    wrong = [p for e in xero_sandbox.exchanges(after=last) for p in problems(e)]
    assert not wrong, "answers not matching the spec:\n" + "\n".join(wrong)
