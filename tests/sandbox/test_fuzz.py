"""Bad input gets Xero's 4xx answers, never a crash: property-based and schema-driven fuzzing.

Runs against a private sandbox with rate limits off, so the volume of calls does not meet
the 60-a-minute limit (which other tests check on purpose).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.sandbox import SandboxProcess, start_sandbox, stop_sandbox
from tests.support.sandbox_books import Books, make_books
from tests.support.spec_check import _load

ALLOWED = {200, 400, 404, 413}
WRITES = [
    ("PUT", "/Contacts", "Contacts", "Contact"),
    ("POST", "/Contacts", "Contacts", "Contact"),
    ("PUT", "/Invoices", "Invoices", "Invoice"),
    ("POST", "/Invoices", "Invoices", "Invoice"),
    ("PUT", "/CreditNotes", "CreditNotes", "CreditNote"),
    ("PUT", "/Payments", "Payments", "Payment"),
    ("POST", "/Payments", None, "Payment"),
    ("PUT", "/BankTransactions", "BankTransactions", "BankTransaction"),
    ("PUT", "/Accounts", None, "Account"),
]
SAMPLE_STRINGS = [
    "ACCPAY",
    "ACCREC",
    "AUTHORISED",
    "DRAFT",
    "DELETED",
    "VOIDED",
    "PAID",
    "SPEND",
    "429",
    "090",
    "999",
    "INPUT2",
    "NONE",
    "DKK",
    "EUR",
    "USD",
    "Exclusive",
    "Inclusive",
    "NoTax",
    "/Date(1710115200000)/",
    "/Date(-80006400000+0000)/",
    "2026-11-02",
    "2026-13-45",
    "2026-11-02T10:00:00",
    "",
    " ",
    "null",
    "💸",
    "a" * 300,
]


@pytest.fixture(scope="module")
def fuzz_books() -> Iterator[Books]:
    sandbox: SandboxProcess = start_sandbox()
    try:
        sandbox.settings(limits={"enabled": False})
        yield make_books(sandbox)
    finally:
        stop_sandbox(sandbox)


def _headers(books: Books) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + books.token["access_token"],
        "xero-tenant-id": books.tenant_id,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


def _send(
    books: Books,
    method: str,
    path: str,
    body: bytes | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    response = httpx.request(
        method,
        books.sandbox.accounting_url + path,
        content=body,
        params=params,
        headers=_headers(books),
        timeout=30,
    )
    assert response.status_code in ALLOWED, (
        method,
        path,
        body,
        response.status_code,
        response.text[:500],
    )
    if response.headers.get("content-type", "").startswith("application/json"):
        json.loads(response.content)
    return response


def _assert_no_crash(books: Books) -> None:
    errors = books.sandbox.errors()
    assert not errors, errors[-1]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(SAMPLE_STRINGS),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=12)
            | st.sampled_from(["Contact", "LineItems", "Invoice", "Account", "Status", "Type"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


_SPEC: dict[str, Any] = _load("xero_accounting.yaml")["components"]["schemas"]


def _schema_strategy(name: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """Objects shaped like the spec's schema `name`, with plausible and implausible values."""
    schema = _SPEC[name]
    properties = schema.get("properties", {})
    fields = {key: _value_strategy(prop, depth) for key, prop in properties.items()}
    return st.fixed_dictionaries({}, optional=fields)


def _value_strategy(prop: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    junk = json_values
    ref = prop.get("$ref")
    if ref:
        target = ref.rsplit("/", 1)[-1]
        inner = _SPEC[target]
        if "enum" in inner:
            return st.sampled_from(inner["enum"]) | junk
        if depth >= 2 or inner.get("type") != "object":
            return junk
        return _schema_strategy(target, depth + 1) | junk
    kind = prop.get("type")
    if "enum" in prop:
        return st.sampled_from(prop["enum"]) | junk
    if kind == "string":
        return (
            st.sampled_from(SAMPLE_STRINGS)
            | st.text(max_size=30)
            | st.just(str(uuid.uuid4()))
            | junk
        )
    if kind in ("number", "integer"):
        return (
            st.integers(-(10**6), 10**6)
            | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(float)
            | st.floats(allow_nan=False, allow_infinity=False)
            | junk
        )
    if kind == "boolean":
        return st.booleans() | junk
    if kind == "array":
        items = prop.get("items", {})
        return st.lists(_value_strategy(items, depth + 1), max_size=3) | junk
    return junk


def _encode(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


@pytest.mark.parametrize("method,path,plural,schema", WRITES)
def test_schema_shaped_writes_never_crash(fuzz_books, method, path, plural, schema):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        elements=st.lists(_schema_strategy(schema), min_size=1, max_size=3),
        summarize=st.sampled_from([None, "false", "False", "TRUE", "junk"]),
    )
    def run(elements: list[dict[str, Any]], summarize: str | None) -> None:
        body = {plural: elements} if plural else elements[0]
        params = {"summarizeErrors": summarize} if summarize else None
        _send(fuzz_books, method, path, _encode(body), params)

    run()
    _assert_no_crash(fuzz_books)


@pytest.mark.parametrize("method,path,plural,schema", WRITES)
def test_arbitrary_json_never_crashes(fuzz_books, method, path, plural, schema):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=json_values | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
    def run(body: Any) -> None:
        raw = body.encode("utf-8", "replace") if isinstance(body, str) else _encode(body)
        _send(fuzz_books, method, path, raw)

    run()
    _assert_no_crash(fuzz_books)


READS = [
    "/Contacts",
    "/Invoices",
    "/CreditNotes",
    "/Payments",
    "/BankTransactions",
    "/Accounts",
    "/TaxRates",
    "/Currencies",
]


@pytest.mark.parametrize("path", READS)
def test_query_strings_never_crash(fuzz_books, path):
    words = st.sampled_from(
        [
            "Name",
            "Status",
            "Type",
            "Date",
            "Total",
            "Contact.ContactID",
            "==",
            "!=",
            ">=",
            "&&",
            "||",
            "AND",
            "OR",
            "(",
            ")",
            '"x"',
            "DateTime(2026,1,1)",
            'GUID("00000000-0000-0000-0000-000000000000")',
            ".Contains(",
            ".StartsWith(",
            "true",
            "null",
            "1.5",
            ",",
            ".",
        ]
    )
    where = st.lists(words, max_size=8).map(" ".join) | st.text(max_size=30)
    params = st.fixed_dictionaries(
        {},
        optional={
            "where": where,
            "order": st.text(max_size=15) | st.sampled_from(["Name DESC", "Date"]),
            "page": st.text(max_size=5),
            "pageSize": st.text(max_size=5),
            "IDs": st.text(max_size=40),
            "Statuses": st.text(max_size=20),
            "searchTerm": st.text(max_size=10),
            "includeArchived": st.text(max_size=5),
        },
    )

    ascii_text = st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30
    ).map(str.strip)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        query=params,
        modified=st.none()
        | ascii_text
        | st.sampled_from(["2026-01-02T03:04:05+00:00", "Tue, 03 Jun 2026 10:00:00 GMT"]),
    )
    def run(query: dict[str, str], modified: str | None) -> None:
        headers = _headers(fuzz_books)
        if modified is not None:
            headers["If-Modified-Since"] = modified
        response = httpx.get(
            fuzz_books.sandbox.accounting_url + path, params=query, headers=headers, timeout=30
        )
        assert response.status_code in ALLOWED, (query, response.status_code, response.text)

    run()
    _assert_no_crash(fuzz_books)


def test_paths_and_attachments_never_crash(fuzz_books):
    segment = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20) | st.just(
        str(uuid.uuid4())
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        collection=st.sampled_from(
            [
                "Invoices",
                "CreditNotes",
                "BankTransactions",
                "Payments",
                "Contacts",
                "Accounts",
                "TaxRates",
            ]
        ),
        ident=segment,
        name=segment,
        method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
        body=st.binary(max_size=64),
    )
    def run(collection: str, ident: str, name: str, method: str, body: bytes) -> None:
        from urllib.parse import quote

        path = f"/{collection}/{quote(ident, safe='')}"
        if name:
            path += f"/Attachments/{quote(name, safe='')}"
        _send(fuzz_books, method, path, body)

    run()
    _assert_no_crash(fuzz_books)
