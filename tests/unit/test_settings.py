"""Settings per service, and no development secret outside development."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import (
    IngestSettings,
    OperatorSettings,
    ProjectorSettings,
    Settings,
    WriterSettings,
)

ROOT = Path(__file__).resolve().parents[2]
REAL_KEY = "wkGxF2wO5zwAJDJZE4X41QzMxVZ4R7GwBiiOt5-T44s="  # a Fernet key made for this test


def production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RX_"):
            monkeypatch.delenv(name)


def test_each_service_reads_only_its_own_settings() -> None:
    assert "webhook_secrets" in IngestSettings.model_fields
    assert "token_keys" not in IngestSettings.model_fields
    assert "xero_client_secret" not in ProjectorSettings.model_fields
    assert "webhook_secrets" not in WriterSettings.model_fields
    assert "xero_calls_per_minute" in WriterSettings.model_fields
    assert set(WriterSettings.model_fields) <= set(Settings.model_fields)


def test_development_secrets_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(monkeypatch)
    with pytest.raises(ValidationError) as refused:
        WriterSettings()
    assert "RX_TOKEN_KEYS" in str(refused.value) and "RX_XERO_CLIENT_SECRET" in str(refused.value)
    monkeypatch.setenv("RX_TOKEN_KEYS", REAL_KEY)
    monkeypatch.setenv("RX_XERO_CLIENT_SECRET", "a-real-secret")
    assert WriterSettings().env == "production"
    # One development key among real ones is still a development key.
    monkeypatch.setenv("RX_TOKEN_KEYS", f"{REAL_KEY},ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=")
    with pytest.raises(ValidationError):
        WriterSettings()
    # A key that is no Fernet key is refused at start, by position, never shown.
    monkeypatch.setenv("RX_TOKEN_KEYS", f"{REAL_KEY},not-a-fernet-key-at-all")
    with pytest.raises(ValidationError) as refused:
        WriterSettings()
    assert "key 2 is not a Fernet key" in str(refused.value)


def test_development_mode_accepts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    monkeypatch.setenv("RX_ENV", "development")
    assert Settings().env == "development"


def test_operator_tools_need_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    assert OperatorSettings().database_url


@pytest.mark.parametrize("service", ["ingest", "projector", "writer"])
def test_a_service_started_with_development_secrets_exits_with_a_clear_message(
    service: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RX_")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", service, "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "development secrets in use outside development" in done.stderr
    assert "Traceback" not in done.stderr


def start(service: str, **rx: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RX_")} | rx
    return subprocess.run(
        [sys.executable, "-m", "services.cli", service, "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_refusal_names_variables_and_never_prints_a_value() -> None:
    """A refusal goes to the logs: no real secret set beside a refused one may show in it,
    not even in part (pydantic's own message quotes the input)."""
    secrets = {
        "RX_TOKEN_KEYS": REAL_KEY,
        "RX_XERO_CLIENT_SECRET": "SUPERSECRET-client-abcdef0123456789",
        "RX_DATABASE_URL": "postgresql://rx:DBPASSWORD123@db/rx",
        "RX_KAFKA_SASL_PASSWORD": "KAFKAPASS-xyz-0123456789",
    }
    done = start("writer", RX_CALLS="x", RX_XERO_CALLS_PER_MINUTE="many", **secrets)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "RX_XERO_CALLS_PER_MINUTE" in done.stderr
    for value in secrets.values():
        for piece in (value[:8], value[-8:]):
            assert piece not in done.stderr, piece
    assert "Traceback" not in done.stderr


def test_ingest_names_every_variable_of_everything_it_serves_at_once() -> None:
    """ingest also serves the connect flow and Xero's webhooks: one refusal names them all,
    and a secret we choose that is too short is refused too."""
    done = start("ingest", RX_WEBHOOK_SECRETS="short")
    assert done.returncode == 2, done.stderr[-2000:]
    for variable in (
        "RX_SERVICE_TOKENS",
        "RX_TOKEN_KEYS",
        "RX_XERO_CLIENT_SECRET",
        "RX_XERO_WEBHOOK_KEYS",
    ):
        assert variable in done.stderr, variable
    assert "shorter than 16 characters: RX_WEBHOOK_SECRETS" in done.stderr
    assert "short" not in done.stderr.replace("shorter", "")


def test_sre_tools_refuse_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RX_")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "rotate-keys"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "RX_TOKEN_KEYS" in done.stderr and "Traceback" not in done.stderr
