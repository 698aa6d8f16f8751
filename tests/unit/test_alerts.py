"""deploy/prometheus (alerting rules, scrape config), the Grafana dashboard and the runbooks:
checked by promtool where it is installed (Debian's package `prometheus`), and by structure
everywhere; every metric they name is one the code exports (or kafka_exporter's)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "roger-xero-overview.json"
RUNBOOKS = ROOT / "docs" / "runbooks"
# kafka_exporter's metrics that we use (the kafka-exporter service of deploy/docker-compose.yml).
EXPORTER_METRICS = {"kafka_consumergroup_lag", "kafka_consumergroup_current_offset"}
METRIC = re.compile(r"\b(rx_[a-z0-9_]+|kafka_[a-z0-9_]+)\b")


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def exported_metrics() -> set[str]:
    """Every metric name the code defines, as Prometheus sees it."""
    names: set[str] = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]:
        for kind, name in re.findall(
            r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"",
            path.read_text(),
        ):
            base = name.removesuffix("_total")
            if kind == "Counter":
                names |= {base + "_total", base + "_created"}
            elif kind in ("Histogram", "Summary"):
                names |= {name + s for s in ("_bucket", "_sum", "_count", "_created")}
            else:
                names.add(name)
    return names


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_every_alert_has_a_severity_a_summary_and_its_runbook() -> None:
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names)) and names
    for rule in rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
        runbook = (ROOT / rule["annotations"]["runbook_url"]).read_text()
        assert runbook.startswith(f"# {rule['alert']}\n")
        for section in ("## Diagnose", "## Fix"):
            assert section in runbook, (rule["alert"], section)
    # No runbook without its alert.
    assert {p.stem for p in RUNBOOKS.glob("Rx*.md")} == set(names)


def test_the_alerts_the_issue_asks_for_are_there() -> None:
    by_metric = {m: r["alert"] for r in rules() for m in METRIC.findall(r["expr"])}
    for metric in (
        "kafka_consumergroup_lag",
        "rx_dead_letters_total",
        "rx_connections_needs_reconnect",
        "rx_xero_day_calls_remaining",
        "rx_documents_oldest_pending_seconds",
    ):
        assert metric in by_metric, metric


def test_every_metric_named_is_exported_by_the_code_or_kafka_exporter() -> None:
    exported = exported_metrics()
    assert "rx_dead_letters_total" in exported  # the scan finds what is there
    named = {m for r in rules() for m in METRIC.findall(r["expr"])}
    named |= {m for e in dashboard_exprs() for m in METRIC.findall(e)}
    unknown = named - exported - EXPORTER_METRICS
    assert not unknown, f"no such metric: {unknown}"


def test_the_dashboard_is_grafana_json_with_a_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 30
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    for panel in board["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])


def test_the_scrape_config_names_the_jobs_the_alerts_match() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    assert {"roger-xero-ingest", "roger-xero-projector", "roger-xero-writer"} <= jobs
    assert "kafka-exporter" in jobs


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not installed (apt-get install prometheus); structure checked above")
    return subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_rules_and_the_config() -> None:
    for args in (("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml")):
        done = promtool(*args)
        assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rule_tests_pass() -> None:
    # alerts.test.yml: the alerts fire when they should and stay quiet when they should not.
    done = promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
