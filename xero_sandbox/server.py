"""Run the sandbox: `serve(host, port, state)` blocks until SIGTERM/SIGINT.

Port 0 picks a free port; the line printed on start names the real one, so a parent
process can read it instead of racing for a port.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from .app import create_app

__all__ = ["create_app", "serve"]


class _Server(uvicorn.Server):
    async def startup(self, sockets=None):  # type: ignore[no-untyped-def]
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        host, port = self.config.host, self.config.port
        for server in self.servers:
            for sock in server.sockets:
                port = sock.getsockname()[1]
                break
        print(f"xero sandbox listening on http://{host}:{port}", flush=True)


def serve(host: str, port: int, state: Path | None) -> None:
    app = create_app(state)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # So that no benchmark figure is bounded by the stand-in's event loop.
        loop="uvloop",
        # Delayed responses (fault injection) must not hold up a clean stop for long.
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    server.run()
    sys.stdout.flush()
