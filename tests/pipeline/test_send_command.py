"""``roger-xero send``: a newcomer's way to send Roger events, signed as Roger signs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.fixtures.pipeline import ROOT, Pipeline, wait_for
from tests.support import event_builders as ev


def test_send_signs_rewrites_the_company_and_the_bill_syncs(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    company = f"send-{uuid.uuid4().hex[:6]}"
    pipeline.connect(company, pipeline.new_organisation(f"Org {company}"))
    events = tmp_path / "bill.json"
    events.write_text(
        json.dumps([ev.bill("case-co", "b-1", [ev.line("Ink", "2", "5.00")], "10.00")])
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "type": "bill.submitted"}]))

    def send(*paths: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "send",
                *map(str, paths),
                "--company",
                company,
                "--url",
                pipeline.ingest_url,
            ],
            cwd=ROOT,
            env={**os.environ, **pipeline.env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    sent = send(events)
    assert sent.returncode == 0 and ": 202 " in sent.stdout, (sent.stdout, sent.stderr)
    wait_for(
        lambda: (d := pipeline.doc(company, "bill", "b-1")) and d["state"] == "synced",
        60,
        "the sent bill synced",
    )
    refused = send(bad)
    assert refused.returncode == 1 and ": 422 " in refused.stdout, refused.stdout
