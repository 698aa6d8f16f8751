"""The Xero sandbox and the three services as local processes, with development settings.

    python -m deploy.apps up | down | status

``up`` (after ``deploy.stack up``) starts them in the background on fixed ports, registers
the development OAuth client at the sandbox, creates the organisation "Acme Danmark ApS" and
connects the example company ``acme-dk`` to it, subscribes ingest's ``/v1/xero/webhooks``
to the sandbox's webhooks (development webhook key; the sandbox keeps subscriptions in
memory only, so every ``up`` subscribes again), then prints the URLs and the development
secrets. ``deploy.demo`` uses the same pieces in a throw-away directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from deploy.stack import (
    DEFAULT_KAFKA_PORT,
    DEFAULT_PG_PORT,
    DEFAULT_RUN_DIR,
    Kafka,
    KafkaUsers,
    Postgres,
    client_environment,
    pid_alive,
    terminate,
)
from services.connections.oauth import SCOPES  # what the connect flow asks for

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("sandbox", "ingest", "projector", "writer")
DEFAULT_PORTS = {"sandbox": 9090, "ingest": 8080, "projector": 8081, "writer": 8082}
DEV_SECRETS = {
    "RX_WEBHOOK_SECRETS": "dev-webhook-secret",
    "RX_XERO_WEBHOOK_KEYS": "dev-xero-webhook-key",
    "RX_SERVICE_TOKENS": "dev-service-token",
    "RX_XERO_CLIENT_ID": "roger-dev-client",
    "RX_XERO_CLIENT_SECRET": "roger-dev-secret",
    "RX_TOKEN_KEYS": "ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=",
}


def dev_env(kafka_bootstrap: str, database_url: str, sandbox_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **DEV_SECRETS,
        # The development secrets above are refused anywhere else (shared/settings.py).
        "RX_ENV": "development",
        "PYTHONUNBUFFERED": "1",
        "RX_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "RX_DATABASE_URL": database_url,
        "RX_XERO_ACCOUNTING_URL": f"{sandbox_url}/api.xro/2.0",
        "RX_XERO_IDENTITY_URL": sandbox_url,
        "RX_XERO_TOKEN_URL": f"{sandbox_url}/connect/token",
        "RX_XERO_REVOKE_URL": f"{sandbox_url}/connect/revocation",
        "RX_XERO_AUTHORIZE_URL": f"{sandbox_url}/identity/connect/authorize",
        # A local file server (plain http on loopback) for attachments in development; any
        # other attachment link must be https to a public address (shared/settings.py).
        "RX_ATTACHMENT_ALLOWED_HOSTS": "127.0.0.1",
    }


def wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}")


def spawn(
    name: str, port: int, env: dict[str, str], log_path: Path, extra: list[str] | None = None
) -> subprocess.Popen[bytes]:
    """Starts one process of ours and waits until it answers."""
    args = [sys.executable, "-m", "services.cli", name, "--port", str(port), *(extra or [])]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/_sandbox/settings" if name == "sandbox" else f"{url}/readyz"

    def answers() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited; see {log_path}")
        return httpx.get(probe, timeout=2).status_code == 200

    wait(answers, 90, name)
    return proc


def seed_sandbox(sandbox_url: str, env: dict[str, str], company_id: str, run_dir: Path) -> str:
    """Our OAuth client, one organisation, and the company connected to it; returns the tenant."""
    register_client(sandbox_url, env)
    return connect_company(sandbox_url, env, company_id, run_dir)


def register_client(sandbox_url: str, env: dict[str, str]) -> None:
    httpx.post(
        f"{sandbox_url}/_sandbox/clients",
        json={
            "client_id": env["RX_XERO_CLIENT_ID"],
            "client_secret": env["RX_XERO_CLIENT_SECRET"],
            "redirect_uris": ["http://127.0.0.1:8080/v1/xero/callback"],
        },
    ).raise_for_status()


def subscribe_webhooks(sandbox_url: str, ingest_url: str, env: dict[str, str]) -> str:
    """Subscribes ingest's webhook route to the sandbox's webhooks for our app's
    organisations, signed with the development webhook key; returns the subscription's
    status (``OK``, or ``INTENT_FAILED`` when ingest did not pass Xero's intent check)."""
    answer = httpx.put(
        f"{sandbox_url}/_sandbox/webhooks",
        json={
            "url": f"{ingest_url}/v1/xero/webhooks",
            "key": env["RX_XERO_WEBHOOK_KEYS"].split(",")[0].strip(),
            "client_id": env["RX_XERO_CLIENT_ID"],
        },
        timeout=30,
    )
    answer.raise_for_status()
    status: str = answer.json()["status"]
    return status


def connect_company(
    sandbox_url: str,
    env: dict[str, str],
    company_id: str,
    run_dir: Path,
    organisation: str = "Acme Danmark ApS",
) -> str:
    """A new sandbox organisation with the company connected to it; returns the tenant."""
    org = httpx.post(
        f"{sandbox_url}/_sandbox/organisations",
        json={
            "name": organisation,
            "base_currency": "DKK",
            "currencies": ["EUR", "USD"],
        },
    )
    org.raise_for_status()
    tenant: str = org.json()["tenant_id"]
    grant = httpx.post(
        f"{sandbox_url}/_sandbox/grants",
        json={
            "client_id": env["RX_XERO_CLIENT_ID"],
            "tenant_ids": [tenant],
            "scopes": list(SCOPES),
        },
    )
    grant.raise_for_status()
    token_file = run_dir / "grant.json"
    token_file.write_text(grant.text)
    token_file.chmod(0o600)
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "connect-dev",
                company_id,
                tenant,
                "--token-file",
                str(token_file),
            ],
            cwd=REPO,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        token_file.unlink()
    return tenant


def stop_all(
    run_dir: Path, procs: list[subprocess.Popen[bytes]], pg: Postgres | None, kafka: Kafka | None
) -> None:
    """Stops a throw-away stack (demo, benchmark): our processes, then the servers."""
    for proc in reversed(procs):
        terminate(proc.pid, proc, 40)
    if pg:
        pg.stop()
    if kafka:
        kafka.stop()
    shutil.rmtree(run_dir, ignore_errors=True)


def _pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / "apps" / f"{name}.pid"


def _running(run_dir: Path, name: str) -> int | None:
    try:
        pid = int(_pid_file(run_dir, name).read_text())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def _stack_env(run_dir: Path, service: str | None = None) -> dict[str, str]:
    """The development settings of ``make up``'s stack, for ``service`` (None: any tool).

    A broker started with --secure (deploy.stack) left its SCRAM users in the run directory:
    each service connects as its own principal, so the ACLs of deploy/README.md hold for the
    stack too (connect-dev stores a connection and its fact as the connect flow does: as
    ingest)."""
    env = dev_env(
        f"127.0.0.1:{DEFAULT_KAFKA_PORT}",
        f"postgresql://postgres@127.0.0.1:{DEFAULT_PG_PORT}/rogerxero",
        f"http://127.0.0.1:{DEFAULT_PORTS['sandbox']}",
    )
    users = KafkaUsers.load(run_dir / "kafka" / "users.json")
    principal = f"rx-{service}"
    if users is None or principal not in users.passwords:
        return env
    return {**env, **client_environment(principal, users.passwords[principal])}


def up(run_dir: Path) -> None:
    (run_dir / "apps").mkdir(parents=True, exist_ok=True)
    if all(_running(run_dir, n) for n in SERVICES):
        print("services already up")
        _print(run_dir)
        return
    down(run_dir, quiet=True)
    sandbox_url = f"http://127.0.0.1:{DEFAULT_PORTS['sandbox']}"
    _ensure_database(_stack_env(run_dir)["RX_DATABASE_URL"])
    fresh_sandbox = not (run_dir / "apps" / "sandbox.sqlite").exists()
    for name in SERVICES:
        extra = ["--state", str(run_dir / "apps" / "sandbox.sqlite")] if name == "sandbox" else []
        log = run_dir / "apps" / f"{name}.log"
        proc = spawn(name, DEFAULT_PORTS[name], _stack_env(run_dir, name), log, extra)
        _pid_file(run_dir, name).write_text(str(proc.pid))
    if fresh_sandbox:
        env = _stack_env(run_dir, "ingest")
        tenant = seed_sandbox(sandbox_url, env, "acme-dk", run_dir / "apps")
        (run_dir / "apps" / "tenant").write_text(tenant)
    ingest_url = f"http://127.0.0.1:{DEFAULT_PORTS['ingest']}"
    hooks = subscribe_webhooks(sandbox_url, ingest_url, _stack_env(run_dir))
    print(f"sandbox webhooks -> {ingest_url}/v1/xero/webhooks: {hooks}")
    _print(run_dir)


def _ensure_database(dsn: str) -> None:
    import psycopg

    admin = dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'rogerxero'").fetchone():
            conn.execute("CREATE DATABASE rogerxero")


def _print(run_dir: Path) -> None:
    tenant = (
        (run_dir / "apps" / "tenant").read_text() if (run_dir / "apps" / "tenant").exists() else "?"
    )
    for name in SERVICES:
        print(f"{name:10s} http://127.0.0.1:{DEFAULT_PORTS[name]}  log: {run_dir}/apps/{name}.log")
    print(f"acme-dk is connected to sandbox organisation {tenant}")
    print("development secrets (never use them elsewhere):")
    for key, value in DEV_SECRETS.items():
        print(f"  {key}={value}")


def down(run_dir: Path, quiet: bool = False) -> None:
    for name in reversed(SERVICES):
        pid = _running(run_dir, name)
        if pid:
            terminate(pid, None, 40)
            if not quiet:
                print(f"{name} stopped")
        elif not quiet:
            print(f"{name} not running")
        _pid_file(run_dir, name).unlink(missing_ok=True)


def status(run_dir: Path) -> int:
    up_count = 0
    for name in SERVICES:
        pid = _running(run_dir, name)
        up_count += bool(pid)
        print(f"{name:10s} {'up   pid ' + str(pid) if pid else 'down'}")
    return 0 if up_count == len(SERVICES) else 3


def connect(run_dir: Path, company_id: str) -> int:
    """``make connect COMPANY=...``: one more company of the running stack connected to a new
    sandbox organisation of its own (as ``up`` connects acme-dk), e.g. to try a case file."""
    if not all(_running(run_dir, n) for n in SERVICES):
        print("the stack is not up: make up first")
        return 3
    env = _stack_env(run_dir, "ingest")
    sandbox_url = f"http://127.0.0.1:{DEFAULT_PORTS['sandbox']}"
    tenant = connect_company(sandbox_url, env, company_id, run_dir / "apps", f"{company_id} Org")
    print(f"{company_id} is connected to sandbox organisation {tenant}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.apps", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "connect"))
    parser.add_argument("company", nargs="?", help="connect: the company to connect")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if args.command == "connect":
        if not args.company:
            parser.error("connect needs a company id")
        return connect(run_dir, args.company)
    if args.command == "up":
        up(run_dir)
    elif args.command == "down":
        down(run_dir)
    else:
        return status(run_dir)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
