"""``roger-xero``: one command line for running the services and operating them.

Each subcommand imports its service lazily, so that running one service never
loads another's code.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="Roger → Xero sync: services and SRE tools.")
dlq = typer.Typer(no_args_is_help=True, help="Dead letters: list and replay.")
app.add_typer(dlq, name="dlq")


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


@app.command("connect-dev")
def connect_dev(
    company_id: str,
    tenant_id: str,
    token_file: Annotated[
        Path, typer.Option(help="JSON token set, e.g. from POST /_sandbox/grants")
    ],
    default_account: str = "429",
    default_payment_account: str = "090",
) -> None:
    """Store a connection for a company directly (development and tests, until OAuth lands)."""
    from services.connections.establish import establish
    from shared.contracts.domain_events import ConnectionData
    from shared.settings import Settings

    token_set = json.loads(token_file.read_text())
    conn = ConnectionData(
        tenant_id=tenant_id,
        default_account_code=default_account,
        default_payment_account_code=default_payment_account,
    )
    asyncio.run(establish(Settings(), company_id, token_set, conn))
    typer.echo(f"{company_id} connected to {tenant_id}")


@app.command()
def rebuild(
    company: Annotated[list[str] | None, typer.Option(help="only these companies")] = None,
) -> None:
    """Rebuild the read model from the event store (stop the projector first)."""
    from services.projector.application import SyncApplication
    from services.projector.rebuild import rebuild_read_model
    from shared.settings import OperatorSettings

    settings = OperatorSettings()
    es_app = SyncApplication(settings.database_url, settings.roger_app_url)
    try:
        counts = rebuild_read_model(es_app, settings.database_url, set(company or ()) or None)
    finally:
        es_app.close()
    for company_id, documents in sorted(counts.items()):
        typer.echo(f"{company_id}: {documents} document(s)")
    typer.echo(f"rebuilt {len(counts)} compan{'y' if len(counts) == 1 else 'ies'}")


@dlq.command("list")
def dlq_list(
    topic: str = "roger.events.dlq",
    company: Annotated[str | None, typer.Option(help="only this company's letters")] = None,
    state: Annotated[
        str | None, typer.Option(help="open, replayed or resolved (a parked command done since)")
    ] = None,
    limit: int = 50,
) -> None:
    """Print dead letters with their reasons and state (JSON lines, oldest first)."""
    from shared.db import open_pool
    from shared.messaging.dead_letters import list_dead_letters
    from shared.settings import OperatorSettings

    async def run() -> list[dict[str, Any]]:
        settings = OperatorSettings()
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            return await list_dead_letters(
                settings.kafka_bootstrap,
                topic,
                pool=pool,
                company_id=company,
                state=state,
                limit=limit,
            )
        finally:
            await pool.close()

    for entry in asyncio.run(run()):
        typer.echo(json.dumps(entry))


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
    from shared.settings import OperatorSettings

    if not record and not all_:
        raise typer.BadParameter("name the letters with --record P:O, or pass --all")
    chosen: set[tuple[int, int]] = set()
    for spec in record or ():
        partition, _, offset = spec.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise typer.BadParameter(f"{spec!r} is not PARTITION:OFFSET", param_hint="--record")
        chosen.add((int(partition), int(offset)))

    async def run() -> Any:
        settings = OperatorSettings()
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            return await replay_dead_letters(
                settings.kafka_bootstrap, pool, topic, None if all_ else chosen, again=again
            )
        finally:
            await pool.close()

    outcome = asyncio.run(run())
    for partition, offset, when in outcome.skipped:
        typer.echo(f"skipped {partition}:{offset}: already replayed at {when} (--again to resend)")
    typer.echo(f"replayed {len(outcome.replayed)} record(s)")


if __name__ == "__main__":
    app()
