"""Which Kafka and PostgreSQL the tests get (tests/fixtures/stack.py): servers named in the
environment, else containers when a Docker engine answers, else our own processes. The
detection is faked here; nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.stack import BROKER_SETTINGS, MAX_RECORD_BYTES
from tests.fixtures.stack import (
    KAFKA_ENV,
    KAFKA_IMAGE,
    PG_ENV,
    POSTGRES_IMAGE,
    choose_backend,
    kafka_container_env,
)

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"


def answers() -> bool:
    return True


def silent() -> bool:
    return False


def never_asked() -> bool:
    raise AssertionError("Docker must not be asked when the choice is already made")


@pytest.mark.parametrize("var", [KAFKA_ENV, PG_ENV])
def test_containers_when_docker_answers_and_processes_when_it_does_not(var: str) -> None:
    assert choose_backend({}, var, answers) == "containers"
    assert choose_backend({}, var, silent) == "processes"


@pytest.mark.parametrize("var", [KAFKA_ENV, PG_ENV])
def test_a_server_named_in_the_environment_wins_without_asking_docker(var: str) -> None:
    assert choose_backend({var: "somewhere:1"}, var, never_asked) == "external"
    # An empty value names nothing.
    assert choose_backend({var: ""}, var, silent) == "processes"


def test_rx_test_stack_forces_the_choice_and_refuses_anything_else() -> None:
    assert choose_backend({"RX_TEST_STACK": "processes"}, KAFKA_ENV, never_asked) == "processes"
    assert choose_backend({"RX_TEST_STACK": "containers"}, PG_ENV, never_asked) == "containers"
    with pytest.raises(ValueError, match="RX_TEST_STACK"):
        choose_backend({"RX_TEST_STACK": "docker"}, KAFKA_ENV, answers)


def test_the_containers_are_the_official_images_compose_runs() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert KAFKA_IMAGE.startswith("apache/kafka:") and services["kafka"]["image"] == KAFKA_IMAGE
    assert POSTGRES_IMAGE.startswith("postgres:") and services["postgres"]["image"] == (
        POSTGRES_IMAGE
    )


def test_the_kafka_container_has_the_brokers_settings_and_advertises_the_bound_port() -> None:
    env = kafka_container_env("localhost", 40123)
    for key, value in BROKER_SETTINGS.items():
        assert env["KAFKA_" + key.upper().replace(".", "_")] == value
    assert env["KAFKA_MESSAGE_MAX_BYTES"] == str(MAX_RECORD_BYTES)
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://localhost:40123"
    assert "PLAINTEXT://:40123" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093"
