"""A separate process that asks the token store for an access token (tests only).

    python -m tests.connect.refresh_worker DSN COMPANY MODE [force]

MODE: ``plain``; ``hold`` (after Xero answered, wait until another process is
blocked on the row lock, then go on); ``crash`` (after Xero answered, die
before our write). Prints ``refreshing`` when it calls Xero and, at the end,
one JSON line with whether it refreshed and a hash of the token it got.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from typing import Any

import psycopg

from shared.db import open_pool
from shared.xero.client import XeroClient
from shared.xero.token_store import TokenStore


def _someone_waits_for_a_lock(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        ).fetchone()
    return bool(row and row[0])


async def main(dsn: str, company: str, mode: str, force: bool) -> None:
    env = os.environ
    xero = XeroClient(
        "", env["RX_XERO_TOKEN_URL"], env["RX_XERO_CLIENT_ID"], env["RX_XERO_CLIENT_SECRET"], 10
    )
    refreshed = False

    async def refresh(refresh_token: str) -> dict[str, Any]:
        nonlocal refreshed
        print("refreshing", flush=True)
        answer = await xero.refresh(refresh_token)
        refreshed = True
        if mode == "crash":
            os._exit(3)  # as SIGKILL would: no commit, no cleanup
        if mode == "hold":
            deadline = time.monotonic() + 20
            while not _someone_waits_for_a_lock(dsn):
                if time.monotonic() > deadline:
                    raise SystemExit("nobody came for the lock")
                await asyncio.sleep(0.02)
        return answer

    pool = await open_pool(dsn, max_size=2)
    try:
        store = TokenStore(pool, [env["RX_TOKEN_KEYS"]])
        access = await store.access(company, refresh, force=force)
    finally:
        await pool.close()
        await xero.aclose()
    digest = hashlib.sha256(access.access_token.encode()).hexdigest()
    print(json.dumps({"refreshed": refreshed, "token_sha": digest}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:] == ["force"]))
