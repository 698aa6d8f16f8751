"""Helpers for the sandbox conformance suite: a fresh app + organisation per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.sandbox import SandboxProcess
from tests.support.sandbox_books import Books, make_books
from tests.support.spec_check import problems


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
