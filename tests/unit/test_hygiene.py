"""Input hygiene: what no field may hold, reported with the field's path, never raising."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.hygiene import (
    MAX_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_PROBLEMS,
    clean,
    decode,
    printable,
    problems,
    too_deep,
)
from services.ingest.intake import EventTooLarge, domain_record
from services.ingest.seen import EventConflict, sort_out
from shared.contracts.roger_events import (
    RogerEvent,
    content_hash,
    largest_event,
    validate_event,
)
from shared.contracts.topics import MAX_RECORD_BYTES
from shared.settings import Settings


def bill(**data: Any) -> dict[str, Any]:
    return {
        "id": "00000000-0000-4000-8000-000000000001",
        "type": "bill.submitted",
        "version": 1,
        "company_id": "acme",
        "occurred_at": "2026-11-20T09:10:00+01:00",
        "data": {
            "bill_id": "b1",
            "vendor": {"id": "ven_1", "name": "Nordic Paper Supply ApS"},
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "DKK",
            "amount_type": "inclusive",
            "lines": [{"description": "Paper", "quantity": "2", "unit_amount": "10.50"}],
            "total": "21.00",
        }
        | data,
    }


def described(doc: Any) -> list[str]:
    return [p.describe() for p in problems(doc)]


def check(raw: bytes) -> list[str]:
    doc, unreadable = decode(raw)
    assert unreadable is None, unreadable
    return described(doc)


# --------------------------------------------------------------------------- control characters


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_tab_newline_and_carriage_return_are_allowed_in_free_text_only(char: str) -> None:
    event = bill()
    event["data"]["lines"][0]["description"] = f"Paper{char}A4"
    assert described(event) == []
    event["data"]["vendor"]["name"] = f"Nordic{char}Paper"
    [problem] = described(event)
    assert problem.startswith("data.vendor.name: control character U+00")
    assert "only tab, newline and carriage return are allowed in free text" in problem


@pytest.mark.parametrize("char", ["\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9f"])
def test_other_control_characters_are_refused_even_in_free_text(char: str) -> None:
    event = bill()
    event["data"]["lines"][0]["description"] = f"ab{char}"
    assert described(event) == [
        f"data.lines[0].description: control character U+{ord(char):04X} at position 2"
    ]


def test_payment_reversal_reason_is_free_text() -> None:
    event = bill(reason="card declined\nretry tomorrow")
    assert described(event) == []


def test_member_names_are_checked_too() -> None:
    event = bill(**{"bad\x07key": "x"})
    [problem] = described(event)
    assert problem.startswith('data["bad\\u0007key"]: member name holds control character U+0007')


# --------------------------------------------------------------------------- surrogates, NUL


def test_lone_surrogates_are_refused_and_pairs_are_characters() -> None:
    ok = check(b'{"data": {"description": "receipt \\ud83e\\uddfe"}}')
    assert ok == []
    for lone in (b"\\ud800", b"\\udfff", b"x\\ude00y"):
        [problem] = check(b'{"data": {"name": "' + lone + b'"}}')
        assert problem.startswith("data.name: lone surrogate U+D")
        assert "not valid Unicode" in problem


def test_surrogates_as_raw_bytes_are_not_utf8() -> None:
    assert decode(b'{"a": "\xed\xa0\x80"}') == (None, "body is not UTF-8 (byte 7)")


@pytest.mark.parametrize(
    "path",
    [
        ("id",),
        ("company_id",),
        ("data", "bill_id"),
        ("data", "vendor", "id"),
        ("data", "payment_id"),
        ("data", "applies_to_bill_id"),
    ],
)
def test_nul_in_any_id_is_refused_naming_the_field(path: tuple[str, ...]) -> None:
    event = bill(payment_id="p1", applies_to_bill_id="b0")
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = "ab\x00c"
    assert described(event) == [
        f"{'.'.join(path)}: NUL character (U+0000) at position 2: an id cannot hold NUL"
    ]


def test_nul_is_refused_in_free_text_as_well() -> None:
    event = bill()
    event["data"]["lines"][0]["description"] = "\x00"
    assert described(event) == [
        "data.lines[0].description: NUL character (U+0000) at position 0: text cannot hold NUL"
    ]


def test_the_schema_alone_would_take_a_nul_in_an_id() -> None:
    # Why hygiene must run first: the contract's schema has no pattern on bill_id.
    event = bill(bill_id="b\x00")
    assert validate_event(event)[1] == []
    assert described(event)


# --------------------------------------------------------------------------- nesting


def nested(depth: int) -> Any:
    doc: Any = "leaf"
    for _ in range(depth):
        doc = [doc]
    return doc


def test_nesting_up_to_the_bound_is_fine_and_one_more_is_refused_with_its_path() -> None:
    assert described({"data": nested(MAX_DEPTH - 1)}) == []
    path = "data" + "[0]" * (MAX_DEPTH - 1)
    assert described({"data": nested(MAX_DEPTH)}) == [
        f"{path}: nested deeper than {MAX_DEPTH} levels"
    ]


def test_nesting_too_deep_for_python_is_a_reason_not_an_exception() -> None:
    raw = b'{"id": "x", "data": {"deep": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    doc, reason = decode(raw)
    path = "data.deep" + "[0]" * (MAX_DEPTH - 2)
    assert doc is None and reason == f"{path}: nested deeper than {MAX_DEPTH} levels"
    objects = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    assert decode(objects)[1] == f"{'.'.join(['a'] * MAX_DEPTH)}: nested deeper than 32 levels"


def test_too_deep_follows_keys_array_indices_and_strings() -> None:
    text = '{"x": "[[[[{{", "list": [1, {"k,": "]"}, [[[]]]]}'
    assert too_deep(text, limit=4) == ("list", 2, 0, 0)
    assert too_deep(text, limit=5) is None


# --------------------------------------------------------------------------- numbers


def test_numbers_longer_than_the_bound_are_refused_with_their_path() -> None:
    digits = "9" * MAX_NUMBER_CHARS
    assert check(f'{{"size": {digits}, "f": -1.{"5" * 30}}}'.encode()) == []
    [problem] = check(b'{"data": {"attachments": [{"size": ' + b"1" * 5000 + b"}]}}")
    assert problem == (
        f"data.attachments[0].size: number of 5000 characters (at most {MAX_NUMBER_CHARS})"
    )
    [problem] = check(b'{"x": 0.' + b"1" * 100 + b"}")
    assert problem.startswith("x: number of 102 characters")


def test_infinite_and_non_json_numbers_are_refused() -> None:
    assert check(b'{"a": 1e999, "b": NaN, "c": -Infinity}') == [
        "a: number 1e999 is out of range",
        "b: NaN is not a JSON value",
        "c: -Infinity is not a JSON value",
    ]


# --------------------------------------------------------------------------- decode, output


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff", "body is not UTF-8 (byte 0)"),
        (b"{not json", "body is not JSON: Expecting property name enclosed in double quotes"),
        (b"", "body is not JSON: Expecting value"),
    ],
)
def test_unreadable_bodies_give_a_reason(raw: bytes, reason: str) -> None:
    doc, problem = decode(raw)
    assert doc is None and (problem or "").startswith(reason)


def test_reasons_are_printable_and_bounded() -> None:
    assert printable("a\x00b\ud800") == "a\\u0000b\\ud800"
    assert printable("x" * 300) == "x" * 100 + "…(300 characters)"
    many = {f"k{i}": "\x01" for i in range(100)}
    assert len(problems(many)) == MAX_PROBLEMS
    # Every reason can go into a JSON answer or a Kafka header as UTF-8.
    for reason in described({"k\ud800": "\udc00", "id": "\x00"}):
        reason.encode("utf-8")


def test_problems_are_listed_in_document_order() -> None:
    doc = {"a": "\x01", "b": [{"c": "\x02"}, "\x03"], "d": "\x04"}
    assert [p.split(":")[0] for p in described(doc)] == ["a", "b[0].c", "b[1]", "d"]


# --------------------------------------------------------------------------- dedupe per company


def event(company: str = "acme", total: str = "21.00", **extra: Any) -> RogerEvent:
    raw = bill() | {"company_id": company} | extra
    raw["data"]["total"] = total
    raw["data"]["lines"][0]["unit_amount"] = str(float(total) / 2)
    parsed, errors = validate_event(raw)
    assert parsed is not None, errors
    return parsed


def test_content_hash_stays_what_ingest_stored() -> None:
    # Ingest keeps each event's hash to tell a redelivery from a changed body: a hash that
    # changed with a release would answer 409 to Roger's honest retries of older events.
    # These were computed by the first implementation (the model's own JSON dump).
    offset = {
        "id": "ev-1",
        "type": "vendor.updated",
        "version": 1,
        "company_id": "acme",
        "occurred_at": "2026-11-20T09:00:00.250+01:00",
        "data": {"vendor": {"id": "v1", "name": 'Ørsted – "Ø" ✓', "n": [1, 2.5, None, True]}},
        "extra": "ignored",
    }
    utc = {"id": "ev-2", "type": "vendor.updated", "version": 1, "company_id": "acme"}
    utc |= {"occurred_at": "2026-11-20T08:00:00Z", "data": {}}
    pinned = {
        "ev-1": "9abb226e15bed5e475f4791cdc6afb86f7a1f92ca7f5a941e4d3792b3d46c0c3",
        "ev-2": "80386a16e438a524e355642a33483ed0d9c419232aa81fc18c6363086e1d3eaa",
    }
    for raw in (offset, utc):
        parsed = RogerEvent.model_validate(raw)
        assert content_hash(parsed) == pinned[parsed.id]
        assert content_hash(parsed) == first_implementation(parsed)


def first_implementation(event: RogerEvent) -> str:
    """content_hash as it was first written: SHA-256 of the model's own JSON dump."""
    canonical = json.dumps(
        event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# What hygiene lets through: no lone surrogates (Cs), no NaN or infinities.
_TEXT = st.text(st.characters(exclude_categories=["Cs"]))
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(_TEXT, _JSON_VALUES, max_size=5), micros=st.integers(0, 999_999))
def test_content_hash_is_the_models_own_json(data: dict[str, Any], micros: int) -> None:
    raw = {"id": "ev", "type": "vendor.updated", "version": 1, "company_id": "acme"}
    raw |= {"occurred_at": f"2026-11-20T08:00:00.{micros:06d}-03:30", "data": data}
    parsed = RogerEvent.model_validate(raw)
    assert content_hash(parsed) == first_implementation(parsed)


def test_content_hash_ignores_spelling_but_not_content() -> None:
    raw = bill()
    respelled = json.loads(json.dumps(raw, indent=4, sort_keys=True))
    first, second = validate_event(raw)[0], validate_event(respelled)[0]
    assert first is not None and second is not None
    assert content_hash(first) == content_hash(second)
    # Unknown envelope fields are ignored by the contract, so by the hash too.
    assert content_hash(event(delivery_attempt=3)) == content_hash(event())
    assert content_hash(event(total="30.00")) != content_hash(event())
    assert len(content_hash(first)) == 64


def test_sort_out_counts_duplicates_per_company() -> None:
    a, b = event("acme"), event("globex")
    new, duplicates = sort_out([a, a, b], {})
    assert [e.company_id for e, _ in new] == ["acme", "globex"] and duplicates == 1
    assert new[0][1] == content_hash(a)
    # A stored event of one company hides nothing of another's with the same id.
    new, duplicates = sort_out([a, b], {("acme", a.id): content_hash(a)})
    assert [e.company_id for e, _ in new] == ["globex"] and duplicates == 1


def test_same_id_with_another_body_is_a_conflict_with_both_hashes() -> None:
    first, changed = event(), event(total="30.00")
    with pytest.raises(EventConflict) as stored_conflict:
        sort_out([changed], {("acme", first.id): content_hash(first)})
    conflict = stored_conflict.value
    assert (conflict.company_id, conflict.event_id) == ("acme", first.id)
    assert (conflict.stored_hash, conflict.new_hash) == (content_hash(first), content_hash(changed))
    assert conflict.conflicts[0].as_dict()["received_sha256"] == content_hash(changed)
    with pytest.raises(EventConflict) as in_batch:
        sort_out([first, changed], {})
    assert in_batch.value.stored_hash == content_hash(first)


# --------------------------------------------------------------------------- sizes


def test_the_contract_maximum_bill_fits_every_limit_with_room() -> None:
    raw = largest_event("acme", str(uuid.uuid4()))
    parsed, errors = validate_event(raw)
    assert parsed is not None, errors
    assert described(raw) == []
    body = json.dumps(raw, indent=2)  # every 4-byte character as a 12-byte escape, indented
    assert 25 * 1024 * 1024 < len(body) < Settings().max_body_bytes / 1.2
    record = domain_record(parsed, "http")
    assert 8 * 1024 * 1024 < len(record) < MAX_RECORD_BYTES / 1.5


def test_an_event_over_a_kafka_record_is_refused_before_publishing() -> None:
    huge, _ = validate_event(bill(padding="x" * MAX_RECORD_BYTES))  # data's extras are kept
    assert huge is not None
    with pytest.raises(EventTooLarge) as refused:
        domain_record(huge, "kafka")
    assert refused.value.size > MAX_RECORD_BYTES and refused.value.event_id == huge.id


# --------------------------------------------------------------------------- the fast way
# clean() lets a body skip the walk; it may say "look" too often, never "clean" wrongly.
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**50), max_value=10**50)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(doc=_json_values, ascii_only=st.booleans())
def test_clean_never_hides_a_problem(doc: Any, ascii_only: bool) -> None:
    raw = json.dumps({"events": [doc]}, ensure_ascii=ascii_only, allow_nan=True).encode()
    decoded, unreadable = decode(raw)
    if unreadable is None and clean(raw.decode(), decoded):
        assert problems(decoded) == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "x\\u0007"}',
        b'{"a": "\\ud800"}',
        b'{"a": "x\x7f"}',
        '{"a": "x\x85"}'.encode(),
        b'{"a": "x\\n"}',
        b'{"a": 1' + b"0" * MAX_NUMBER_CHARS + b"}",
        b'{"a": NaN}',
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b'"bare"',
    ],
)
def test_clean_sends_each_kind_of_problem_the_slow_way(raw: bytes) -> None:
    doc, unreadable = decode(raw)
    assert unreadable is None
    assert not clean(raw.decode(), doc)


def test_clean_passes_an_ordinary_bill() -> None:
    raw = json.dumps(bill()).encode()
    doc, _ = decode(raw)
    assert clean(raw.decode(), doc)
    deep = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert clean(deep.decode(), decode(deep)[0])
