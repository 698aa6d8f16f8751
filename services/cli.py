"""``roger-xero``: one command line for running the services and operating them.

Each subcommand imports its service lazily, so that running one service never
loads another's code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Roger → Xero sync: services and SRE tools.")


@app.command()
def sandbox(
    host: str = "127.0.0.1",
    port: int = 9090,
    state: Annotated[Path | None, typer.Option(help="SQLite file that keeps state across restarts")] = None,
) -> None:
    """Run the Xero sandbox, a local stand-in for Xero's API."""
    from services.xero_sandbox.server import serve

    serve(host=host, port=port, state=state)


if __name__ == "__main__":
    app()
