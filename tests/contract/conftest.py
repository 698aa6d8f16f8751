"""One Xero gateway suite, two backends: the FakeXero and the sandbox (which follows Xero).

Each test in this folder takes ``gateway`` and runs once per backend, as eventsourcing runs
one recorder suite against each of its recorders. The sandbox runs are marked ``sandbox``
(``-m "not sandbox"`` keeps to the in-process fake); the sandbox is a subprocess, so neither
needs Kafka or PostgreSQL. Where the two disagree, the fake is wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.gateways import FakeGateway, Gateway, SandboxGateway


@pytest.fixture(params=["fake", pytest.param("sandbox", marks=pytest.mark.sandbox)])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    if request.param == "fake":
        yield FakeGateway()
        return
    sandbox = SandboxGateway(request.getfixturevalue("xero_sandbox"))
    try:
        yield sandbox
    finally:
        await sandbox.aclose()
