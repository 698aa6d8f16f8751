"""A fresh OAuth app connected to a fresh sandbox organisation, driven through xero-python."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fixtures.sandbox import SandboxProcess

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
