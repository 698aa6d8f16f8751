"""Every Kafka topic the project uses, with its partitioning and retention.

Company-keyed topics carry the Roger ``company_id`` as the record key, so one
company's records stay in order on one partition; 12 partitions let up to 12
consumers share the load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str
    config: dict[str, str] = field(default_factory=dict)


# Roger's own input topic: one Roger event per record, key = company_id.
ROGER_EVENTS = "roger.events"
# Records of roger.events that ingest could not accept, with reason and original bytes.
ROGER_EVENTS_DLQ = "roger.events.dlq"
# Versioned domain events (validated Roger facts), key = company_id.
DOMAIN_EVENTS = "rx.domain-events.v1"
# Xero commands decided by the projector, key = company_id.
XERO_COMMANDS = "rx.xero-commands.v1"
# Xero's answers to commands, published by the writer, key = company_id.
XERO_RESULTS = "rx.xero-results.v1"
# Commands the writer could not deliver at all (not Xero refusals: those are results).
XERO_COMMANDS_DLQ = "rx.xero-commands.dlq"
# Chart of accounts sent back to Roger as "categories", key = company_id.
ROGER_CATEGORIES = "roger.categories"
# Records the projector (or the connect flow) could not handle within their retry budget.
DOMAIN_EVENTS_DLQ = "rx.domain-events.dlq"
XERO_RESULTS_DLQ = "rx.xero-results.dlq"
ROGER_CATEGORIES_DLQ = "roger.categories.dlq"
# Xero's webhook notifications, one event per record as received, key = Xero tenant id.
XERO_NOTIFICATIONS = "rx.xero-notifications.v1"
XERO_NOTIFICATIONS_DLQ = "rx.xero-notifications.dlq"
# What changed in Xero outside Roger, for Roger (docs/contracts/roger-sync-back.md),
# key = company_id.
ROGER_SYNC_BACK = "roger.sync-back"
# roger.sync-back records the projector could not show within their retry budget.
ROGER_SYNC_BACK_DLQ = "roger.sync-back.dlq"
# What Roger tells a company's admins: a document failed, the connection needs reconnecting,
# the day's Xero budget is spent (docs/contracts/roger-sync-status.md), key = company_id.
ROGER_SYNC_STATUS = "roger.sync-status"

# Every consumed topic's dead-letter topic (shared.messaging.dead_letters writes them).
DEAD_LETTER_TOPIC: dict[str, str] = {
    ROGER_EVENTS: ROGER_EVENTS_DLQ,
    DOMAIN_EVENTS: DOMAIN_EVENTS_DLQ,
    XERO_COMMANDS: XERO_COMMANDS_DLQ,
    XERO_RESULTS: XERO_RESULTS_DLQ,
    # Only outbox rows that could not be published at all (nobody here consumes it).
    ROGER_CATEGORIES: ROGER_CATEGORIES_DLQ,
    XERO_NOTIFICATIONS: XERO_NOTIFICATIONS_DLQ,
    ROGER_SYNC_BACK: ROGER_SYNC_BACK_DLQ,
}
# ...and back: where `roger-xero dlq replay` sends a dead letter.
ORIGIN_TOPIC: dict[str, str] = {dlq: source for source, dlq in DEAD_LETTER_TOPIC.items()}

# The largest record any producer sends and any broker, topic and consumer takes (bytes).
# The contract's largest bill (500 lines of 4,000 four-byte characters) is about 9.1 MB as
# plain UTF-8 JSON, its domain event and command alike (measured by
# ``roger_events.largest_event``); Roger's records on roger.events must not \u-escape it.
MAX_RECORD_BYTES = 16 * 1024 * 1024

_KEEP = {"cleanup.policy": "delete", "min.insync.replicas": "1"}

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        ROGER_EVENTS,
        12,
        "Roger events in (JSON, key company_id)",
        {**_KEEP, "retention.ms": str(14 * DAY_MS)},
    ),
    TopicSpec(
        ROGER_EVENTS_DLQ,
        12,
        "invalid roger.events records, reason in headers",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        DOMAIN_EVENTS, 12, "validated, versioned domain events", {**_KEEP, "retention.ms": "-1"}
    ),
    TopicSpec(
        XERO_COMMANDS,
        12,
        "commands for the Xero writer",
        {**_KEEP, "retention.ms": str(30 * DAY_MS)},
    ),
    TopicSpec(XERO_RESULTS, 12, "Xero's answers to commands", {**_KEEP, "retention.ms": "-1"}),
    TopicSpec(
        XERO_COMMANDS_DLQ,
        12,
        "undeliverable commands, reason in headers",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        DOMAIN_EVENTS_DLQ,
        12,
        "domain events the projector could not handle, reason in headers",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        XERO_RESULTS_DLQ,
        12,
        "Xero results a consumer could not handle, reason in headers",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        ROGER_CATEGORIES_DLQ,
        12,
        "roger.categories records that could not be published",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        ROGER_CATEGORIES,
        12,
        "chart of accounts for Roger",
        {**_KEEP, "retention.ms": str(30 * DAY_MS)},
    ),
    TopicSpec(
        XERO_NOTIFICATIONS,
        12,
        "Xero's webhook events as received (JSON, key tenant id)",
        {**_KEEP, "retention.ms": str(14 * DAY_MS)},
    ),
    TopicSpec(
        XERO_NOTIFICATIONS_DLQ,
        12,
        "Xero notifications that could not be handled, reason in headers",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        ROGER_SYNC_BACK,
        12,
        "changes made in Xero, for Roger (JSON, key company_id)",
        {**_KEEP, "retention.ms": str(30 * DAY_MS)},
    ),
    TopicSpec(
        ROGER_SYNC_BACK_DLQ,
        12,
        "changes made in Xero the projector could not show, reason in headers",
        {**_KEEP, "retention.ms": str(90 * DAY_MS)},
    ),
    TopicSpec(
        ROGER_SYNC_STATUS,
        12,
        "failures, reconnects and spent budgets, for Roger to notify admins (JSON, key company_id)",
        {**_KEEP, "retention.ms": str(30 * DAY_MS)},
    ),
)
