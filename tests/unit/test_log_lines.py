"""Every line a service writes is one JSON object: ours (structlog) and the libraries'
(uvicorn, aiokafka: stdlib logging), tracebacks included, secrets scrubbed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_library_lines_and_tracebacks_are_json_too() -> None:
    script = textwrap.dedent(
        """
        import logging
        from shared.logging import configure_logging, get_logger

        configure_logging("probe")
        get_logger("ours").info("ours", company_id="co-1", token="s3cret-token")
        logging.getLogger("uvicorn.error").info("Started server process [1]")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("aiokafka").warning("Authorization: Bearer abc.def.ghi")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["event"] for line in lines] == [
        "ours",
        "Started server process [1]",
        "Exception in ASGI application",
        "Authorization: Bearer [redacted]",
    ]
    assert all(line["service"] == "probe" and "timestamp" in line for line in lines)
    assert lines[0]["token"] == "[redacted]"
    assert "ValueError: boom" in lines[2]["exception"]
    assert done.stderr == ""
