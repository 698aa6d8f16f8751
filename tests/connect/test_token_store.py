"""Refresh-token rotation across processes: one refresh at a time, crash-safe, key rotation."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from shared.db import open_pool
from shared.xero.client import XeroClient
from shared.xero.token_store import NeedsReconnect, NotConnected, TokenStore

ROOT = Path(__file__).resolve().parents[2]
KEY = Fernet.generate_key().decode()

TOLD = "connection.needs_reconnect"  # its roger.sync-status record (outbox kind)


class Setup:
    def __init__(self, dsn: str, sandbox: Any) -> None:
        self.dsn, self.sandbox = dsn, sandbox
        self.client_id = "rx-store-" + uuid.uuid4().hex[:8]
        self.client_secret = "secret-" + uuid.uuid4().hex
        sandbox.register_client(self.client_id, self.client_secret, [])
        self.tenant = sandbox.create_org("Token Store ApS")
        self.env = {
            **os.environ,
            "RX_XERO_CLIENT_ID": self.client_id,
            "RX_XERO_CLIENT_SECRET": self.client_secret,
            "RX_XERO_TOKEN_URL": sandbox.token_url,
            "RX_TOKEN_KEYS": KEY,
        }

    def grant(self) -> dict[str, Any]:
        scopes = ["offline_access", "accounting.settings.read"]
        return self.sandbox.grant(self.client_id, [self.tenant], scopes)  # type: ignore[no-any-return]

    def xero(self) -> XeroClient:
        return XeroClient(
            self.sandbox.accounting_url,
            self.sandbox.token_url,
            self.client_id,
            self.client_secret,
            10,
            revoke_url=self.sandbox.revocation_url,
            identity_url=self.sandbox.base_url,
        )

    def works(self, access_token: str) -> bool:
        r = httpx.get(
            f"{self.sandbox.accounting_url}/Organisation",
            headers={
                "Authorization": f"Bearer {access_token}",
                "xero-tenant-id": self.tenant,
                "Accept": "application/json",
            },
            timeout=10,
        )
        return r.status_code == 200

    def worker(self, company: str, mode: str, force: bool) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "tests.connect.refresh_worker", self.dsn, company, mode]
        return subprocess.Popen(
            args + (["force"] if force else []),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def setup(fresh_database: str, xero_sandbox: Any) -> Setup:
    return Setup(fresh_database, xero_sandbox)


@pytest.fixture
async def store(setup: Setup) -> AsyncIterator[TokenStore]:
    pool = await open_pool(setup.dsn, max_size=4)
    store = TokenStore(pool, [KEY])
    await store.setup()
    yield store
    await pool.close()


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("force", [False, True], ids=["due", "forced"])
async def test_two_processes_refreshing_at_once_leave_one_pair(
    setup: Setup, store: TokenStore, force: bool
) -> None:
    grant = setup.grant()
    due = {**grant, "expires_at": 1} if not force else grant
    await store.put("co", setup.tenant, due)

    first = setup.worker("co", "hold", force)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "refreshing"  # it holds the row lock now
    second = setup.worker("co", "plain", force)
    a, b = _result(first), _result(second)

    # Exactly one process spent the refresh token; both use the pair it stored.
    assert [a["refreshed"], b["refreshed"]] == [True, False]
    assert a["token_sha"] == b["token_sha"]
    stored = await store.access("co", _never)
    assert hashlib.sha256(stored.access_token.encode()).hexdigest() == a["token_sha"]
    assert setup.works(stored.access_token)
    # The stored refresh token is the live one: it refreshes.
    xero = setup.xero()
    try:
        again = await store.access("co", xero.refresh, force=True)
    finally:
        await xero.aclose()
    assert setup.works(again.access_token)


async def _never(_: str) -> dict[str, Any]:
    raise AssertionError("no refresh expected")


async def test_crash_after_xeros_answer_recovers(setup: Setup, store: TokenStore) -> None:
    grant = setup.grant()
    await store.put("co", setup.tenant, {**grant, "expires_at": 1})

    crashed = setup.worker("co", "crash", False)
    crashed.communicate(timeout=60)
    assert crashed.returncode == 3  # died after Xero rotated the token, before our write

    xero = setup.xero()
    try:
        # Our copy still holds the previous refresh token; Xero's grace period honours it.
        access = await store.access("co", xero.refresh)
    finally:
        await xero.aclose()
    assert access.access_token != grant["access_token"]
    assert setup.works(access.access_token)


async def test_invalid_grant_marks_needs_reconnect_once(setup: Setup, store: TokenStore) -> None:
    grant = setup.grant()
    await store.put("co", setup.tenant, {**grant, "expires_at": 1})
    async with httpx.AsyncClient(timeout=10) as http:
        revoked = await http.post(
            setup.sandbox.revocation_url,
            data={"token": grant["refresh_token"]},
            auth=(setup.client_id, setup.client_secret),
        )
    revoked.raise_for_status()
    xero = setup.xero()
    try:
        with pytest.raises(NeedsReconnect):
            await store.access("co", xero.refresh)
    finally:
        await xero.aclose()
    assert await store.status("co") == "needs_reconnect"
    with pytest.raises(NeedsReconnect):
        await store.access("co", _never)  # no second call to Xero
    async with store._pool.connection() as conn:
        cur = await conn.execute("SELECT kind, payload FROM outbox")
        rows = await cur.fetchall()
    # The fact, and the record that tells Roger's admins (roger.sync-status), once.
    assert [r[0] for r in rows] == ["XeroConnectionNeedsReconnect", TOLD]
    assert all(grant["refresh_token"] not in bytes(r[1]).decode() for r in rows)
    assert "Xero refused the refresh token" in json.loads(bytes(rows[1][1]))["reason"]


async def test_pending_setup_is_not_usable_by_the_writer(setup: Setup, store: TokenStore) -> None:
    await store.put("co", "", setup.grant(), status="pending_setup")
    with pytest.raises(NotConnected):
        await store.access("co", _never)
    assert (await store.access("co", _never, allow_pending=True)).tenant_id == ""


async def test_older_keys_still_decrypt(setup: Setup, store: TokenStore) -> None:
    grant = setup.grant()
    await store.put("co", setup.tenant, grant)  # sealed with KEY
    newer = Fernet.generate_key().decode()
    rotated = TokenStore(store._pool, [newer, KEY])
    assert (await rotated.access("co", _never)).access_token == grant["access_token"]
    await rotated.put("co", setup.tenant, grant)  # sealed with the newer key now
    only_new = TokenStore(store._pool, [newer])
    assert (await only_new.access("co", _never)).access_token == grant["access_token"]
    async with store._pool.connection() as conn:
        cur = await conn.execute("SELECT token_ciphertext FROM xero_connections")
        sealed = bytes((await cur.fetchone())[0])  # type: ignore[index]
    assert grant["access_token"].encode() not in sealed
    assert grant["refresh_token"].encode() not in sealed


def _rotate_keys(setup: Setup, keys: list[str]) -> str:
    """``roger-xero rotate-keys`` as an operator runs it; returns what it printed."""
    env = {**setup.env, "RX_TOKEN_KEYS": ",".join(keys), "RX_DATABASE_URL": setup.dsn}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "rotate-keys"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _facts(store: TokenStore) -> list[tuple[str, dict[str, Any]]]:
    async with store._pool.connection() as conn:
        cur = await conn.execute("SELECT kind, payload FROM outbox ORDER BY seq")
        rows = await cur.fetchall()
    return [(r[0], json.loads(bytes(r[1]))) for r in rows]


async def test_rotate_keys_end_to_end(setup: Setup, store: TokenStore) -> None:
    grant = setup.grant()
    await store.put("co", setup.tenant, grant)  # sealed with KEY (A)
    other = setup.grant()
    await store.put("co-2", setup.tenant, other)
    newer = Fernet.generate_key().decode()  # B

    printed = _rotate_keys(setup, [newer, KEY])
    assert "re-encrypted 2 token set(s)" in printed

    # A is removed: B alone opens both, and the tokens still work at Xero.
    only_new = TokenStore(store._pool, [newer])
    for company, granted in (("co", grant), ("co-2", other)):
        access = await only_new.access(company, _never)
        assert access.access_token == granted["access_token"]
        assert setup.works(access.access_token)
    assert await store.status("co") == "connected"
    # The old store (A only) cannot open them any more: they really were re-encrypted.
    with pytest.raises(NeedsReconnect):
        await TokenStore(store._pool, [KEY]).access("co", _never)


async def test_token_sealed_with_a_removed_key_needs_reconnect_once_with_a_reason(
    setup: Setup, store: TokenStore
) -> None:
    grant = setup.grant()
    await store.put("co", setup.tenant, grant)  # sealed with KEY, which is then removed
    without_key = TokenStore(store._pool, [Fernet.generate_key().decode()])

    with pytest.raises(NeedsReconnect) as raised:
        await without_key.access("co", _never)
    assert "cannot be decrypted" in raised.value.detail
    row = await without_key.row("co")
    assert row is not None and row.status == "needs_reconnect"
    assert row.reason is not None and "RX_TOKEN_KEYS" in row.reason
    # Asked again (the writer's next try): the same answer, no second fact, no decrypt.
    with pytest.raises(NeedsReconnect) as again:
        await without_key.access("co", _never)
    assert again.value.detail == raised.value.detail
    facts = await _facts(store)
    assert [kind for kind, _ in facts] == ["XeroConnectionNeedsReconnect", TOLD]
    assert "cannot be decrypted" in json.dumps(facts[0][1])
    assert "cannot be decrypted" in facts[1][1]["reason"]
    # Disconnecting still works: there is just nothing to revoke with.
    assert await without_key.remove("co") is None
    assert await store.status("co") is None


async def test_rotate_keys_marks_tokens_no_key_opens(setup: Setup, store: TokenStore) -> None:
    await store.put("co", setup.tenant, setup.grant())
    newer = Fernet.generate_key().decode()
    printed = _rotate_keys(setup, [newer])  # KEY already dropped: nothing opens "co"
    assert "re-encrypted 0 token set(s)" in printed
    assert "1 token set(s) no key opens" in printed
    row = await store.row("co")
    assert row is not None and row.status == "needs_reconnect" and row.reason
    assert [kind for kind, _ in await _facts(store)] == ["XeroConnectionNeedsReconnect", TOLD]
    # Run again: nothing more to do, no second fact.
    assert "re-encrypted 0 token set(s)" in _rotate_keys(setup, [newer])
    assert len(await _facts(store)) == 2


async def test_a_kept_access_token_is_handed_out_only_while_its_row_is_unchanged(
    setup: Setup,
) -> None:
    pool = await open_pool(setup.dsn, max_size=4)
    try:
        writers, others = (
            TokenStore(pool, [KEY], keep_access=True),
            TokenStore(pool, [KEY]),
        )
        await writers.setup()
        await others.put("co", setup.tenant, setup.grant())
        opened: list[int] = []
        real_open = writers._open

        def counting_open(ciphertext: bytes) -> dict[str, Any]:
            opened.append(1)
            return real_open(ciphertext)

        writers._open = counting_open  # type: ignore[method-assign]
        first = await writers.access("co", _never)
        assert (await writers.access("co", _never)) == first
        assert len(opened) == 1  # kept: not read under a lock nor decrypted again
        # The sealed token set rewritten behind its back (as a refresh elsewhere would, or a
        # test making it look expired): opened again.
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT token_ciphertext FROM xero_connections WHERE company_id = 'co'"
            )
            row = await cur.fetchone()
            assert row is not None
            resealed = Fernet(KEY.encode()).encrypt(Fernet(KEY.encode()).decrypt(bytes(row[0])))
            await conn.execute(
                "UPDATE xero_connections SET token_ciphertext = %s WHERE company_id = 'co'",
                (resealed,),
            )
            await conn.commit()
        assert (await writers.access("co", _never)) == first
        assert len(opened) == 2
        # Another process moves the company to another organisation: seen at the next call.
        other_tenant = setup.sandbox.create_org("Other ApS")
        assert await others.choose("co", other_tenant, "connected")
        assert (await writers.access("co", _never)).tenant_id == other_tenant
        assert len(opened) == 3
        # Disconnected elsewhere: nothing kept is handed out.
        await others.remove("co")
        with pytest.raises(NotConnected):
            await writers.access("co", _never)
        assert "access_token" not in repr(first) and first.access_token not in repr(first)
    finally:
        await pool.close()
