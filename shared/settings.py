"""Configuration from the environment (prefix ``RX_``), one model per concern."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RX_", env_file=None, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:19092"
    # SQLAlchemy-free plain DSN; "sqlite:///path" selects the embedded store.
    database_url: str = "postgresql://postgres@127.0.0.1:15432/rogerxero"

    # Roger's webhook secrets: several during rotation, any one verifies.
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr("dev-webhook-secret")]
    )
    # Bearer tokens of the services allowed to call /v1/companies/*.
    service_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr("dev-service-token")]
    )
    # Fernet keys, newest first; older keys still decrypt (rotation).
    token_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr("ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=")]
    )

    xero_client_id: str = "roger-dev-client"
    xero_client_secret: SecretStr = SecretStr("roger-dev-secret")
    xero_accounting_url: str = "http://127.0.0.1:9090/api.xro/2.0"
    xero_identity_url: str = "http://127.0.0.1:9090"
    xero_token_url: str = "http://127.0.0.1:9090/connect/token"
    xero_revoke_url: str = "http://127.0.0.1:9090/connect/revocation"
    xero_authorize_url: str = "http://127.0.0.1:9090/identity/connect/authorize"
    xero_timeout_s: float = 20.0

    # The connect flow (services/connections). Where people and Xero reach ingest; Xero's
    # redirect target defaults to <ingest_public_url>/v1/xero/callback (registered at Xero).
    ingest_public_url: str = "http://127.0.0.1:8080"
    xero_redirect_uri: str | None = None
    connect_state_ttl_s: int = 600
    setup_session_ttl_s: int = 1800

    # Where Roger shows a document; Xero's "Go to Roger" link and our lookup key.
    roger_app_url: str = "https://app.roger.example"

    # Appended to consumer group ids: lets test runs and rebuilds form groups of their own.
    group_suffix: str = ""

    ingest_port: int = 8080
    projector_port: int = 8081
    writer_port: int = 8082

    # The contract's largest event (shared.contracts.roger_events.largest_event) is 27.0 MB as
    # Roger may spell it (json.dumps: every 4-byte character as a 12-byte \u escape), 9.1 MB as
    # raw UTF-8; 32 MiB holds it with 24% to spare. A batch must fit in the same limit.
    max_body_bytes: int = 32 * 1024 * 1024
    signature_tolerance_s: int = 300

    # Writer scheduling: Xero's documented per-organisation limits.
    xero_calls_per_minute: int = 60
    xero_concurrent_calls: int = 5
    xero_calls_per_day: int = 5000
    xero_batch_size: int = 50

    # A command with no answer after this long is published again (the writer dedupes).
    command_resend_after_s: int = 600

    @field_validator("webhook_secrets", "service_tokens", "token_keys", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _csv(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
