"""``roger-xero``: one command line for running the services and operating them.

Each subcommand imports its service lazily, so that running one service never
loads another's code.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic_settings import BaseSettings

from shared.settings import SettingsRefused, load_settings

app = typer.Typer(no_args_is_help=True, help="Roger → Xero sync: services and SRE tools.")
dlq = typer.Typer(no_args_is_help=True, help="Dead letters: list and replay.")
app.add_typer(dlq, name="dlq")


_S = TypeVar("_S", bound=BaseSettings)


def _settings(settings_class: type[_S]) -> _S:
    """The tool's settings; refused ones end the command with status 2 and a line per
    variable (never a traceback, never a value)."""
    try:
        return load_settings(settings_class)
    except SettingsRefused as exc:
        typer.echo(f"cannot run:\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def sandbox(
    host: str = "127.0.0.1",
    port: int = 9090,
    state: Annotated[
        Path | None, typer.Option(help="SQLite file that keeps state across restarts")
    ] = None,
) -> None:
    """Run the Xero sandbox, a local stand-in for Xero's API."""
    from xero_sandbox.server import serve

    serve(host=host, port=port, state=state)


@app.command()
def ingest(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the ingest service (POST /v1/events and the roger.events consumer)."""
    from services.ingest.main import run

    run(host, port)


@app.command()
def projector(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the projector (sync state, command outbox, read API)."""
    from services.projector.main import run

    run(host, port)


@app.command()
def writer(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the Xero writer."""
    from services.xero_writer.main import run

    run(host, port)


@app.command()
def send(
    files: Annotated[list[Path], typer.Argument(help="JSON files: one Roger event or a list")],
    company: Annotated[
        str | None, typer.Option(help="set every event's company_id to this company")
    ] = None,
    url: Annotated[str | None, typer.Option(help="ingest's URL (default: this machine's)")] = None,
) -> None:
    """POST Roger events to ingest signed as Roger signs them (``Roger-Signature``, with the
    first of RX_WEBHOOK_SECRETS); prints ingest's answer. Exit 1 unless it is 2xx.

    Each file is sent as one request, in the order given. With --company, every event's
    ``company_id`` is replaced, e.g. to replay a case file against a connected company.
    """
    import time

    import httpx

    from services.ingest.signature import sign
    from shared.settings import IngestSettings

    settings = _settings(IngestSettings)
    target = (url or f"http://127.0.0.1:{settings.ingest_port}").rstrip("/") + "/v1/events"
    secret = settings.webhook_secrets[0].get_secret_value()
    for path in files:
        try:
            events = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:  # missing, a directory, not UTF-8, not JSON
            typer.echo(f"{path}: cannot read it as JSON: {exc}", err=True)
            raise typer.Exit(2) from None
        if company is not None:
            for event in events if isinstance(events, list) else [events]:
                if not isinstance(event, dict):
                    typer.echo(f"{path}: --company needs events (JSON objects)", err=True)
                    raise typer.Exit(2)
                event["company_id"] = company
        # The contract's batch shape is {"events": [...]}; a case file is a bare list.
        body = json.dumps({"events": events} if isinstance(events, list) else events).encode()
        signature = sign(secret, int(time.time()), body)
        response = httpx.post(
            target,
            content=body,
            headers={"Content-Type": "application/json", "Roger-Signature": signature},
            timeout=60,
        )
        typer.echo(f"{path}: {response.status_code} {response.text[:2000]}")
        if not response.is_success:
            raise typer.Exit(1)


@app.command("connect-dev")
def connect_dev(
    company_id: str,
    tenant_id: str,
    token_file: Annotated[
        Path, typer.Option(help="JSON token set, e.g. from POST /_sandbox/grants")
    ],
    default_account: str = "429",
    default_payment_account: str = "090",
    lock_date_policy: str = "fail",
    bill_status: str = "AUTHORISED",
) -> None:
    """Store a connection for a company directly, without the OAuth round trip (development
    and tests; ``make up`` uses it for acme-dk)."""
    from services.connections.establish import establish
    from services.connections.setup_rules import company_id_ok
    from shared.contracts.domain_events import ConnectionData
    from shared.settings import Settings

    if not company_id_ok(company_id):
        # The contract's company id (roger-events.md): what every other door checks too.
        raise typer.BadParameter("must be 1 to 64 of A-Z a-z 0-9 _ -", param_hint="COMPANY_ID")
    token_set = json.loads(token_file.read_text())
    conn = ConnectionData(
        tenant_id=tenant_id,
        default_account_code=default_account,
        default_payment_account_code=default_payment_account,
        lock_date_policy=lock_date_policy,  # type: ignore[arg-type]  # validated by the model
        bill_status=bill_status,  # type: ignore[arg-type]  # validated by the model
    )
    asyncio.run(establish(_settings(Settings), company_id, token_set, conn))
    typer.echo(f"{company_id} connected to {tenant_id}")


@app.command()
def rebuild(
    company: Annotated[list[str] | None, typer.Option(help="only these companies")] = None,
) -> None:
    """Rebuild the read model from the event store (stop the projector first)."""
    from services.projector.application import SyncApplication
    from services.projector.rebuild import rebuild_read_model
    from shared.settings import OperatorSettings

    settings = _settings(OperatorSettings)
    es_app = SyncApplication(settings.database_url, settings.roger_app_url)
    try:
        counts = rebuild_read_model(es_app, settings.database_url, set(company or ()) or None)
    finally:
        es_app.close()
    for company_id, documents in sorted(counts.items()):
        typer.echo(f"{company_id}: {documents} document(s)")
    typer.echo(f"rebuilt {len(counts)} compan{'y' if len(counts) == 1 else 'ies'}")


@app.command()
def lag(
    group: Annotated[list[str] | None, typer.Option(help="only these groups (repeatable)")] = None,
) -> None:
    """Show each consumer group's lag per partition (records past its committed offset)."""
    from shared.messaging.kafka import kafka_security
    from shared.messaging.offsets import group_lag
    from shared.settings import OperatorSettings

    settings = _settings(OperatorSettings)
    rows = asyncio.run(group_lag(settings.kafka_bootstrap, group, kafka_security(settings)))
    table = [("GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG")]
    table += [
        (
            r.group,
            r.topic,
            str(r.partition),
            "-" if r.committed is None else str(r.committed),
            str(r.end),
            str(r.lag),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.group] = totals.get(r.group, 0) + r.lag
    for name, total in totals.items():
        typer.echo(f"{name}: {total} record(s) behind")


def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 instant", param_hint=option) from exc
    if instant.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no timezone (add Z or +00:00)", param_hint=option)
    return instant


@app.command()
def replay(
    topic: Annotated[str, typer.Option(help="the topic to read again")],
    group: Annotated[str, typer.Option(help="the consumer group to move back")],
    from_offset: Annotated[int | None, typer.Option(help="first offset to read again")] = None,
    to_offset: Annotated[int | None, typer.Option(help="last offset of the range")] = None,
    from_time: Annotated[
        str | None, typer.Option(help="ISO 8601 instant with timezone: records from then")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option(help="ISO 8601 instant: records until then")
    ] = None,
    company: Annotated[str | None, typer.Option(help="only this company's partition")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
) -> None:
    """Move a consumer group back so it reads a range of a topic again.

    Says what it will do (partitions, offsets, records) and asks first unless --yes. Refuses
    a group with active members (stop the service first: Kafka moves only an empty group's
    offsets) and the projector's group (its positions are in PostgreSQL). Safe to repeat:
    every consumer dedupes what it already did. The group goes on from the range's start to
    where it was; with --company, other companies on that partition are read again too.
    """
    from shared.messaging.kafka import kafka_security
    from shared.messaging.offsets import ReplayRefused, apply_replay, plan_replay
    from shared.settings import OperatorSettings

    settings = _settings(OperatorSettings)
    bootstrap, security = settings.kafka_bootstrap, kafka_security(settings)
    try:
        plan = asyncio.run(
            plan_replay(
                bootstrap,
                topic,
                group,
                from_offset=from_offset,
                to_offset=to_offset,
                from_time=_instant(from_time, "--from-time"),
                to_time=_instant(to_time, "--to-time"),
                company_id=company,
                security=security,
            )
        )
    except ValueError as exc:  # ReplayRefused is a RuntimeError: handled below
        raise typer.BadParameter(str(exc)) from exc
    except ReplayRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(3) from exc
    typer.echo(plan.describe())
    if not plan.moves:
        return
    if not yes and not typer.confirm("Move the group back?", default=False):
        typer.echo("nothing moved")
        raise typer.Exit(1)
    try:
        asyncio.run(apply_replay(bootstrap, plan, security))
    except ReplayRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(3) from exc
    typer.echo(f"moved {len(plan.moves)} partition(s); {plan.records} record(s) to read again")


def _dead_letter_topic(topic: str) -> None:
    """A dead-letter topic of ours, or a usage error listing them (a typo would otherwise
    print an empty table, as if nothing had failed)."""
    from shared.contracts.topics import ORIGIN_TOPIC

    if topic not in ORIGIN_TOPIC:
        raise typer.BadParameter(
            f"{topic!r} is not a dead-letter topic; one of: {', '.join(sorted(ORIGIN_TOPIC))}",
            param_hint="--topic",
        )


@dlq.command("list")
def dlq_list(
    topic: str = "roger.events.dlq",
    company: Annotated[str | None, typer.Option(help="only this company's letters")] = None,
    state: Annotated[
        str | None, typer.Option(help="open, replayed or resolved (a parked command done since)")
    ] = None,
    limit: int = 50,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON lines with every header and the value, for machines"),
    ] = False,
) -> None:
    """Print dead letters, oldest first: a table (company, kind, document, reason, age, state),
    or with --json one JSON object a line."""
    _dead_letter_topic(topic)
    from shared.db import open_pool
    from shared.messaging.dead_letters import letters_table, list_dead_letters
    from shared.messaging.kafka import kafka_security
    from shared.settings import OperatorSettings

    async def run() -> list[dict[str, Any]]:
        settings = _settings(OperatorSettings)
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            return await list_dead_letters(
                settings.kafka_bootstrap,
                topic,
                pool=pool,
                company_id=company,
                state=state,
                limit=limit,
                security=kafka_security(settings),
            )
        finally:
            await pool.close()

    entries = asyncio.run(run())
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry))
    else:
        typer.echo(letters_table(entries, datetime.now(UTC)))


@dlq.command("replay")
def dlq_replay(
    topic: str = "roger.events.dlq",
    record: Annotated[
        list[str] | None, typer.Option(help="PARTITION:OFFSET of a dead letter (repeatable)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter of the topic")] = False,
    again: Annotated[
        bool, typer.Option(help="also letters replayed before (skipped otherwise)")
    ] = False,
) -> None:
    """Send dead letters back to the topic they came from: those named by --record, or --all.

    Each replay is recorded; a letter replayed before is skipped and reported unless --again.
    """
    from shared.db import open_pool
    from shared.messaging.dead_letters import replay_dead_letters
    from shared.messaging.kafka import kafka_security
    from shared.settings import OperatorSettings

    _dead_letter_topic(topic)
    if not record and not all_:
        raise typer.BadParameter("name the letters with --record P:O, or pass --all")
    chosen: set[tuple[int, int]] = set()
    for spec in record or ():
        partition, _, offset = spec.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise typer.BadParameter(f"{spec!r} is not PARTITION:OFFSET", param_hint="--record")
        chosen.add((int(partition), int(offset)))

    async def run() -> Any:
        settings = _settings(OperatorSettings)
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            return await replay_dead_letters(
                settings.kafka_bootstrap,
                pool,
                topic,
                None if all_ else chosen,
                again=again,
                security=kafka_security(settings),
            )
        finally:
            await pool.close()

    outcome = asyncio.run(run())
    for partition, offset, when in outcome.skipped:
        typer.echo(f"skipped {partition}:{offset}: already replayed at {when} (--again to resend)")
    typer.echo(f"replayed {len(outcome.replayed)} record(s)")
    found = set(outcome.replayed) | {(p, o) for p, o, _ in outcome.skipped}
    missing = sorted(chosen - found) if not all_ else []
    if missing:
        named = ", ".join(f"{p}:{o}" for p, o in missing)
        typer.echo(f"no dead letter at {named} on {topic} (see: roger-xero dlq list)", err=True)
        raise typer.Exit(1)


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored Xero token under the newest key of RX_TOKEN_KEYS; prints how
    many were re-encrypted (and how many no key opens: those connections need reconnecting)."""
    from shared.db import open_pool
    from shared.settings import DatabaseSettings, TokenKeySettings
    from shared.xero.token_store import Rotation, TokenStore

    class KeySettings(DatabaseSettings, TokenKeySettings):
        pass

    async def run() -> Rotation:
        settings = _settings(KeySettings)
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            store = TokenStore(pool, [k.get_secret_value() for k in settings.token_keys])
            await store.setup()
            return await store.rotate()
        finally:
            await pool.close()

    done = asyncio.run(run())
    typer.echo(f"re-encrypted {done.rotated} token set(s) under the newest key")
    if done.unreadable:
        typer.echo(f"{done.unreadable} token set(s) no key opens: marked needs_reconnect")


if __name__ == "__main__":
    app()
