"""``roger-xero``: one command line for running the services and operating them.

Each subcommand imports its service lazily, so that running one service never
loads another's code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic_settings import BaseSettings

from shared.settings import SettingsRefused, load_settings

app = typer.Typer(no_args_is_help=True, help="Roger → Xero sync: services and SRE tools.")
dlq = typer.Typer(no_args_is_help=True, help="Dead letters: list and replay.")
app.add_typer(dlq, name="dlq")


_S = TypeVar("_S", bound=BaseSettings)


def _settings(settings_class: type[_S]) -> _S:
    """The tool's settings; refused ones end the command with status 2 and a line per
    variable (never a traceback, never a value)."""
    try:
        return load_settings(settings_class)
    except SettingsRefused as exc:
        typer.echo(f"cannot run:\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def sandbox(
    host: str = "127.0.0.1",
    port: int = 9090,
    state: Annotated[
        Path | None, typer.Option(help="SQLite file that keeps state across restarts")
    ] = None,
) -> None:
    """Run the Xero sandbox, a local stand-in for Xero's API."""
    from xero_sandbox.server import serve

    serve(host=host, port=port, state=state)


@app.command()
def ingest(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the ingest service (POST /v1/events and the roger.events consumer)."""
    from services.ingest.main import run

    run(host, port)


@app.command()
def projector(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the projector (sync state, command outbox, read API)."""
    from services.projector.main import run

    run(host, port)


@app.command()
def writer(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the Xero writer."""
    from services.xero_writer.main import run

    run(host, port)


@app.command()
def send(
    files: Annotated[list[Path], typer.Argument(help="JSON files: one Roger event or a list")],
    company: Annotated[
        str | None, typer.Option(help="set every event's company_id to this company")
    ] = None,
    url: Annotated[str | None, typer.Option(help="ingest's URL (default: this machine's)")] = None,
) -> None:
    """POST Roger events to ingest signed as Roger signs them (``Roger-Signature``, with the
    first of RX_WEBHOOK_SECRETS); prints ingest's answer. Exit 1 unless it is 2xx.

    Each file is sent as one request, in the order given. With --company, every event's
    ``company_id`` is replaced, e.g. to replay a case file against a connected company.
    """
    import time

    import httpx

    from services.ingest.signature import sign
    from shared.settings import IngestSettings

    settings = _settings(IngestSettings)
    target = (url or f"http://127.0.0.1:{settings.ingest_port}").rstrip("/") + "/v1/events"
    secret = settings.webhook_secrets[0].get_secret_value()
    for path in files:
        try:
            events = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:  # missing, a directory, not UTF-8, not JSON
            typer.echo(f"{path}: cannot read it as JSON: {exc}", err=True)
            raise typer.Exit(2) from None
        if company is not None:
            for event in events if isinstance(events, list) else [events]:
                if not isinstance(event, dict):
                    typer.echo(f"{path}: --company needs events (JSON objects)", err=True)
                    raise typer.Exit(2)
                event["company_id"] = company
        # The contract's batch shape is {"events": [...]}; a case file is a bare list.
        body = json.dumps({"events": events} if isinstance(events, list) else events).encode()
        signature = sign(secret, int(time.time()), body)
        response = httpx.post(
            target,
            content=body,
            headers={"Content-Type": "application/json", "Roger-Signature": signature},
            timeout=60,
        )
        typer.echo(f"{path}: {response.status_code} {response.text[:2000]}")
        if not response.is_success:
            raise typer.Exit(1)


@app.command("connect-dev")
def connect_dev(
    company_id: str,
    tenant_id: str,
    token_file: Annotated[
        Path, typer.Option(help="JSON token set, e.g. from POST /_sandbox/grants")
    ],
    default_account: str = "429",
    default_payment_account: str = "090",
    lock_date_policy: str = "fail",
    bill_status: str = "AUTHORISED",
) -> None:
    """Store a connection for a company directly, without the OAuth round trip (development
    and tests; ``make up`` uses it for acme-dk)."""
    from services.connections.establish import establish
    from services.connections.setup_rules import company_id_ok
    from shared.contracts.domain_events import ConnectionData
    from shared.settings import Settings

    if not company_id_ok(company_id):
        # The contract's company id (roger-events.md): what every other door checks too.
        raise typer.BadParameter("must be 1 to 64 of A-Z a-z 0-9 _ -", param_hint="COMPANY_ID")
    token_set = json.loads(token_file.read_text())
    conn = ConnectionData(
        tenant_id=tenant_id,
        default_account_code=default_account,
        default_payment_account_code=default_payment_account,
        lock_date_policy=lock_date_policy,  # type: ignore[arg-type]  # validated by the model
        bill_status=bill_status,  # type: ignore[arg-type]  # validated by the model
    )
    asyncio.run(establish(_settings(Settings), company_id, token_set, conn))
    typer.echo(f"{company_id} connected to {tenant_id}")


@app.command()
def rebuild(
    company: Annotated[list[str] | None, typer.Option(help="only these companies")] = None,
) -> None:
    """Rebuild the read model from the event store (stop the projector first)."""
    from services.projector.application import SyncApplication
    from services.projector.rebuild import rebuild_read_model
    from shared.settings import OperatorSettings

    settings = _settings(OperatorSettings)
    es_app = SyncApplication(settings.database_url, settings.roger_app_url)
    try:
        counts = rebuild_read_model(es_app, settings.database_url, set(company or ()) or None)
    finally:
        es_app.close()
    for company_id, documents in sorted(counts.items()):
        typer.echo(f"{company_id}: {documents} document(s)")
    typer.echo(f"rebuilt {len(counts)} compan{'y' if len(counts) == 1 else 'ies'}")


@app.command()
def lag(
    group: Annotated[list[str] | None, typer.Option(help="only these groups (repeatable)")] = None,
) -> None:
    """Show each consumer group's lag per partition (records past its committed offset)."""
    from shared.messaging.kafka import kafka_security
    from shared.messaging.offsets import group_lag
    from shared.settings import OperatorSettings

    settings = _settings(OperatorSettings)
    rows = asyncio.run(group_lag(settings.kafka_bootstrap, group, kafka_security(settings)))
    table = [("GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG")]
    table += [
        (
            r.group,
            r.topic,
            str(r.partition),
            "-" if r.committed is None else str(r.committed),
            str(r.end),
            str(r.lag),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.group] = totals.get(r.group, 0) + r.lag
    for name, total in totals.items():
        typer.echo(f"{name}: {total} record(s) behind")


def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 instant", param_hint=option) from exc
    if instant.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no timezone (add Z or +00:00)", param_hint=option)
    return instant


@app.command()
def replay(
    topic: Annotated[str, typer.Option(help="the topic to read again")],
    group: Annotated[str, typer.Option(help="the consumer group to move back")],
    from_offset: Annotated[int | None, typer.Option(help="first offset to read again")] = None,
    to_offset: Annotated[int | None, typer.Option(help="last offset of the range")] = None,
    from_time: Annotated[
        str | None, typer.Option(help="ISO 8601 instant with timezone: records from then")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option(help="ISO 8601 instant: records until then")
    ] = None,
    company: Annotated[str | None, typer.Option(help="only this company's partition")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
) -> None:
    """Move a consumer group back so it reads a range of a topic again.

    Says what it will do (partitions, offsets, records) and asks first unless --yes. Refuses
    a group with active members (stop the service first: Kafka moves only an empty group's
    offsets) and the projector's group (its positions are in PostgreSQL). Safe to repeat:
    every consumer dedupes what it already did. The group goes on from the range's start to
    where it was; with --company, other companies on that partition are read again too.
    """
    from shared.messaging.kafka import kafka_security
    from shared.messaging.offsets import ReplayRefused, apply_replay, plan_replay
    from shared.settings import OperatorSettings

    settings = _settings(OperatorSettings)
    bootstrap, security = settings.kafka_bootstrap, kafka_security(settings)
    try:
        plan = asyncio.run(
            plan_replay(
                bootstrap,
                topic,
                group,
                from_offset=from_offset,
                to_offset=to_offset,
                from_time=_instant(from_time, "--from-time"),
                to_time=_instant(to_time, "--to-time"),
                company_id=company,
                security=security,
            )
        )
    except ValueError as exc:  # ReplayRefused is a RuntimeError: handled below
        raise typer.BadParameter(str(exc)) from exc
    except ReplayRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(3) from exc
    typer.echo(plan.describe())
    if not plan.moves:
        return
    if not yes and not typer.confirm("Move the group back?", default=False):
        typer.echo("nothing moved")
        raise typer.Exit(1)
    try:
        asyncio.run(apply_replay(bootstrap, plan, security))
    except ReplayRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(3) from exc
    typer.echo(f"moved {len(plan.moves)} partition(s); {plan.records} record(s) to read again")


def _dead_letter_topic(topic: str) -> None:
    """A dead-letter topic of ours, or a usage error listing them (a typo would otherwise
    print an empty table, as if nothing had failed)."""
    from shared.contracts.topics import ORIGIN_TOPIC

    if topic not in ORIGIN_TOPIC:
        raise typer.BadParameter(
            f"{topic!r} is not a dead-letter topic; one of: {', '.join(sorted(ORIGIN_TOPIC))}",
            param_hint="--topic",
        )


@dlq.command("list")
def dlq_list(
    topic: str = "roger.events.dlq",
    company: Annotated[str | None, typer.Option(help="only this company's letters")] = None,
    state: Annotated[
        str | None, typer.Option(help="open, replayed or resolved (a parked command done since)")
    ] = None,
    limit: int = 50,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON lines with every header and the value, for machines"),
    ] = False,
) -> None:
    """Print dead letters, oldest first: a table (company, kind, document, reason, age, state),
    or with --json one JSON object a line."""
    _dead_letter_topic(topic)
    from shared.db import open_pool
    from shared.messaging.dead_letters import letters_table, list_dead_letters
    from shared.messaging.kafka import kafka_security
    from shared.settings import OperatorSettings

    async def run() -> list[dict[str, Any]]:
        settings = _settings(OperatorSettings)
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            return await list_dead_letters(
                settings.kafka_bootstrap,
                topic,
                pool=pool,
                company_id=company,
                state=state,
                limit=limit,
                security=kafka_security(settings),
            )
        finally:
            await pool.close()

    entries = asyncio.run(run())
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry))
    else:
        typer.echo(letters_table(entries, datetime.now(UTC)))


@dlq.command("replay")
def dlq_replay(
    topic: str = "roger.events.dlq",
    record: Annotated[
        list[str] | None, typer.Option(help="PARTITION:OFFSET of a dead letter (repeatable)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter of the topic")] = False,
    again: Annotated[
        bool, typer.Option(help="also letters replayed before (skipped otherwise)")
    ] = False,
) -> None:
    """Send dead letters back to the topic they came from: those named by --record, or --all.

    Each replay is recorded; a letter replayed before is skipped and reported unless --again.
    """
    from shared.db import open_pool
    from shared.messaging.dead_letters import replay_dead_letters
    from shared.messaging.kafka import kafka_security
    from shared.settings import OperatorSettings

    _dead_letter_topic(topic)
    if not record and not all_:
        raise typer.BadParameter("name the letters with --record P:O, or pass --all")
    chosen: set[tuple[int, int]] = set()
    for spec in record or ():
        partition, _, offset = spec.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise typer.BadParameter(f"{spec!r} is not PARTITION:OFFSET", param_hint="--record")
        chosen.add((int(partition), int(offset)))

    async def run() -> Any:
        settings = _settings(OperatorSettings)
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            return await replay_dead_letters(
                settings.kafka_bootstrap,
                pool,
                topic,
                None if all_ else chosen,
                again=again,
                security=kafka_security(settings),
            )
        finally:
            await pool.close()

    outcome = asyncio.run(run())
    for partition, offset, when in outcome.skipped:
        typer.echo(f"skipped {partition}:{offset}: already replayed at {when} (--again to resend)")
    typer.echo(f"replayed {len(outcome.replayed)} record(s)")
    found = set(outcome.replayed) | {(p, o) for p, o, _ in outcome.skipped}
    missing = sorted(chosen - found) if not all_ else []
    if missing:
        named = ", ".join(f"{p}:{o}" for p, o in missing)
        typer.echo(f"no dead letter at {named} on {topic} (see: roger-xero dlq list)", err=True)
        raise typer.Exit(1)


# ---- reconcile ------------------------------------------------------------------------------

_GONE = ("VOIDED", "DELETED")
_OUR_PAYMENT = "Roger payment "  # the reference our writer gives every payment it makes


@dataclass(frozen=True)
class Difference:
    """One way Xero differs from what we hold of a document.

    ``fix``: what ``--fix`` may send (``{"resend": "document" | "update" | "payment",
    "payment_id"?}``), None when a person decides; ``why``: for a person, what to do."""

    kind: str
    roger_id: str
    field: str
    ours: str
    xero: str
    fix: dict[str, str] | None = None
    why: str = ""


def _num(value: Any) -> Decimal | None:
    try:
        return None if value is None or value == "" else Decimal(str(value))
    except ArithmeticError:
        return None


def differences(
    docs: list[dict[str, Any]],
    invoices: dict[str, dict[str, Any]],
    notes: dict[str, dict[str, Any]],
    contacts: dict[str, dict[str, Any]],
) -> tuple[list[Difference], list[str]]:
    """Compares each document of the read API (with its ``roger`` and ``conflict`` fields)
    with Xero's (``invoices``: bills and receipts by InvoiceID; ``notes``: credit notes by
    CreditNoteID; ``contacts`` by ContactID). Returns the differences (every field that
    differs: total, date, due date, currency, contact, status, payments), and the
    documents not compared (a command of theirs in flight, or no Roger version yet).

    Safe to fix (README, "What comes back from Xero, and conflicts"): only what Roger has
    and Xero never got, so nothing of Xero's is overwritten: a document with no Xero id on
    our side (never made, or refused: a refusal that stands shows again), a payment with no
    Xero id on our side that failed. Everything else needs a person, in either direction: a
    field of a document Xero holds that differs from what we sent (an edit in Xero), a
    document or payment we made that Xero no longer has (removed there by someone), a
    conflict held, a document voided or deleted in Xero, a contact archived or merged
    there, a payment made in Xero outside Roger, a document deleted in Roger that Xero
    still holds.
    """
    found: list[Difference] = []
    skipped: list[str] = []
    for doc in docs:
        kind, roger_id, roger = doc["kind"], doc["roger_id"], doc.get("roger") or {}
        name = f"{kind} {roger_id}"
        if doc["state"] in ("pending", "waiting") or roger.get("total") is None:
            skipped.append(name)
            continue

        differ = _collector(found, kind, roger_id)
        held = doc.get("conflict")
        if held:
            differ(
                "conflict",
                held.get("roger"),
                held.get("xero"),
                why="Roger and Xero both changed it: retry sends Roger's, or change Roger's",
            )
            continue
        held_in = notes if kind == "credit_note" else invoices
        xero_id = doc.get("xero_id")
        theirs = held_in.get(xero_id or "")
        status = str(theirs.get("Status", "")) if theirs else ""
        resend = f"POST .../documents/{kind}/{roger_id}/resend"
        if roger.get("deleted"):
            if theirs is not None and status not in _GONE:
                differ(
                    "status",
                    "deleted in Roger",
                    status,
                    why="void or delete it in Xero, or retry the document",
                )
            continue
        if theirs is None:
            ours = f"{roger.get('number')} {roger.get('total')} {roger.get('currency')}"
            if not xero_id:
                # Safe whatever the cause: Xero never got it, so it holds nothing of it to
                # lose; a refusal that still stands shows on the document again.
                differ("document", ours, "missing", fix={"resend": "document"})
            else:
                differ(
                    "document",
                    f"{ours} (in Xero as {xero_id})",
                    "missing",
                    why="Xero no longer has the document we made: someone removed it there; "
                    f'delete it in Roger, or make it again ({resend} {{"resend": "document"}})',
                )
            continue
        if status in _GONE:
            differ(
                "status",
                "live",
                status,
                why=f"{status.lower()} in Xero by someone: delete it in Roger, or, if Roger's "
                f'stands, make it again ({resend} {{"resend": "document"}})',
            )
            continue
        _compare_document(doc, roger, theirs, contacts, differ)
    return found, skipped


def _collector(found: list[Difference], kind: str, roger_id: str) -> Any:
    """``differ(field, ours, xero, fix=..., why=...)``: adds a difference of this document."""

    def differ(field: str, ours: Any, xero: Any, **how: Any) -> None:
        found.append(Difference(kind, roger_id, field, str(ours), str(xero), **how))

    return differ


def _day(value: Any) -> date | None:
    """Xero's ``/Date(ms+0000)/`` or ``2026-11-02T00:00:00``, or Roger's ``2026-11-02``, as
    a date (compared as dates, never as text)."""
    from shared.xero.client import xero_moment

    moment = xero_moment(value)
    return moment.date() if moment else None


def _moved_for_lock_date(doc: dict[str, Any]) -> bool:
    """The writer posted it on the first open day after a lock date (its warning says so)."""
    return any("the first open day" in str(w) for w in doc.get("warnings") or [])


def _compare_document(
    doc: dict[str, Any],
    roger: dict[str, Any],
    theirs: dict[str, Any],
    contacts: dict[str, dict[str, Any]],
    differ: Any,
) -> None:
    """Every field of a document Xero holds, live, that differs from what we sent, and its
    payments. A field that differs was changed in Xero (by someone: we sent Roger's): a
    person decides, never ``--fix`` (it would overwrite the accountant's edit)."""
    kind, roger_id = doc["kind"], doc["roger_id"]
    edited = (
        "changed in Xero by someone: keep Xero's (change Roger's to match), or put Roger's "
        f'back (POST .../documents/{kind}/{roger_id}/resend {{"resend": "update"}})'
    )
    as_sent = bool(roger.get("in_xero_as_sent"))
    # What Xero held after our last write (it may round Roger's total), else Roger's total.
    expected = _num(roger.get("xero_total")) or _num(roger.get("total"))
    total = _num(theirs.get("Total"))
    if as_sent and expected is not None and total != expected:
        differ("total", expected, total, why=edited)
    # What Xero answered at our last write (it may have kept its own spelling when it
    # adopted a bill of the same number), so only a change made there since differs.
    number_key = "CreditNoteNumber" if kind == "credit_note" else "InvoiceNumber"
    ours_number, xero_number = doc.get("xero_number"), theirs.get(number_key)
    if as_sent and ours_number and xero_number is not None and str(xero_number) != ours_number:
        differ("number", ours_number, xero_number, why=edited)
    dates = (("date", "DateString", "Date"), ("due_date", "DueDateString", "DueDate"))
    for field, text_key, key in dates:
        ours_day, xero_day = _day(roger.get(field)), _day(theirs.get(text_key) or theirs.get(key))
        if not as_sent or ours_day is None or xero_day is None or ours_day == xero_day:
            continue
        if not (_moved_for_lock_date(doc) and xero_day > ours_day):
            differ(field, ours_day, xero_day, why=edited)
    currency = theirs.get("CurrencyCode")
    if as_sent and currency and currency != roger.get("currency"):
        differ("currency", roger.get("currency"), currency, why=edited)
    contact_id = roger.get("contact_id")
    contact = contacts.get(contact_id or "")
    merged = contact.get("MergedToContactID") if contact else None
    xero_contact = (theirs.get("Contact") or {}).get("ContactID")
    if as_sent and contact_id and xero_contact and xero_contact not in (contact_id, merged):
        differ("contact", contact_id, xero_contact, why=edited)
    elif contact is not None and contact.get("ContactStatus") == "ARCHIVED":
        differ(
            "contact",
            f"{contact.get('Name')} ({contact_id})",
            f"merged into {merged}" if merged else "ARCHIVED",
            why="merged in Xero: Roger's next change goes to the survivor"
            if merged
            else "archived in Xero: restore the contact in Xero (or choose another vendor)",
        )
    _compare_payments(roger, theirs, differ)


def _compare_payments(roger: dict[str, Any], theirs: dict[str, Any], differ: Any) -> None:
    """Roger's payments against the document's payments in Xero."""
    held = {str(p.get("PaymentID")): p for p in theirs.get("Payments") or []}
    ours = {p["xero_id"] for p in roger.get("payments") or [] if p.get("xero_id")}
    for payment in roger.get("payments") or []:
        if payment.get("reversed"):
            continue
        field, amount = f"payment {payment['payment_id']}", payment.get("amount") or "the total"
        if payment.get("xero_id"):
            if payment["xero_id"] not in held:
                # We made it; Xero no longer has it: someone removed it there on purpose.
                differ(
                    field,
                    f"{amount} (in Xero as {payment['xero_id']})",
                    "missing",
                    why="removed in Xero by someone: reverse it in Roger, or pay it again in Xero",
                )
        elif payment.get("state") == "failed":
            # Xero never got it: safe to send (a refusal that still stands shows again).
            differ(
                field,
                amount,
                "missing",
                fix={"resend": "payment", "payment_id": payment["payment_id"]},
            )
    for xero_payment_id, payment in held.items():
        reference = str(payment.get("Reference") or "")
        if xero_payment_id not in ours and not reference.startswith(_OUR_PAYMENT):
            differ(
                "payment made in Xero",
                "-",
                f"{payment.get('Amount')} ({reference or 'no reference'})",
                why="paid in Xero outside Roger: record the payment in Roger",
            )


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@app.command()
def reconcile(
    company: Annotated[str, typer.Argument(help="the Roger company id")],
    fix: Annotated[
        bool, typer.Option("--fix", help="send what Roger holds where it is safe")
    ] = False,
    projector_url: Annotated[
        str | None, typer.Option(help="the projector's read API (default RX_PROJECTOR_URL)")
    ] = None,
) -> None:
    """Compare our state of every document of COMPANY with what Xero holds, and print each
    difference (document, field, ours, Xero's).

    Our state comes from the projector's read API (RX_PROJECTOR_URL, with the first of
    RX_SERVICE_TOKENS); Xero's is read with the company's own tokens (GET Invoices,
    CreditNotes and Contacts; about one call per 50 documents). With --fix, what is safe is
    sent again through the projector (``POST .../resend``: only what Xero never got, a
    document or a failed payment with no Xero id on our side), and what needs a person is
    listed with what to do (anything Xero holds that differs from ours: nothing is
    overwritten in either direction).
    Documents with a command in flight are not compared. Exit status: 0 when nothing
    differs (or, with --fix, nothing is left for a person), 1 otherwise, 2 on bad settings.
    """
    from urllib.parse import quote

    import httpx

    from services.connections.setup_rules import company_id_ok
    from shared.logging import configure_logging

    if not company_id_ok(company):
        raise typer.BadParameter("must be 1 to 64 of A-Z a-z 0-9 _ -", param_hint="COMPANY")
    configure_logging("reconcile", "WARNING")  # the table is the output, not each Xero call
    settings = _settings(_reconcile_settings())
    base = (projector_url or settings.projector_url).rstrip("/")  # type: ignore[attr-defined]
    token = settings.service_tokens[0].get_secret_value()  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        docs = _our_documents(base, company, headers)
        invoices, notes, contacts = asyncio.run(_read_xero(settings, company, docs))
    except (httpx.HTTPError, RuntimeError) as exc:
        typer.echo(f"cannot reconcile {company}: {exc}", err=True)
        raise typer.Exit(1) from None
    found, skipped = differences(docs, invoices, notes, contacts)
    typer.echo(f"{company}: {len(docs)} document(s), {len(found)} difference(s)")
    if skipped:
        typer.echo(f"not compared (in flight): {', '.join(skipped)}")
    if found:
        rows = [("DOCUMENT", "FIELD", "OURS", "XERO'S", "FIX")]
        rows += [
            (
                f"{d.kind} {d.roger_id}",
                d.field,
                d.ours,
                d.xero,
                d.fix["resend"] if d.fix and not d.why else "person",
            )
            for d in found
        ]
        for line in _table(rows):
            typer.echo(line)
    safe = [d for d in found if d.fix is not None and not d.why]
    person = [d for d in found if d not in safe]
    if fix:
        # Per document: the payments Xero lacks first, then Roger's version, or the whole
        # document (a new one: its payments come with it).
        order = {"payment": 0, "update": 1, "document": 2}
        sent: set[tuple[str, str]] = set()
        for d in sorted(safe, key=lambda d: order[(d.fix or {})["resend"]]):
            assert d.fix is not None
            if (d.kind, d.roger_id) in sent and d.fix["resend"] != "update":
                continue
            path = f"/v1/companies/{company}/documents/{d.kind}/{quote(d.roger_id, safe='')}"
            body = {**d.fix, "reason": f"reconcile: {d.field} ours {d.ours}, Xero's {d.xero}"}
            r = httpx.post(f"{base}{path}/resend", json=body, headers=headers, timeout=30)
            if r.status_code == 202:
                typer.echo(f"sent: {d.kind} {d.roger_id} {d.fix['resend']} ({d.field})")
                if d.fix["resend"] == "document":
                    sent.add((d.kind, d.roger_id))
            else:
                typer.echo(f"not sent: {d.kind} {d.roger_id}: {r.status_code} {r.text[:300]}")
                person.append(d)
    elif safe:
        typer.echo(f"{len(safe)} safe to fix with --fix")
    if person:
        typer.echo(f"{len(person)} need(s) a person:")
        for d in person:
            typer.echo(f"  {d.kind} {d.roger_id}: {d.field}: {d.why or 'see the document'}")
    if person or (found and not fix):
        raise typer.Exit(1)


def _reconcile_settings() -> type[BaseSettings]:
    from shared.settings import (
        OperatorSettings,
        ServiceTokenSettings,
        TokenKeySettings,
        XeroAppSettings,
    )

    class ReconcileSettings(
        OperatorSettings, XeroAppSettings, TokenKeySettings, ServiceTokenSettings
    ):
        projector_url: str = "http://127.0.0.1:8081"

    return ReconcileSettings


def _our_documents(base: str, company: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every document of the company, from the projector's read API (pages of 500)."""
    import httpx

    docs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        r = httpx.get(
            f"{base}/v1/companies/{company}/documents", params=params, headers=headers, timeout=30
        )
        r.raise_for_status()
        page = r.json()
        docs += page["documents"]
        cursor = page["next_cursor"]
        if not cursor:
            return docs


def unreadable(company: str, exc: Exception) -> str:
    """Why the company's Xero cannot be read, for a person: the token store's
    ``NotConnected`` (no connection: its text is only the company id), ``NeedsReconnect``
    (Xero refused our tokens) or another ``XeroError``."""
    from shared.xero.token_store import NeedsReconnect, NotConnected

    if isinstance(exc, NotConnected):
        return (
            f"{company} is not connected to Xero (connect it first: "
            f"POST /v1/companies/{company}/xero/connect)"
        )
    if isinstance(exc, NeedsReconnect):
        return f"{company} must be reconnected to Xero: {exc}"
    return f"{company} cannot be read in Xero: {exc}"


async def _read_xero(
    settings: Any, company: str, docs: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Xero's bills and receipts, credit notes and contacts of ``docs``, read with the
    company's tokens; raises RuntimeError when the company cannot be read (not connected)."""
    from shared.db import open_pool
    from shared.xero.client import XeroClient, XeroError
    from shared.xero.token_store import NotConnected, TokenStore

    pool = await open_pool(settings.database_url, max_size=2)
    xero = XeroClient.for_app(settings)
    try:
        store = TokenStore(pool, [k.get_secret_value() for k in settings.token_keys])
        try:
            access = await store.access(company, xero.refresh)
        except (NotConnected, XeroError) as exc:
            raise RuntimeError(unreadable(company, exc)) from exc

        async def listed(collection: str, key: str, ids: list[str]) -> dict[str, Any]:
            got: dict[str, Any] = {}
            for start in range(0, len(ids), 50):
                body = await xero.call(
                    "GET",
                    f"/{collection}",
                    tenant_id=access.tenant_id,
                    access_token=access.access_token,
                    params={
                        "IDs": ",".join(ids[start : start + 50]),
                        "unitdp": "4",
                        "includeArchived": "true",
                    },
                )
                got |= {str(item[key]): item for item in body.get(collection) or []}
            return got

        def ids(kinds: tuple[str, ...]) -> list[str]:
            return sorted({d["xero_id"] for d in docs if d["kind"] in kinds and d["xero_id"]})

        contact_ids = sorted(
            {
                str(d["roger"]["contact_id"])
                for d in docs
                if (d.get("roger") or {}).get("contact_id")
            }
        )
        try:
            invoices = await listed("Invoices", "InvoiceID", ids(("bill", "receipt")))
            notes = await listed("CreditNotes", "CreditNoteID", ids(("credit_note",)))
            contacts = await listed("Contacts", "ContactID", contact_ids)
        except XeroError as exc:
            raise RuntimeError(f"Xero refused a read: {exc}") from exc
        return invoices, notes, contacts
    finally:
        await xero.aclose()
        await pool.close()


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored Xero token under the newest key of RX_TOKEN_KEYS; prints how
    many were re-encrypted (and how many no key opens: those connections need reconnecting)."""
    from shared.db import open_pool
    from shared.settings import DatabaseSettings, TokenKeySettings
    from shared.xero.token_store import Rotation, TokenStore

    class KeySettings(DatabaseSettings, TokenKeySettings):
        pass

    async def run() -> Rotation:
        settings = _settings(KeySettings)
        pool = await open_pool(settings.database_url, max_size=2)
        try:
            store = TokenStore(pool, [k.get_secret_value() for k in settings.token_keys])
            await store.setup()
            return await store.rotate()
        finally:
            await pool.close()

    done = asyncio.run(run())
    typer.echo(f"re-encrypted {done.rotated} token set(s) under the newest key")
    if done.unreadable:
        typer.echo(f"{done.unreadable} token set(s) no key opens: marked needs_reconnect")


if __name__ == "__main__":
    app()
