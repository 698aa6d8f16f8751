"""deploy/docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine:
valid against the Compose Specification's JSON Schema (vendored in deploy/compose_spec/), and
naming the same services, ports, topics, broker settings and RX_ settings as deploy/ and
shared/ use without Docker."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator
from pydantic_settings import BaseSettings

from deploy.apps import DEFAULT_PORTS, DEV_SECRETS, SERVICES, dev_env
from deploy.stack import BROKER_SETTINGS, DEFAULT_KAFKA_PORT, DEFAULT_PG_PORT
from deploy.topics import ensure_topics
from shared.contracts.topics import MAX_RECORD_BYTES, TOPICS
from shared.settings import (
    ConnectionsSettings,
    IngestSettings,
    KafkaSettings,
    ProjectorSettings,
    Settings,
    WriterSettings,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "compose_spec" / "compose_spec.json"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
# kafka-exporter: the lag metrics deploy/prometheus/alerts.yml alerts on.
INFRASTRUCTURE = {"kafka", "kafka-exporter", "postgres", "topics"}
# Settings per process, as each one reads them (the connect flow runs in ingest).
READS: dict[str, tuple[type[BaseSettings], ...]] = {
    "ingest": (IngestSettings, ConnectionsSettings),
    "projector": (ProjectorSettings,),
    "writer": (WriterSettings,),
}
# Listeners differ by design: compose adds one for the host (PLAINTEXT_HOST on 19092).
BROKER_SETTINGS_NOT_COPIED = {"listener.security.protocol.map"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def rx_name(field: str) -> str:
    return f"RX_{field.upper()}"


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(
        f"{e.json_path}: {e.message}" for e in Draft201909Validator(schema).iter_errors(compose)
    )
    assert errors == []


def test_the_schema_check_catches_a_mistake(compose: dict[str, Any]) -> None:
    # A misspelt key must fail, or the test above proves nothing.
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["ingest"]["helthcheck"] = broken["services"]["ingest"].pop("healthcheck")
    assert list(Draft201909Validator(schema).iter_errors(broken))


def test_services_are_those_deploy_apps_runs_plus_kafka_postgres_topics_and_lag_exporter(
    compose: dict[str, Any],
) -> None:
    assert set(compose["services"]) == set(SERVICES) | INFRASTRUCTURE
    for name in SERVICES:
        service = compose["services"][name]
        assert service["command"][0] == name, "the image runs the service its command names"
        assert service["build"]["context"] == ".." and service["image"] == "roger-xero:latest"


def test_ports_are_those_of_make_up(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, port in DEFAULT_PORTS.items():
        command = services[name]["command"]
        assert command[command.index("--port") + 1] == str(port)
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert services[name]["ports"] == [f"{port}:{port}"]
        probe = " ".join(services[name]["healthcheck"]["test"])
        expected = "/_sandbox/settings" if name == "sandbox" else "/readyz"
        assert f"http://127.0.0.1:{port}{expected}" in probe
    assert services["kafka"]["ports"] == [f"{DEFAULT_KAFKA_PORT}:{DEFAULT_KAFKA_PORT}"]
    assert (
        f"PLAINTEXT_HOST://127.0.0.1:{DEFAULT_KAFKA_PORT}"
        in (services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"])
    )
    assert services["postgres"]["ports"] == [f"{DEFAULT_PG_PORT}:5432"]
    env = services["ingest"]["environment"]
    assert env["RX_INGEST_PORT"] == str(DEFAULT_PORTS["ingest"])
    assert env["RX_PROJECTOR_PORT"] == str(DEFAULT_PORTS["projector"])
    assert env["RX_WRITER_PORT"] == str(DEFAULT_PORTS["writer"])


def test_kafka_is_the_official_image_in_kraft_mode_with_the_brokers_settings_of_deploy_stack(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(env["KAFKA_NODE_ID"] + "@")
    for key, value in BROKER_SETTINGS.items():
        if key in BROKER_SETTINGS_NOT_COPIED:
            continue
        assert env.get("KAFKA_" + key.upper().replace(".", "_")) == value, key
    assert env["KAFKA_MESSAGE_MAX_BYTES"] == str(MAX_RECORD_BYTES)
    assert env["KAFKA_REPLICA_FETCH_MAX_BYTES"] == str(MAX_RECORD_BYTES)
    assert compose["services"]["postgres"]["image"].startswith("postgres:")


def test_topics_are_created_by_deploy_topics_with_every_topic_before_the_services_start(
    compose: dict[str, Any],
) -> None:
    topics = compose["services"]["topics"]
    assert "from deploy.topics import ensure_topics" in " ".join(topics["entrypoint"])
    assert inspect.signature(ensure_topics).parameters["specs"].default is TOPICS
    # Reaches the broker as the services do (shared.messaging.kafka.kafka_security).
    kafka_settings = {rx_name(f) for f in KafkaSettings.model_fields if f.startswith("kafka_")}
    assert set(topics["environment"]) == kafka_settings
    assert "security=kafka_security(" in " ".join(topics["entrypoint"])
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("ingest", "projector", "writer"):
        depends = compose["services"][name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"
        assert (
            depends["kafka"]["condition"] == depends["postgres"]["condition"] == ("service_healthy")
        )


def test_every_long_running_service_has_a_health_check_and_a_restart_policy(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if name == "topics":
            assert service["restart"] == "on-failure"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_every_setting_is_passed_to_the_services_and_none_is_made_up(
    compose: dict[str, Any],
) -> None:
    every = {rx_name(f) for f in Settings.model_fields}
    for name, classes in READS.items():
        env = compose["services"][name]["environment"]
        assert set(env) <= every, f"{name}: not a setting: {set(env) - every}"
        for cls in classes:
            missing = {rx_name(f) for f in cls.model_fields} - set(env)
            assert not missing, f"{name} ({cls.__name__}) lacks {missing}"
    # What deploy/apps.py gives the local processes, compose gives the containers.
    local = {k for k in dev_env("k:1", "postgresql://x", "http://s") if k.startswith("RX_")}
    assert local <= set(compose["services"]["ingest"]["environment"])


def test_secrets_have_no_default_in_compose(compose: dict[str, Any]) -> None:
    env = compose["services"]["ingest"]["environment"]
    for name in DEV_SECRETS:
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]+\}", env[name]), name
    assert env["RX_ENV"] == "${RX_ENV:-production}"


def test_env_example_has_every_setting_and_marks_the_development_secrets() -> None:
    example = env_example()
    every = {rx_name(f) for f in Settings.model_fields}
    assert every <= set(example), f"missing from .env.example: {every - set(example)}"
    assert {k for k in example if k.startswith("RX_")} <= every
    assert example["RX_ENV"] == "development"
    for name, value in DEV_SECRETS.items():
        assert example[name] == value
    text = ENV_EXAMPLE.read_text()
    assert "DEVELOPMENT SECRETS" in text
    # Every variable compose interpolates has a value here.
    interpolated = set(re.findall(r"\$\{([A-Z_]+)[:}]", COMPOSE.read_text()))
    assert interpolated <= set(example), interpolated - set(example)


def test_the_image_is_multi_stage_non_root_and_carries_every_package() -> None:
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["roger-xero"\]', text, re.M)
    for package in ("shared", "services", "xero_sandbox"):
        assert re.search(rf"^COPY {package} ", text, re.M), package
    assert re.search(r"^COPY deploy/.*deploy/topics\.py", text, re.M)
