"""The projector's event-sourced application: one Kafka record in, one atomic commit out.

Each record becomes one aggregate event, saved together with the record's
position (tracking), the document views and the command outbox rows. A record
whose position is already tracked was processed before and is skipped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from services.projector.domain.aggregate import CompanySync, company_aggregate_id
from services.projector.domain.rules import Command
from services.projector.domain.views import views_for
from shared.contracts.commands import encode
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from shared.logging import get_logger

log = get_logger("projector")


def eventsourcing_env(database_url: str) -> dict[str, str]:
    url = urlsplit(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "PROCESS_RECORDER_TOPIC": "services.projector.store:ReadModelRecorder",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        # Never wait forever on the table lock, never sit in a transaction (pitfalls.md).
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "4",
        "CREATE_TABLE": "y",
        "AGGREGATE_CACHE_MAXSIZE": "2000",
        # One thread processes records, so cached aggregates need no defensive copies.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }


class SyncApplication(Application[uuid.UUID]):
    name = "rx_projector"

    def __init__(self, database_url: str, app_url: str) -> None:
        self.app_url = app_url
        super().__init__(env=eventsourcing_env(database_url))

    def construct_recorder(self) -> Any:
        return self.factory.process_recorder()

    def position(self, topic: str, partition: int) -> int | None:
        """The next offset to read on this partition, from our own store."""
        return self.recorder.max_tracking_id(f"{topic}:{partition}")  # type: ignore[attr-defined]

    def company(self, company_id: str) -> CompanySync:
        try:
            return self.repository.get(company_aggregate_id(company_id))  # type: ignore[return-value]
        except AggregateNotFoundError:
            return CompanySync(company_id=company_id, app_url=self.app_url)

    def process(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> list[Command]:
        # Tracking stores the *next* offset, so a restart seeks straight to it.
        tracking = Tracking(f"{topic}:{partition}", offset + 1)
        if self.recorder.has_tracking_id(tracking.application_name, tracking.notification_id):  # type: ignore[attr-defined]
            return []
        try:
            fact = DomainEvent.from_bytes(value or b"") if topic == DOMAIN_EVENTS else None
            answer = XeroResult.from_bytes(value or b"") if topic == XERO_RESULTS else None
        except ValidationError as exc:
            log.error(
                "unreadable_record", topic=topic, partition=partition, offset=offset, error=str(exc)
            )
            self._record(ProcessingEvent(tracking))
            return []
        company_id = fact.company_id if fact else answer.company_id  # type: ignore[union-attr]
        company = self.company(company_id)
        now = datetime.now(UTC)
        if fact is not None:
            company.record_fact(fact.model_dump(mode="json"), now)
        elif answer is not None:
            company.record_answer(answer.model_dump(mode="json"), now)
        commands = list(company.last_commands)
        effects = company.last_effects
        history = history_rows(company, now)
        event = ProcessingEvent[uuid.UUID](tracking)
        event.collect_events(
            company,
            documents=views_for(company.state, effects.touched),
            history=history,
            outbox=[(c.command_id, company_id, encode(c)) for c in commands],
            # A "waiting" answer is not final: the outbox keeps the command to send again.
            answered=[answer.command_id] if answer and answer.type != "XeroCommandWaiting" else [],
            # After a (re)connect, whatever waited for it goes out again at once.
            resend_for=[company_id] if fact and fact.type == "XeroConnectionEstablished" else [],
        )
        try:
            self._record(event)
        except Exception:
            # The cached aggregate already holds the unsaved event: drop it, reload next time.
            if self.repository.cache is not None:
                self.repository.cache.put(company.id, None)
            raise
        log.info(
            "record_processed",
            company_id=company_id,
            topic=topic,
            offset=offset,
            event_id=fact.event_id if fact else None,
            command_id=answer.command_id if answer else None,
            commands=[c.command_id for c in commands],
        )
        return commands


HistoryRow = tuple[str, str, str, dict[str, Any]]  # company, kind, Roger id, entry


def history_rows(company: CompanySync, at: datetime) -> list[HistoryRow]:
    """What the company's last event added to its documents' histories, commands included."""
    rows = [
        (company.company_id, kind, doc_id, entry)
        for (kind, doc_id), entry in company.last_effects.history
    ]
    for cmd in company.last_commands:
        entry = {
            "at": at.isoformat(),
            "source": "projector",
            "type": f"{cmd.kind}Sent",
            "command_id": cmd.command_id,
            "document": cmd.document_id,
        }
        rows.append((company.company_id, cmd.document_kind, cmd.document_id, entry))
    return rows
