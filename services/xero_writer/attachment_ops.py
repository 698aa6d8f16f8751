"""Roger's files to Xero: fetched (``fetch.py``: https, public addresses, 30 s, 10 MB,
SHA-256), named, then attached.

A file that cannot be fetched or fails its checks is answered as a failure of
the attachment alone, in plain words; the projector shows it as a warning on the
document. None is lost silently (issue 11, "files"):

- names are unique per document *case-insensitively*, as Xero compares them (uploading a
  name that is already there, in any case, replaces that file): a file whose name is taken
  by a file of another name (``Invoice.PDF`` for ``invoice.pdf``) gets ``name (2).ext``,
  ``name (3).ext``, ..., and its answer says so (``message``). A file there under exactly
  our name is this file (an attempt whose answer was lost, or Roger's earlier version of it:
  the projector keeps one file per exact name) and is replaced;
- every file is stored with its content type: Xero takes the type from the name's
  extension (the SDK uploads ``application/octet-stream``), so a name without the
  extension of its content type gets one (``scan`` as ``image/png`` -> ``scan.png``);
- characters Xero refuses in names become ``_``.

Where the bytes come from is ``FILES`` (a context variable): the scheduler downloads each
file in its own task, outside the company's lane, and sets its ``FileSource`` in each lane;
unset, a file is downloaded here under the strict default rules.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpcore

from services.xero_writer.fetch import FetchRules, FileRefused, Resolve, fetch, resolve, too_large
from services.xero_writer.outcomes import Call, failed, result
from shared.contracts.commands import UploadAttachment
from shared.contracts.results import XeroResult
from shared.xero.client import validation_messages

# The content types Xero's files take from us, each with the extensions that say it (the
# first is the one we add).
EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/gif": (".gif",),
    "image/tiff": (".tiff", ".tif"),
    "image/webp": (".webp",),
}
ALLOWED_TYPES = frozenset(EXTENSIONS)
XERO_FORBIDDEN_IN_NAMES = set('<>:"/\\|?*+\0')
MAX_NAME = 255
MAX_SAME_NAME = 99


class FileSource(Protocol):
    """The bytes of a command's file (checked against its SHA-256); raises ``FileRefused``."""

    async def get(self, cmd: UploadAttachment) -> bytes: ...


@dataclass
class Downloads:
    """A ``FileSource`` that downloads when asked (``backend``/``resolver``: see ``fetch``)."""

    rules: FetchRules = field(default_factory=FetchRules)
    backend: httpcore.AsyncNetworkBackend | None = None
    resolver: Resolve = resolve

    async def get(self, cmd: UploadAttachment) -> bytes:
        if cmd.size > self.rules.max_bytes:
            raise FileRefused(too_large(self.rules.max_bytes), f"declared size {cmd.size}")
        return await fetch(
            cmd.url, cmd.sha256, self.rules, backend=self.backend, resolver=self.resolver
        )


FILES: ContextVar[FileSource | None] = ContextVar("rx_attachment_files", default=None)


def files() -> FileSource:
    """This lane's file source: the scheduler's downloads, else strict downloads now."""
    return FILES.get() or Downloads()


def content_type_of(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def stored_name(filename: str, content_type: str) -> str:
    """The name Xero stores Roger's ``filename`` under: no character Xero refuses, at most
    255 characters, ending in an extension of ``content_type`` (added when missing)."""
    name = "".join("_" if c in XERO_FORBIDDEN_IN_NAMES or ord(c) < 32 else c for c in filename)
    name = name.strip().strip(".") or "attachment"
    extensions = EXTENSIONS.get(content_type_of(content_type), ())
    stem, ext = posixpath.splitext(name)
    if extensions and ext.lower() not in extensions:
        stem, ext = name, extensions[0]
    return stem[: MAX_NAME - len(ext)] + ext


def numbered(name: str, n: int) -> str:
    """``name`` with `` (n)`` before its extension: ``invoice.pdf`` -> ``invoice (2).pdf``."""
    stem, ext = posixpath.splitext(name)
    suffix = f" ({n})"
    return stem[: MAX_NAME - len(ext) - len(suffix)] + suffix + ext


def _key(cmd: UploadAttachment, name: str) -> str:
    # One key per (command, name): a retry that chose another name is another request.
    return f"rx-{cmd.command_id}-{hashlib.sha256(name.lower().encode()).hexdigest()[:16]}"


async def _existing(call: Call, cmd: UploadAttachment) -> dict[str, dict[str, Any]]:
    """The document's files in Xero, by lower-cased name."""
    answer = await call("GET", f"/{cmd.target}/{cmd.xero_document_id}/Attachments")
    return {
        str(a.get("FileName", "")).lower(): a
        for a in answer.get("Attachments") or []
        if a.get("FileName")
    }


def _notes(cmd: UploadAttachment, wanted: str, name: str) -> str | None:
    notes = []
    if name != wanted:
        notes.append(
            f"stored as {name!r}: the document already has another file named "
            f"{wanted!r} (Xero does not tell names apart by case)"
        )
    base = stored_name(cmd.filename, "")
    if base != cmd.filename:
        notes.append(
            f"stored as {wanted!r}, not {cmd.filename!r}: Xero does not take some of its "
            "characters (or its length) in a file name"
        )
    elif wanted != base and posixpath.splitext(wanted)[0] == base:
        notes.append(f"stored as {wanted!r}: the extension of its type {cmd.content_type}")
    return "; ".join(notes) or None


async def upload_attachment(call: Call, cmd: UploadAttachment, _earlier: bool) -> XeroResult:
    """Attaches the command's file to its Xero document under a name no other file there
    has in another case; the same name exactly is replaced (see above), so a retry needs no
    look-up and never adds a second copy."""
    content_type = content_type_of(cmd.content_type)
    if content_type not in ALLOWED_TYPES:
        return failed(cmd, f"files of type {cmd.content_type} are not taken (PDF or image only)")
    try:
        body = await files().get(cmd)
    except FileRefused as exc:
        return failed(cmd, exc.message)
    wanted = stored_name(cmd.filename, content_type)
    taken = await _existing(call, cmd)
    name = wanted
    for n in range(2, MAX_SAME_NAME + 2):
        there = taken.get(name.lower())
        if there is None or there.get("FileName") == name:
            break  # free, or this very file: replaced
        name = numbered(wanted, n)
    else:
        return failed(cmd, f"the document already has {MAX_SAME_NAME} files named {wanted!r}")
    answer = await call(
        "PUT",
        f"/{cmd.target}/{cmd.xero_document_id}/Attachments/{quote(name, safe='')}",
        content=body,
        idempotency_key=_key(cmd, name),
    )
    [element] = answer.get("Attachments") or [{}]
    messages = validation_messages(element)
    if messages or not element.get("AttachmentID"):
        return failed(cmd, "; ".join(messages) or "Xero did not keep the file")
    return result(
        cmd,
        "XeroAttachmentUploaded",
        xero_id=element["AttachmentID"],
        xero_number=name,
        message=_notes(cmd, wanted, name),
    )
