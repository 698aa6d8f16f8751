"""Files on a document: none lost, none replaced, each with its type (issue 11, "files"),
and never fetched from where they must not be (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.xero_writer import attachment_ops, fetch
from services.xero_writer.attachment_ops import Downloads, numbered, stored_name
from services.xero_writer.fetch import FetchRules
from tests.support.fake_files import FakeDns, FakeNetwork, ok, upload_attachment
from tests.support.fake_xero import FakeXero, WriterHarness, writer_on
from tests.support.writer_commands import create_bill

PUBLIC = "93.184.216.34"
UPPER, LOWER, SCAN, COLON = b"%PDF upper case", b"%PDF lower case!", b"\x89PNG scan", b"%PDF :"


@pytest.fixture
def network() -> Iterator[FakeNetwork]:
    net = FakeNetwork({PUBLIC: []})
    token = attachment_ops.FILES.set(
        Downloads(FetchRules(), net, FakeDns({"files.example.com": [PUBLIC]}))
    )
    yield net
    attachment_ops.FILES.reset(token)


def _serve(net: FakeNetwork, body: bytes, content_type: str = "application/pdf") -> None:
    net.answers[PUBLIC] = ok(body, content_type)


async def _bill(w: WriterHarness) -> str:
    w.xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Acme A/S", "ContactStatus": "ACTIVE"}
    [made] = (await w.run(create_bill("B-1", "c-1"))).values()
    assert made.xero_id
    return made.xero_id


def _files(xero: FakeXero, invoice_id: str) -> dict[str, dict[str, object]]:
    return {a["FileName"]: a for k, a in xero.attachments.items() if k.startswith(f"{invoice_id}/")}


def test_names_xero_keeps() -> None:
    assert stored_name("scan", "image/png") == "scan.png"
    assert stored_name("Invoice.PDF", "application/pdf") == "Invoice.PDF"
    assert stored_name("photo.JPEG", "image/jpeg") == "photo.JPEG"
    assert stored_name("notes.txt", "application/pdf") == "notes.txt.pdf"
    assert stored_name("Faktura: 11/2026.pdf", "application/pdf") == "Faktura_ 11_2026.pdf"
    assert stored_name("  ", "application/pdf") == "attachment.pdf"
    assert len(stored_name("x" * 400 + ".pdf", "application/pdf")) == 255
    assert stored_name("x" * 400 + ".pdf", "application/pdf").endswith(".pdf")
    assert numbered("invoice.pdf", 2) == "invoice (2).pdf"


async def test_names_that_differ_only_in_case_are_both_kept(network: FakeNetwork) -> None:
    w = writer_on()
    invoice_id = await _bill(w)

    _serve(network, UPPER)
    [upper] = (await w.run(upload_attachment("Invoice.PDF", UPPER, invoice_id=invoice_id))).values()
    _serve(network, LOWER)
    [lower] = (await w.run(upload_attachment("invoice.pdf", LOWER, invoice_id=invoice_id))).values()

    files = _files(w.xero, invoice_id)
    assert sorted(files) == ["Invoice.PDF", "invoice (2).pdf"]
    assert files["Invoice.PDF"]["ContentLength"] == len(UPPER)
    assert files["invoice (2).pdf"]["ContentLength"] == len(LOWER)
    assert upper.type == lower.type == "XeroAttachmentUploaded"
    assert upper.message is None
    assert lower.xero_number == "invoice (2).pdf"
    assert lower.message and "invoice (2).pdf" in lower.message and "invoice.pdf" in lower.message


async def test_a_file_without_an_extension_is_stored_with_its_type(network: FakeNetwork) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    _serve(network, SCAN, "image/png")

    [scan] = (
        await w.run(
            upload_attachment("scan", SCAN, invoice_id=invoice_id, content_type="image/png")
        )
    ).values()

    assert scan.type == "XeroAttachmentUploaded"
    assert _files(w.xero, invoice_id)["scan.png"]["MimeType"] == "image/png"
    assert scan.message and "scan.png" in scan.message


async def test_the_four_files_of_one_bill_are_all_there(network: FakeNetwork) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    commands = [
        upload_attachment("scan", SCAN, invoice_id=invoice_id, content_type="image/png"),
        upload_attachment("Invoice.PDF", UPPER, invoice_id=invoice_id),
        upload_attachment("invoice.pdf", LOWER, invoice_id=invoice_id),
        upload_attachment("Faktura: 11/2026.pdf", COLON, invoice_id=invoice_id),
    ]
    answers = []
    for cmd in commands:
        body = {c.command_id: b for c, b in zip(commands, (SCAN, UPPER, LOWER, COLON), strict=True)}
        _serve(network, body[cmd.command_id], cmd.content_type)
        [answer] = (await w.run(cmd)).values()
        assert answer.type == "XeroAttachmentUploaded", answer
        answers.append(answer)

    files = _files(w.xero, invoice_id)
    assert sorted(files) == ["Faktura_ 11_2026.pdf", "Invoice.PDF", "invoice (2).pdf", "scan.png"]
    # Every name that changed says so; the one kept as sent says nothing.
    assert [a.message is not None for a in answers] == [True, False, True, True]
    assert answers[3].message and "'Faktura_ 11_2026.pdf'" in answers[3].message
    assert {f["MimeType"] for f in files.values()} == {"application/pdf", "image/png"}


async def test_an_upload_whose_answer_was_lost_is_not_added_twice(network: FakeNetwork) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    _serve(network, UPPER)
    cmd = upload_attachment("Invoice.PDF", UPPER, invoice_id=invoice_id)
    w.xero.fail_next("drop", method="PUT")  # Xero kept the file; we never heard

    [answer] = (await w.run(cmd)).values()

    assert answer.type == "XeroAttachmentUploaded"
    assert sorted(_files(w.xero, invoice_id)) == ["Invoice.PDF"]
    assert answer.xero_id == _files(w.xero, invoice_id)["Invoice.PDF"]["AttachmentID"]


async def test_rogers_newer_version_of_a_file_replaces_it(network: FakeNetwork) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    _serve(network, UPPER)
    await w.run(upload_attachment("Invoice.PDF", UPPER, invoice_id=invoice_id))
    _serve(network, LOWER)
    await w.run(upload_attachment("invoice.pdf", LOWER, invoice_id=invoice_id))
    newer = b"%PDF the upper one, corrected"
    _serve(network, newer)

    [answer] = (
        await w.run(upload_attachment("invoice.pdf", newer, invoice_id=invoice_id, key="v2"))
    ).values()

    files = _files(w.xero, invoice_id)
    assert sorted(files) == ["Invoice.PDF", "invoice (2).pdf"]
    assert files["invoice (2).pdf"]["ContentLength"] == len(newer)
    assert files["Invoice.PDF"]["ContentLength"] == len(UPPER)
    assert answer.xero_number == "invoice (2).pdf"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/Invoice.PDF",
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://10.20.30.40/Invoice.PDF",
        "http://files.example.com/Invoice.PDF",
    ],
)
async def test_a_file_from_where_it_must_not_come_is_refused_in_plain_words(
    network: FakeNetwork, url: str
) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    _serve(network, UPPER)
    w.xero.calls.clear()

    [answer] = (
        await w.run(upload_attachment("x.pdf", UPPER, invoice_id=invoice_id, url=url))
    ).values()

    assert answer.type == "XeroCommandFailed"
    assert answer.message == fetch.NOT_ALLOWED
    assert network.connected == []  # nothing fetched
    assert w.xero.calls == []  # and nothing attached


async def test_a_file_roger_did_not_hash_is_refused(network: FakeNetwork) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    _serve(network, b"%PDF something else")

    [answer] = (await w.run(upload_attachment("x.pdf", UPPER, invoice_id=invoice_id))).values()

    assert (answer.type, answer.message) == ("XeroCommandFailed", fetch.CHECKSUM)
    assert _files(w.xero, invoice_id) == {}


async def test_a_type_xero_does_not_take_is_refused_before_it_is_fetched(
    network: FakeNetwork,
) -> None:
    w = writer_on()
    invoice_id = await _bill(w)
    cmd = upload_attachment(
        "run.exe", b"MZ", invoice_id=invoice_id, content_type="application/x-msdownload"
    )

    [answer] = (await w.run(cmd)).values()

    assert answer.type == "XeroCommandFailed"
    assert answer.message and "PDF or image" in answer.message
    assert network.connected == []
