"""The projector's event-sourced application: one Kafka record in, one atomic commit out.

Each record becomes one aggregate event, saved together with the record's
position (tracking), the document views and the command outbox rows. A record
whose position is already tracked was processed before and is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from services.projector.domain import facts
from services.projector.domain.aggregate import CompanySync, company_aggregate_id
from services.projector.domain.projection import rows_for
from shared.contracts.commands import AnyCommand, encode
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from shared.logging import get_logger

log = get_logger("projector")

MAX_REASON = 2000  # characters of a failure's reason kept on the document

# Persistence for unit tests: eventsourcing's in-memory store (no read model, no outbox).
IN_MEMORY: Mapping[str, str] = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    "AGGREGATE_CACHE_MAXSIZE": "2000",
    "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
}


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
    """The projector's event store, read model and outbox, fed one Kafka record at a time.

    ``persistence`` replaces the PostgreSQL settings made from ``database_url`` (unit tests
    use ``IN_MEMORY``: no read model, no outbox). Not thread-safe: one thread processes.
    """

    name = "rx_projector"

    def __init__(
        self, database_url: str, app_url: str, persistence: Mapping[str, str] | None = None
    ) -> None:
        self.app_url = app_url
        env = dict(persistence) if persistence is not None else eventsourcing_env(database_url)
        super().__init__(env=env)

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

    def _tracked(self, tracking: Tracking) -> bool:
        return bool(
            self.recorder.has_tracking_id(  # type: ignore[attr-defined]
                tracking.application_name, tracking.notification_id
            )
        )

    def _evict(self, company_id: str) -> None:
        """Drops the cached aggregate, which may hold an unsaved or half-applied event."""
        cache = self.repository.cache
        if cache is not None:
            try:
                cache.get(company_aggregate_id(company_id), evict=True)
            except KeyError:
                pass

    def process(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> list[AnyCommand]:
        """Applies one record of ``rx.domain-events.v1`` or ``rx.xero-results.v1``.

        Commits the company's new event, the record's position, the document rows, history
        and the outbox of the commands decided (returned) in one transaction. A record
        already tracked returns []. Raises ``pydantic.ValidationError`` for an unreadable
        record, and what the rules or the database raised (the record stays untracked, the
        cached aggregate is dropped), so the caller may try again or dead-letter it
        (``record_failure``).
        """
        # Tracking stores the *next* offset, so a restart seeks straight to it.
        tracking = Tracking(f"{topic}:{partition}", offset + 1)
        if self._tracked(tracking):
            return []
        # Unreadable: ValidationError goes up, and the consumer loop dead-letters the record.
        fact = DomainEvent.from_bytes(value or b"") if topic == DOMAIN_EVENTS else None
        answer = XeroResult.from_bytes(value or b"") if topic == XERO_RESULTS else None
        if fact is None and answer is None:
            log.error("record_of_unknown_topic", topic=topic, partition=partition, offset=offset)
            self._record(ProcessingEvent(tracking))
            return []
        company_id = fact.company_id if fact else answer.company_id  # type: ignore[union-attr]
        try:
            commands = self._apply(tracking, company_id, fact, answer)
        except Exception:
            # The cached aggregate may already hold the unsaved event, or half of it: drop it,
            # so the next attempt reloads the company from the store.
            self._evict(company_id)
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

    def _apply(
        self,
        tracking: Tracking,
        company_id: str,
        fact: DomainEvent | None,
        answer: XeroResult | None,
    ) -> list[AnyCommand]:
        company = self.company(company_id)
        now = datetime.now(UTC)
        if fact is not None:
            company.record_fact(fact.model_dump(mode="json"), now)
        elif answer is not None:
            company.record_answer(answer.model_dump(mode="json"), now)
        commands = list(company.last_commands)
        event = ProcessingEvent[uuid.UUID](tracking)
        event.collect_events(
            company,
            documents=rows_for(company.state, company.last_effects.touched),
            history=history_rows(company, now),
            outbox=[(c.command_id, company_id, encode(c)) for c in commands],
            # A "waiting" answer is not final: the outbox keeps the command to send again.
            answered=[answer.command_id] if answer and answer.type != "XeroCommandWaiting" else [],
            # After a (re)connect, whatever waited for it goes out again at once.
            resend_for=[company_id] if fact and fact.type == "XeroConnectionEstablished" else [],
        )
        self._record(event)
        return commands

    def record_failure(
        self, topic: str, partition: int, offset: int, value: bytes | None, reason: str
    ) -> None:
        """A record failed its retry budget and was dead-lettered: move past it, and show it.

        In one transaction: stores the record's position (so the partition moves on and a
        restart does not seek back to it) and, if the record is a fact naming a document
        (``facts.named_document``), marks that document ``failed`` with ``reason`` (the
        company's event ``FactDeadLettered``, so a rebuild shows it too). If the company's
        events cannot be loaded or saved, the document row alone is marked. Raises only
        if the database cannot record the position.
        """
        tracking = Tracking(f"{topic}:{partition}", offset + 1)
        if self._tracked(tracking):
            return
        reason = reason[:MAX_REASON] or "the record could not be processed"
        fact: DomainEvent | None = None
        if topic == DOMAIN_EVENTS:
            try:
                fact = DomainEvent.from_bytes(value or b"")
            except ValidationError:
                fact = None
        named = facts.named_document(fact) if fact is not None else None
        log.error(
            "record_dead_lettered",
            topic=topic,
            partition=partition,
            offset=offset,
            company_id=fact.company_id if fact else None,
            event_id=fact.event_id if fact else None,
            document=named,
            reason=reason,
        )
        if fact is None or named is None:
            self._record(ProcessingEvent(tracking))
            return
        kind, roger_id = named
        now = datetime.now(UTC)
        try:
            company = self.company(fact.company_id)
            company.record_dead_letter(fact.event_id, kind, roger_id, reason, now)
            event = ProcessingEvent[uuid.UUID](tracking)
            event.collect_events(
                company,
                documents=rows_for(company.state, company.last_effects.touched),
                history=history_rows(company, now),
            )
            self._record(event)
        except Exception as exc:  # noqa: BLE001 - the company's own events are what failed
            self._evict(fact.company_id)
            log.error("dead_letter_not_in_event_store", company_id=fact.company_id, error=repr(exc))
            entry = {
                "at": now.isoformat(),
                "source": "projector",
                "type": "FactDeadLettered",
                "event_id": fact.event_id,
                "message": reason,
            }
            event = ProcessingEvent[uuid.UUID](tracking)
            event.collect_events(
                failed=[(fact.company_id, kind, roger_id, reason)],
                history=[(fact.company_id, kind, roger_id, entry)],
            )
            self._record(event)


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
