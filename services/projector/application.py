"""The projector's event-sourced application: Kafka records in, one atomic commit out.

Each record becomes one aggregate event, saved together with the record's
position (tracking), the document views and the command outbox rows. A record
whose position is already tracked was processed before and is skipped.

``process_batch`` does the same for a partition's fetched records at once: every
company's records are applied to its aggregate in turn and all of it (events,
the last record's position, rows written in bulk) is one transaction; if any
record fails, nothing is saved and the caller goes record by record (``process``).
Every ``snapshot_interval`` events a company's state is snapshotted, so a load
replays a bounded share of the company's events, not its whole history.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import EventStore, JSONTranscoder, Tracking
from eventsourcing.postgres import PostgresFactory
from pydantic import ValidationError

from services.projector.domain import facts, notices
from services.projector.domain.aggregate import CompanySync, company_aggregate_id
from services.projector.domain.projection import DocumentRow, rows_for
from services.projector.domain.xero_changes import SyncBackRecord
from services.projector.snapshots import CompanyStateAsCompressedPickle, CompanyStateAsPickle
from services.projector.store import SnapshotRecorder
from shared.contracts.commands import AnyCommand, encode
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from shared.contracts.sync_status import DocumentRef, document_failed
from shared.contracts.topics import DOMAIN_EVENTS, ROGER_SYNC_BACK, XERO_RESULTS
from shared.logging import get_logger
from shared.messaging.outbox import OutboxRow, status_row

log = get_logger("projector")

MAX_REASON = 2000  # characters of a failure's reason kept on the document
# Events between a small company's snapshots: a load replays at most this many. A snapshot
# costs about 100 µs per document in use (``documents.LIVE`` at most) and about 5 µs per
# packed one, so a large company's interval doubles as it grows (``snapshot_interval``): the
# cost per event is at most about 0.7 ms for a company of a few thousand documents and falls
# towards 0.4 ms at 100,000, where a load replays at most 3,200 events; measured with
# deploy/bench_projector.py (README, Performance).
SNAPSHOT_EVERY = 200
DOCUMENTS_PER_EVENT_BETWEEN = 50


def snapshot_interval(documents: int) -> int:
    """Events between snapshots of a company with ``documents`` documents: ``SNAPSHOT_EVERY``
    doubled while it stays at most a fiftieth of them (it never shrinks: documents stay)."""
    interval = SNAPSHOT_EVERY
    while interval * DOCUMENTS_PER_EVENT_BETWEEN <= documents:
        interval *= 2
    return interval


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
    is_snapshotting_enabled = True

    def __init__(
        self, database_url: str, app_url: str, persistence: Mapping[str, str] | None = None
    ) -> None:
        self.app_url = app_url
        # Per partition ("topic:partition"): offsets applied ahead of its tracked position
        # (fair_reading.py), kept in the same transactions so a re-read skips them.
        self._ahead: dict[str, set[int]] = {}
        self._stale: set[str] = set()  # to read again from the table before use
        # The cache is read again (on an assignment) beside a worker thread's transaction:
        # a reload and a commit with the cache's update never interleave.
        self._ahead_lock = threading.RLock()
        env = dict(persistence) if persistence is not None else eventsourcing_env(database_url)
        super().__init__(env=env)

    def construct_recorder(self) -> Any:
        return self.factory.process_recorder()

    def construct_snapshot_store(self) -> EventStore[uuid.UUID]:
        """eventsourcing's snapshot store, on ``SnapshotRecorder`` in PostgreSQL."""
        factory: Any = self.factory
        if not isinstance(factory, PostgresFactory):
            return super().construct_snapshot_store()
        prefix = factory.env.name.lower() or "stored"  # the table eventsourcing would name
        recorder = SnapshotRecorder(
            datastore=factory.datastore, events_table_name=f"{prefix}_snapshots"
        )
        if factory.env_create_table():
            recorder.create_table()
        return factory.event_store(mapper=self.mapper, recorder=recorder)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        # Both read; the last registered writes (eventsourcing keys encoding by type).
        transcoder.register(CompanyStateAsPickle())
        transcoder.register(CompanyStateAsCompressedPickle())

    def position(self, topic: str, partition: int) -> int | None:
        """The next offset to read on this partition, from our own store (called on each
        assignment: what another instance applied ahead of it is read afresh too)."""
        name = f"{topic}:{partition}"
        self.forget_ahead(name)
        self._ahead_of(name)
        return self.recorder.max_tracking_id(name)  # type: ignore[attr-defined]

    def forget_ahead(self, name: str) -> None:
        """What partition ``name`` ("topic:partition") had applied ahead is read again from
        the table before its next use (it was assigned again: another instance may have
        written). Safe from any thread; never waits."""
        if hasattr(self.recorder, "applied_ahead"):
            self._stale.add(name)

    def _ahead_of(self, name: str) -> set[int]:
        with self._ahead_lock:
            if name not in self._ahead or name in self._stale:
                self._stale.discard(name)
                # In memory only (unit tests' store, no such table): what this process wrote.
                load = getattr(self.recorder, "applied_ahead", None)
                self._ahead[name] = set(load(name)) if load is not None else set()
            return self._ahead[name]

    def _commit(self, event: ProcessingEvent[uuid.UUID], ahead: Mapping[str, Any]) -> None:
        """Records ``event`` (with its ``ahead`` rows) and updates the cache to match."""
        with self._ahead_lock:
            self._record(event)
            self._remember_ahead(ahead)

    def _ahead_rows(
        self, name: str, offsets: Sequence[int], tracking: Tracking | None
    ) -> dict[str, Any]:
        """The recorder's ``ahead`` rows for the records at ``offsets`` that the position
        stored with them (``tracking``, None: unchanged) does not cover, and ``ahead_below``
        to forget the rows it now covers."""
        position = tracking.notification_id if tracking is not None else None
        ahead = [(name, o) for o in offsets if position is None or o >= position]
        known = self._ahead_of(name)
        below = position is not None and any(o < position for o in known)
        return {"ahead": ahead, "ahead_below": (name, position) if below else None}

    def _remember_ahead(self, rows: Mapping[str, Any]) -> None:
        """After the transaction committed: the cache follows what it wrote."""
        for name, offset in rows["ahead"]:
            self._ahead_of(name).add(offset)
        if rows["ahead_below"] is not None:
            name, position = rows["ahead_below"]
            known = self._ahead_of(name)
            known.difference_update([o for o in known if o < position])

    def company(self, company_id: str) -> CompanySync:
        try:
            return self.repository.get(company_aggregate_id(company_id))  # type: ignore[return-value]
        except AggregateNotFoundError:
            return CompanySync(company_id=company_id, app_url=self.app_url)

    def _tracking(
        self, topic: str, partition: int, offset: int, track_to: int | None
    ) -> tuple[bool, Tracking | None]:
        """Whether the record at ``offset`` was processed (behind the partition's tracked
        position, or applied ahead of it), and the position to store with it: ``track_to``
        or one past the record (tracking stores the *next* offset, so a restart seeks
        straight to it), None if that would not move the position forward (a record applied
        ahead of one the projector deferred, ``fair_reading.py``)."""
        name = f"{topic}:{partition}"
        done = self.recorder.max_tracking_id(name)  # type: ignore[attr-defined]
        if (done is not None and offset + 1 <= done) or offset in self._ahead_of(name):
            return True, None
        return False, _moved_on(name, done, offset + 1 if track_to is None else track_to)

    def _evict(self, company_id: str) -> None:
        """Drops the cached aggregate, which may hold an unsaved or half-applied event."""
        cache = self.repository.cache
        if cache is not None:
            try:
                cache.get(company_aggregate_id(company_id), evict=True)
            except KeyError:
                pass

    def process(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        track_to: int | None = None,
    ) -> list[AnyCommand]:
        """Applies one record of ``rx.domain-events.v1``, ``rx.xero-results.v1`` or
        ``roger.sync-back`` (changes made in Xero: recorded, no command decided).

        Commits the company's new event, the partition's position (``track_to``, by default
        one past the record; kept if it would not move forward), the document rows, history
        and the outbox of the commands decided (returned) in one transaction. A record
        already tracked returns []. Raises ``pydantic.ValidationError`` for an unreadable
        record, and what the rules or the database raised (the record stays untracked, the
        cached aggregate is dropped), so the caller may try again or dead-letter it
        (``record_failure``).
        """
        processed, tracking = self._tracking(topic, partition, offset, track_to)
        if processed:
            return []
        # Unreadable: ValidationError goes up, and the consumer loop dead-letters the record.
        fact = DomainEvent.from_bytes(value or b"") if topic == DOMAIN_EVENTS else None
        answer = XeroResult.from_bytes(value or b"") if topic == XERO_RESULTS else None
        change = _sync_back(topic, value)
        if fact is None and answer is None and change is None:
            log.error("record_of_unknown_topic", topic=topic, partition=partition, offset=offset)
            self._record(ProcessingEvent(tracking))
            return []
        company_id = _company_of(fact, answer, change)
        ahead = self._ahead_rows(f"{topic}:{partition}", [offset], tracking)
        try:
            commands = self._apply(tracking, company_id, fact, answer, change, ahead)
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
            sync_back_id=change.id if change else None,
            commands=[c.command_id for c in commands],
        )
        return commands

    def _apply(
        self,
        tracking: Tracking | None,
        company_id: str,
        fact: DomainEvent | None,
        answer: XeroResult | None,
        change: SyncBackRecord | None,
        ahead: dict[str, Any],
    ) -> list[AnyCommand]:
        company = self.company(company_id)
        before = company.version
        writes = _Writes()
        commands = _decide(company, fact, answer, datetime.now(UTC), writes, change)
        event = ProcessingEvent[uuid.UUID](tracking)
        event.collect_events(company, **writes.kwargs(), **ahead)
        self._commit(event, ahead)
        self._saved([(company, before)])
        return commands

    def process_batch(
        self,
        topic: str,
        partition: int,
        records: Sequence[tuple[int, bytes | None]],
        track_to: int | None = None,
    ) -> list[AnyCommand]:
        """Applies a partition's records ``(offset, value)``, in offset order, in ONE
        transaction: the companies' new events, the partition's position (``track_to``, by
        default one past the last record; kept if it would not move forward), and the rows
        (documents, history, outbox) of all of them, written in bulk.

        Records already tracked are skipped. All or nothing: raises what ``process`` would
        for any one record (nothing is saved, the cached aggregates touched are dropped), so
        the caller can go record by record. Returns the commands decided.
        """
        name = f"{topic}:{partition}"
        done = self.recorder.max_tracking_id(name)  # type: ignore[attr-defined]
        fresh = [(o, v) for o, v in records if done is None or o + 1 > done]
        if not fresh:
            return []
        ahead_of = self._ahead_of(name)
        todo = [(o, v) for o, v in fresh if o not in ahead_of]
        tracking = _moved_on(name, done, fresh[-1][0] + 1 if track_to is None else track_to)
        if not todo:  # every one applied ahead before: the position alone moves on
            if tracking is not None:
                ahead = self._ahead_rows(name, [], tracking)
                event = ProcessingEvent[uuid.UUID](tracking)
                event.collect_events(**ahead)
                self._commit(event, ahead)
            return []
        companies: dict[str, tuple[CompanySync, int]] = {}
        writes = _Writes()
        commands: list[AnyCommand] = []
        now = datetime.now(UTC)
        try:
            for offset, value in todo:
                fact = DomainEvent.from_bytes(value or b"") if topic == DOMAIN_EVENTS else None
                answer = XeroResult.from_bytes(value or b"") if topic == XERO_RESULTS else None
                change = _sync_back(topic, value)
                if fact is None and answer is None and change is None:
                    log.error(
                        "record_of_unknown_topic", topic=topic, partition=partition, offset=offset
                    )
                    continue
                company_id = _company_of(fact, answer, change)
                if company_id not in companies:
                    loaded = self.company(company_id)
                    companies[company_id] = (loaded, loaded.version)
                company = companies[company_id][0]
                commands += _decide(company, fact, answer, now, writes, change)
            ahead = self._ahead_rows(name, [o for o, _ in todo], tracking)
            event = ProcessingEvent[uuid.UUID](tracking)
            event.collect_events(*(c for c, _ in companies.values()), **writes.kwargs(), **ahead)
            self._commit(event, ahead)
        except Exception:
            for company_id in companies:
                self._evict(company_id)
            raise
        self._saved(companies.values())
        log.info(
            "records_processed",
            topic=topic,
            partition=partition,
            first_offset=todo[0][0],
            last_offset=todo[-1][0],
            records=len(todo),
            companies=len(companies),
            commands=len(commands),
        )
        return commands

    def _saved(self, companies: Iterable[tuple[CompanySync, int]]) -> None:
        """After a transaction is saved: packs each company's documents not in use
        (``Documents.trim``), and snapshots each company whose version passed a multiple of
        its ``snapshot_interval`` since ``before``. Taken from the saved aggregate in memory
        (no replay); a snapshot is a cache, so one that cannot be written is logged and the
        next one catches up."""
        for company, before in companies:
            try:
                company.state.docs.trim()
            except Exception as exc:  # noqa: BLE001 - saved already; the objects stay as they are
                log.warning("documents_not_packed", company_id=company.company_id, error=repr(exc))
            if self.snapshots is None:
                continue
            interval = snapshot_interval(len(company.state.docs))
            if company.version // interval == before // interval:
                continue
            try:
                self.snapshots.put([CompanySync.Snapshot.take(company)])
            except Exception as exc:  # noqa: BLE001 - the events are saved; the cache can wait
                log.warning("snapshot_not_written", company_id=company.company_id, error=repr(exc))

    def record_failure(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        reason: str,
        track_to: int | None = None,
    ) -> None:
        """A record failed its retry budget and was dead-lettered: move past it, and show it.

        In one transaction: stores the partition's position as ``process`` does (so the
        partition moves on and a restart does not seek back to it) and, if the record is a
        fact naming a document
        (``facts.named_document``), marks that document ``failed`` with ``reason`` (the
        company's event ``FactDeadLettered``, so a rebuild shows it too). If the company's
        events cannot be loaded or saved, the document row alone is marked. Raises only
        if the database cannot record the position.
        """
        processed, tracking = self._tracking(topic, partition, offset, track_to)
        if processed:
            return
        ahead = self._ahead_rows(f"{topic}:{partition}", [offset], tracking)
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
            event = ProcessingEvent[uuid.UUID](tracking)
            event.collect_events(**ahead)
            self._commit(event, ahead)
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
                status=status_rows(company, now),
                **ahead,
            )
            self._commit(event, ahead)
            self._saved([(company, company.version - 1)])
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
            told = document_failed(
                fact.company_id, None, DocumentRef(kind=kind, roger_id=roger_id), 0, reason, now
            )
            event.collect_events(
                failed=[(fact.company_id, kind, roger_id, reason)],
                history=[(fact.company_id, kind, roger_id, entry)],
                status=[status_row(told, "projector")],
                **ahead,
            )
            self._commit(event, ahead)


HistoryRow = tuple[str, str, str, dict[str, Any]]  # company, kind, Roger id, entry
XeroBillRow = tuple[str, str, dict[str, Any]]  # company, InvoiceID, the bill (JSON)


def _moved_on(name: str, done: int | None, position: int) -> Tracking | None:
    """Partition ``name``'s ``position`` to store, or None if it would not move the tracked
    ``done`` forward (eventsourcing's tracking row only moves forward)."""
    return Tracking(name, position) if done is None or position > done else None


def _sync_back(topic: str, value: bytes | None) -> SyncBackRecord | None:
    """A ``roger.sync-back`` record (None for another topic). Raises
    ``pydantic.ValidationError`` for an unreadable one: the loop dead-letters it."""
    return SyncBackRecord.from_bytes(value or b"") if topic == ROGER_SYNC_BACK else None


def _company_of(
    fact: DomainEvent | None, answer: XeroResult | None, change: SyncBackRecord | None
) -> str:
    if fact is not None:
        return fact.company_id
    if answer is not None:
        return answer.company_id
    assert change is not None
    return change.company_id


@dataclass
class _Writes:
    """The rows one or more records write beside their events (``store.ReadModelRecorder``)."""

    documents: dict[tuple[str, str, str], DocumentRow] = field(default_factory=dict)
    history: list[HistoryRow] = field(default_factory=list)
    outbox: list[tuple[str, str, bytes]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    resend_for: list[str] = field(default_factory=list)
    status: list[OutboxRow] = field(default_factory=list)  # roger.sync-status records
    xero_bills: list[XeroBillRow] = field(default_factory=list)  # bills made in Xero

    def kwargs(self) -> dict[str, Any]:
        return {
            "xero_bills": self.xero_bills,
            "status": self.status,
            "documents": list(self.documents.values()),
            "history": self.history,
            "outbox": self.outbox,
            "answered": self.answered,
            "resend_for": self.resend_for,
        }


def _decide(
    company: CompanySync,
    fact: DomainEvent | None,
    answer: XeroResult | None,
    now: datetime,
    writes: _Writes,
    change: SyncBackRecord | None = None,
) -> list[AnyCommand]:
    """Applies one fact, answer or change made in Xero to ``company`` (a pending event)
    and adds its rows to ``writes``; a document touched again keeps only its latest row.
    A change made in Xero decides no command."""
    if fact is not None:
        company.record_fact(fact.model_dump(mode="json"), now)
    elif answer is not None:
        company.record_answer(answer.model_dump(mode="json"), now)
    elif change is not None:
        company.record_xero_change(change.model_dump(mode="json"), now)
        bills = company.state.xero_bills or {}
        if change.xero_id in bills and change.type == "BillCreatedInXero":
            writes.xero_bills.append((company.company_id, change.xero_id, bills[change.xero_id]))
    commands = list(company.last_commands)
    for row in rows_for(company.state, company.last_effects.touched):
        key = (row["company_id"], row["kind"], row["roger_id"])
        writes.documents.pop(key, None)  # re-inserted last: rows keep the order of change
        writes.documents[key] = row
    writes.history += history_rows(company, now)
    writes.status += status_rows(company, now)
    writes.outbox += [(c.command_id, company.company_id, encode(c)) for c in commands]
    # A "waiting" answer is not final: the outbox keeps the command to send again.
    if answer is not None and answer.type != "XeroCommandWaiting":
        writes.answered.append(answer.command_id)
    # After a (re)connect, whatever waited for it goes out again at once.
    if fact is not None and fact.type == "XeroConnectionEstablished":
        writes.resend_for.append(company.company_id)
    return commands


def status_rows(company: CompanySync, at: datetime) -> list[OutboxRow]:
    """``roger.sync-status`` records of what the company's last event left failed (stable
    ids: the outbox publishes each happening once)."""
    return [
        status_row(told, "projector")
        for told in notices.failures(company.state, company.last_effects.touched, at)
    ]


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
