"""Configuration from the environment (prefix ``RX_``): a settings class per service.

Each service reads only what it uses (``IngestSettings``, ``ConnectionsSettings``,
``ProjectorSettings``, ``WriterSettings``), built from small parts (Kafka, database,
Xero app, token keys); the SRE CLI's tools read ``OperatorSettings`` (no secrets).
``Settings`` is all of them at once, for development tools.

The defaults of the secrets are development secrets, public in this repository:
every class refuses them unless ``RX_ENV=development`` (``make up``, ``make demo`` and
the tests set it), so a production deployment that forgot one fails at start with
the variable to set, instead of running with a key anyone can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# field name -> its development default (public: never acceptable outside development)
DEV_SECRETS: dict[str, str] = {
    "webhook_secrets": "dev-webhook-secret",
    "service_tokens": "dev-service-token",
    "token_keys": "ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=",
    "xero_client_secret": "roger-dev-secret",
    "xero_webhook_keys": "dev-xero-webhook-key",
}


# Secrets we choose ourselves (Roger's webhook secret, the services' bearer tokens) must be at
# least this long outside development: a guessable one is as public as the development ones.
MIN_SECRET_CHARS = 16
CHOSEN_SECRETS = ("webhook_secrets", "service_tokens")


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _secrets(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [s.get_secret_value() if isinstance(s, SecretStr) else str(s) for s in items]


class DevelopmentSecretError(ValueError):
    """A development secret (or a too short one) outside development. ``variables`` are the
    ``RX_`` variables to set; pydantic raises it to the caller as a ``ValidationError``."""

    def __init__(self, variables: Sequence[str], short: Sequence[str] = ()) -> None:
        self.variables, self.short = tuple(variables), tuple(short)
        super().__init__(_secret_problem(self.variables, self.short))


def _secret_problem(variables: Sequence[str], short: Sequence[str]) -> str:
    parts = []
    if variables:
        parts.append(
            f"development secrets in use outside development: set {', '.join(variables)} "
            "(or RX_ENV=development on a developer's machine)"
        )
    if short:
        parts.append(f"secrets shorter than {MIN_SECRET_CHARS} characters: {', '.join(short)}")
    return "; ".join(parts)


class SettingsRefused(Exception):
    """Settings a service cannot start with: ``str()`` is one line per problem, each naming
    the ``RX_`` variable and never its value (a value may be a secret)."""


def refusal(errors: Sequence[ValidationError]) -> SettingsRefused:
    """The problems of one or more settings classes as one ``SettingsRefused``: duplicates
    dropped, development secrets of every class named in one line."""
    lines: list[str] = []
    public: list[str] = []
    short: list[str] = []
    for exc in errors:
        for error in exc.errors(include_input=False, include_url=False):
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, DevelopmentSecretError):
                public += [v for v in cause.variables if v not in public]
                short += [v for v in cause.short if v not in short]
                continue
            field, *rest = [str(part) for part in error["loc"]] or ["settings"]
            where = ".".join([f"RX_{field.upper()}", *rest])
            line = f"{where}: {error['msg'].removeprefix('Value error, ')}"
            if line not in lines:
                lines.append(line)
    if public or short:
        lines.insert(0, _secret_problem(public, short))
    return SettingsRefused("\n".join(lines))


_S = TypeVar("_S", bound=BaseSettings)


def load_settings(settings_class: type[_S], *also: type[BaseSettings]) -> _S:
    """``settings_class()`` from the environment, after checking ``also`` (the classes the
    same process reads later, e.g. ingest serves the connect flow): every problem of every
    class is named at once. Raises ``SettingsRefused``."""
    errors: list[ValidationError] = []
    for other in also:
        try:
            other()
        except ValidationError as exc:
            errors.append(exc)
    try:
        settings = settings_class()
    except ValidationError as exc:
        errors.insert(0, exc)
    if errors:
        raise refusal(errors)
    return settings


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RX_", env_file=None, extra="ignore")

    # "development" allows the public development secrets; anything else refuses them.
    env: Literal["development", "production"] = "production"

    @model_validator(mode="after")
    def _no_development_secrets(self) -> ServiceSettings:
        if self.env == "development":
            return self
        fields = type(self).model_fields
        public = [
            f"RX_{name.upper()}"
            for name, dev in DEV_SECRETS.items()
            if name in fields and dev in _secrets(getattr(self, name))
        ]
        short = [
            f"RX_{name.upper()}"
            for name in CHOSEN_SECRETS
            if name in fields
            and f"RX_{name.upper()}" not in public
            and any(len(secret) < MIN_SECRET_CHARS for secret in _secrets(getattr(self, name)))
        ]
        if public or short:
            raise DevelopmentSecretError(public, short)
        return self


class KafkaSettings(ServiceSettings):
    kafka_bootstrap: str = "127.0.0.1:19092"
    # Appended to consumer group ids: lets test runs and rebuilds form groups of their own.
    group_suffix: str = ""
    # How every client reaches the broker (shared.messaging.kafka.kafka_security): SASL users
    # per service (SCRAM-SHA-512) and TLS; PLAINTEXT only for a broker on this machine.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # CA bundle (PEM) that signed the broker's certificate; None: the system's CAs.
    kafka_ssl_cafile: str | None = None


class DatabaseSettings(ServiceSettings):
    # A plain PostgreSQL DSN.
    database_url: str = "postgresql://postgres@127.0.0.1:15432/rogerxero"


class XeroAppSettings(ServiceSettings):
    """Our app at Xero (OAuth client) and where Xero is (the sandbox in development)."""

    xero_client_id: str = "roger-dev-client"
    xero_client_secret: SecretStr = SecretStr(DEV_SECRETS["xero_client_secret"])
    xero_accounting_url: str = "http://127.0.0.1:9090/api.xro/2.0"
    xero_identity_url: str = "http://127.0.0.1:9090"
    xero_token_url: str = "http://127.0.0.1:9090/connect/token"
    xero_revoke_url: str = "http://127.0.0.1:9090/connect/revocation"
    xero_authorize_url: str = "http://127.0.0.1:9090/identity/connect/authorize"
    xero_timeout_s: float = 20.0


class TokenKeySettings(ServiceSettings):
    # Fernet keys, newest first; older keys still decrypt (rotation).
    token_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEV_SECRETS["token_keys"])]
    )

    @field_validator("token_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return _csv(value)

    @field_validator("token_keys")
    @classmethod
    def _fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        """Each must be a Fernet key (32 url-safe base64 bytes): refused at start, naming
        which one (by position, never its value), instead of a traceback later."""
        from cryptography.fernet import Fernet

        if not keys:
            raise ValueError("at least one key is needed")
        for n, key in enumerate(keys, 1):
            try:
                Fernet(key.get_secret_value().encode())
            except ValueError:
                raise ValueError(
                    f"key {n} is not a Fernet key (32 url-safe base64-encoded bytes; make one "
                    "with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                ) from None
        return keys


class ServiceTokenSettings(ServiceSettings):
    # Bearer tokens of the services allowed to call /v1/companies/*.
    service_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEV_SECRETS["service_tokens"])]
    )
    # A command with no answer after this long is published again (the writer dedupes).
    command_resend_after_s: int = 600

    @field_validator("service_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        return _csv(value)


class IngestSettings(KafkaSettings, DatabaseSettings):
    """ingest: Roger's events in (HTTP and roger.events)."""

    # Roger's webhook secrets: several during rotation, any one verifies.
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEV_SECRETS["webhook_secrets"])]
    )
    ingest_port: int = 8080
    # Room for the contract's largest event (roger_events.largest_event, JSON-escaped).
    max_body_bytes: int = 32 * 1024 * 1024
    signature_tolerance_s: int = 300

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        return _csv(value)


class ConnectionsSettings(
    KafkaSettings, DatabaseSettings, XeroAppSettings, TokenKeySettings, ServiceTokenSettings
):
    """The connect flow (services/connections), served by the ingest process."""

    # Where people and Xero reach ingest; Xero's redirect target defaults to
    # <ingest_public_url>/v1/xero/callback (registered at Xero).
    ingest_public_url: str = "http://127.0.0.1:8080"
    xero_redirect_uri: str | None = None
    connect_state_ttl_s: int = 600
    setup_session_ttl_s: int = 1800
    # Origins (comma-separated) that a connect's redirect_after may lead to; empty: the origin
    # of roger_app_url. Paths on ingest itself are always allowed.
    connect_redirect_origins: str = ""
    # Where Roger shows a document; Xero's "Go to Roger" link and our lookup key.
    roger_app_url: str = "https://app.roger.example"
    # The projector's read API, which the integration page reads (documents, counts, chart)
    # and asks for retries, with the first of ``service_tokens``.
    projector_url: str = "http://127.0.0.1:8081"


class ProjectorSettings(KafkaSettings, DatabaseSettings, ServiceTokenSettings):
    """projector: sync state, commands, read API."""

    roger_app_url: str = "https://app.roger.example"
    projector_port: int = 8081
    # Records of one company applied per turn on a partition; its records past them wait on
    # Kafka while the companies behind it have theirs applied (services/projector/
    # fair_reading.py). A turn of 250 takes 0.3-1 s; the backlog still goes in large batches.
    projector_company_share: int = Field(default=250, ge=1)


class WriterSettings(KafkaSettings, DatabaseSettings, XeroAppSettings, TokenKeySettings):
    """xero_writer: Xero calls under Xero's documented per-organisation limits."""

    writer_port: int = 8082
    xero_calls_per_minute: int = 60
    xero_concurrent_calls: int = 5
    xero_calls_per_day: int = 5000
    # Xero's app-wide limit, across all organisations and every writer instance.
    xero_app_calls_per_minute: int = 10000
    # How long a call's concurrency slot stays held if its writer dies mid-call (the shared
    # limiter's lease, services/xero_writer/shared_limits.py); above any call's duration.
    xero_call_lease_s: float = 120.0
    xero_batch_size: int = 50
    # Read, unanswered commands one company may hold; its records past them wait on Kafka and
    # are read again later, so a backlog never holds up the companies behind it on its
    # partition (shared/messaging/partition_progress.py). Five batches of 50 by default.
    writer_company_share: int = Field(default=250, ge=1)
    # Hosts whose attachment links may be plain http and may resolve to any address
    # (loopback, private): the demo's and tests' own file servers. Everyone else's links
    # must be https to a public address (issue 13, SSRF). Comma separated in RX_.
    attachment_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("attachment_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return _csv(value)


class OperatorSettings(KafkaSettings, DatabaseSettings):
    """The SRE CLI's tools (dead letters, rebuild): Kafka and the database, no secrets."""

    roger_app_url: str = "https://app.roger.example"


class InboundSettings(KafkaSettings, DatabaseSettings, XeroAppSettings, TokenKeySettings):
    """xero_inbound (served by the ingest process): Xero's webhooks in, ``roger.sync-back``
    out."""

    # Xero's webhook signing keys (developer.xero.com, the app's Webhooks page): several
    # during rotation, any one verifies.
    xero_webhook_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEV_SECRETS["xero_webhook_keys"])]
    )
    # Bills whose Url is on this host are ours (the projector builds them from it).
    roger_app_url: str = "https://app.roger.example"
    # How long a change that looks like Xero's own waits for our writer's result to show it
    # was ours (the result and the webhook travel on different topics).
    inbound_echo_grace_s: float = 3.0
    # Polling, the safety net for lost webhooks (services/xero_inbound/poller.py): each
    # connected organisation's changed bills, credit notes, payments and contacts are read
    # this often (seconds; 0: no polling). 900 s is 4 reads x 96 rounds = 384 calls a day.
    inbound_poll_interval_s: float = 900.0
    # The poller's share of an organisation's day (Xero's 5,000 calls a day per organisation
    # per app): it never makes more than floor(share x calls_per_day) calls a UTC day.
    inbound_poll_budget_share: float = Field(default=0.10, ge=0.0, le=1.0)
    xero_calls_per_day: int = 5000  # Xero's day limit, as the writer's setting of that name
    # What the poller leaves to the writer: it polls an organisation only while Xero's
    # X-DayLimit-Remaining / X-MinLimit-Remaining (as last seen) are at least these.
    inbound_poll_day_reserve: int = 1000
    inbound_poll_minute_reserve: int = 20

    @field_validator("xero_webhook_keys", mode="before")
    @classmethod
    def _split_webhook_keys(cls, value: object) -> object:
        return _csv(value)


class Settings(
    IngestSettings, ConnectionsSettings, ProjectorSettings, WriterSettings, InboundSettings
):
    """Every setting: for the SRE CLI and development tools that span services."""


class ApiDocs(TypedDict):
    docs_url: str | None
    redoc_url: str | None
    openapi_url: str | None


def api_docs(env: str) -> ApiDocs:
    """FastAPI's ``docs_url``, ``redoc_url`` and ``openapi_url``: served only in development,
    so a production service does not hand out a map of itself (issue 13)."""
    dev = env == "development"
    return ApiDocs(
        docs_url="/docs" if dev else None,
        redoc_url="/redoc" if dev else None,
        openapi_url="/openapi.json" if dev else None,
    )
