"""The shared consumer loop's per-record isolation, without Kafka: a fake dead-letter writer."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from aiokafka.structs import ConsumerRecord

from shared.contracts.topics import ROGER_EVENTS, ROGER_EVENTS_DLQ
from shared.messaging.consumer import ConsumerLoop, Outage, RetryBudget, Unprocessable
from shared.messaging.dead_letters import DeadLetter


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def write(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


def record(value: bytes = b"{}", offset: int = 7) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=ROGER_EVENTS,
        partition=3,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"co-1",
        value=value,
        checksum=None,
        serialized_key_size=4,
        serialized_value_size=len(value),
        headers=[("traceparent", b"abc")],
    )


def loop(handle: Any, letters: FakeDeadLetters, after: Any = None) -> ConsumerLoop:
    return ConsumerLoop(
        name="test",
        bootstrap="unused:9092",
        group_id="rx-test",
        topics=[ROGER_EVENTS],
        handle=handle,
        dead_letters=letters,  # type: ignore[arg-type]
        budget=RetryBudget(attempts=3, first_backoff_s=0.001, max_backoff_s=0.002),
        after_dead_letter=after,
    )


async def test_a_record_that_keeps_failing_is_dead_lettered_after_its_budget() -> None:
    calls: list[int] = []
    after: list[str] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        calls.append(r.offset)
        raise ValueError("rules said no")

    async def after_dead_letter(r: ConsumerRecord[Any, Any], letter: DeadLetter) -> None:
        after.append(letter.reason)

    letters = FakeDeadLetters()
    await loop(handle, letters, after_dead_letter).handle_one(record(b"\x00raw"))
    assert len(calls) == 3
    [letter] = letters.letters
    assert letter.topic == ROGER_EVENTS_DLQ
    assert (letter.source_topic, letter.partition, letter.offset) == (ROGER_EVENTS, 3, 7)
    assert letter.value == b"\x00raw" and letter.key == b"co-1"
    assert letter.attempts == 3 and letter.error == "ValueError"
    assert "rules said no" in letter.reason
    assert letter.first_failed_at <= letter.last_failed_at
    assert after == [letter.reason]
    value, headers = letter.record()
    names = dict(headers)
    assert value == b"\x00raw" and names["traceparent"] == b"abc"
    assert names["rx-dlq-source-offset"] == b"7" and names["rx-dlq-attempts"] == b"3"


async def test_a_record_that_succeeds_on_retry_is_not_dead_lettered() -> None:
    calls: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("flaky")

    letters = FakeDeadLetters()
    await loop(handle, letters).handle_one(record())
    assert len(calls) == 2 and letters.letters == []


async def test_unprocessable_is_dead_lettered_at_once_with_its_reason() -> None:
    calls: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        calls.append(1)
        raise Unprocessable("data.lines[0].amount: not a number")

    letters = FakeDeadLetters()
    await loop(handle, letters).handle_one(record())
    assert calls == [1]
    assert letters.letters[0].reason == "data.lines[0].amount: not a number"


async def test_an_outage_is_not_the_records_fault() -> None:
    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        raise psycopg.OperationalError("connection refused")

    letters = FakeDeadLetters()
    with pytest.raises(Outage):
        await loop(handle, letters).handle_one(record())
    assert letters.letters == []


async def test_a_failing_after_dead_letter_hook_does_not_stop_the_partition() -> None:
    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        raise Unprocessable("bad")

    async def after_dead_letter(r: ConsumerRecord[Any, Any], letter: DeadLetter) -> None:
        raise psycopg.DataError("NUL byte")

    letters = FakeDeadLetters()
    await loop(handle, letters, after_dead_letter).handle_one(record())
    assert len(letters.letters) == 1


def test_an_oversized_value_is_truncated_and_says_so() -> None:
    from shared.contracts.topics import MAX_RECORD_BYTES

    letter = DeadLetter(
        source_topic=ROGER_EVENTS,
        partition=0,
        offset=1,
        value=b"x" * (MAX_RECORD_BYTES + 10),
        key=None,
        reason="too large",
        consumer="t",
    )
    value, headers = letter.record()
    assert len(value) < MAX_RECORD_BYTES
    assert dict(headers)["rx-dlq-truncated"] == str(MAX_RECORD_BYTES + 10).encode()


def test_dlq_tools_read_any_dead_letter_even_json_too_deep_to_parse() -> None:
    from shared.messaging.dead_letters import document_of

    assert document_of(b"[" * 5000 + b"]" * 5000) == (None, None)
    assert document_of(b'{"n": ' + b"9" * 5000 + b"}") == (None, None)
    assert document_of(b"\xff\xfe") == (None, None)
    assert document_of(b'{"type": "bill.paid", "data": {"bill_id": "b1"}}') == ("bill", "b1")
