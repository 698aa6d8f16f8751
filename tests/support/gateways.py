"""The Xero gateway under test in tests/contract: the writer's ``Call`` on one organisation,
backed by the FakeXero (in process) or by the sandbox (a subprocess)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Protocol

from shared.xero.client import XeroClient
from tests.fixtures.sandbox import SandboxProcess
from tests.support.fake_xero import TOKEN, FakeXero


class Gateway(Protocol):
    """The writer's ``Call`` on one organisation, and the few knobs the suite needs."""

    name: str

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...

    async def call_with_token(
        self, token: str, method: str, path: str, **kw: Any
    ) -> dict[str, Any]: ...

    def limit_per_minute(self, calls: int) -> None: ...

    def drop_next_put(self) -> None:
        """The next PUT is applied, and its answer lost."""

    def pass_idempotency_window(self) -> None:
        """Time passes beyond Xero's 6 minutes: Idempotency-Keys replay nothing."""

    def add_tracking_category(self, name: str, options: list[str]) -> None:
        """The organisation gets an ACTIVE tracking category with these ACTIVE options."""

    def set_currency_rate(self, currency: str, rate: str) -> None:
        """Xero's day rate of ``currency`` (units per one of the base currency, DKK)."""


class FakeGateway:
    name = "fake"

    def __init__(self) -> None:
        self.xero = FakeXero()

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        return await self.xero.call(method, path, access_token=TOKEN, **kw)

    async def call_with_token(
        self, token: str, method: str, path: str, **kw: Any
    ) -> dict[str, Any]:
        return await self.xero.call(method, path, access_token=token, **kw)

    def limit_per_minute(self, calls: int) -> None:
        self.xero.limit_per_minute(calls)

    def drop_next_put(self) -> None:
        self.xero.fail_next("drop", method="PUT")

    def pass_idempotency_window(self) -> None:
        self.xero.pass_idempotency_window()

    def add_tracking_category(self, name: str, options: list[str]) -> None:
        self.xero.tracking_categories[name] = list(options)

    def set_currency_rate(self, currency: str, rate: str) -> None:
        self.xero.rates[currency] = Decimal(rate)


class SandboxGateway:
    """A fresh app and organisation on the sandbox, through the real ``XeroClient``."""

    name = "sandbox"

    def __init__(self, sandbox: SandboxProcess) -> None:
        self.sandbox = sandbox
        client_id = "contract-" + uuid.uuid4().hex[:8]
        secret = "secret-" + uuid.uuid4().hex
        sandbox.register_client(client_id, secret, ["http://localhost:5555/callback"])
        self.tenant_id = sandbox.create_org("Contract " + client_id, "DKK", ["EUR"])
        self.client_id = client_id
        self.token = sandbox.grant(client_id, [self.tenant_id])["access_token"]
        self.client = XeroClient(sandbox.accounting_url, sandbox.token_url, client_id, secret, 30)
        self._limits: dict[str, Any] | None = None

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        return await self.call_with_token(self.token, method, path, **kw)

    async def call_with_token(
        self, token: str, method: str, path: str, **kw: Any
    ) -> dict[str, Any]:
        return await self.client.call(
            method, path, tenant_id=self.tenant_id, access_token=token, **kw
        )

    def limit_per_minute(self, calls: int) -> None:
        # The sandbox's limits are process-wide: put them back when the test ends.
        self._limits = self._limits or dict(self.sandbox.settings()["limits"])
        self.sandbox.settings(limits={"per_minute": calls})

    def drop_next_put(self) -> None:
        self.sandbox.settings(faults={self.tenant_id: {"drop_next": 1, "drop_methods": ["PUT"]}})

    def pass_idempotency_window(self) -> None:
        self.sandbox.advance_clock(7 * 60)
        # Access tokens live 30 minutes: a fresh one, as the writer's refresh would get.
        self.token = self.sandbox.grant(self.client_id, [self.tenant_id])["access_token"]

    def add_tracking_category(self, name: str, options: list[str]) -> None:
        self.sandbox.add_tracking_category(self.tenant_id, name, options)

    def set_currency_rate(self, currency: str, rate: str) -> None:
        self.sandbox.set_currency_rate(self.tenant_id, currency, rate)

    async def aclose(self) -> None:
        if self._limits is not None:
            self.sandbox.settings(limits=self._limits)
        await self.client.aclose()
