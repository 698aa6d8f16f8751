"""`python -m xero_sandbox [--host H] [--port P] [--state FILE]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from .server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Xero sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--state", type=Path, default=None)
    args = parser.parse_args()
    serve(host=args.host, port=args.port, state=args.state)


if __name__ == "__main__":
    main()
