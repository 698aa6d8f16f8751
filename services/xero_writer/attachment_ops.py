"""Roger's files to Xero: fetched from their pre-signed URL, checked, then attached.

A file that cannot be fetched or fails its checks is answered as a failure of
the attachment alone; the projector shows it as a warning on the document.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import httpx

from services.xero_writer.outcomes import Call, failed, result
from shared.contracts.commands import UploadAttachment
from shared.contracts.results import XeroResult
from shared.xero.client import validation_messages

MAX_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/tiff",
    "image/webp",
}
XERO_FORBIDDEN_IN_NAMES = set('<>:"/\\|?*+\0')


class FileProblem(Exception):
    pass


async def fetch(url: str, expected_size: int, expected_sha256: str, timeout_s: float = 30) -> bytes:
    if expected_size > MAX_BYTES:
        raise FileProblem(f"file of {expected_size} bytes is over the {MAX_BYTES} byte limit")
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise FileProblem(f"fetching the file answered HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise FileProblem(f"file is over the {MAX_BYTES} byte limit")
                    digest.update(chunk)
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise FileProblem(f"could not fetch the file: {type(exc).__name__}") from exc
    if digest.hexdigest() != expected_sha256.lower():
        raise FileProblem("the file's SHA-256 does not match the one Roger sent")
    return b"".join(chunks)


def safe_filename(name: str) -> str:
    return "".join("_" if c in XERO_FORBIDDEN_IN_NAMES else c for c in name)[:255]


async def upload_attachment(call: Call, cmd: UploadAttachment, _earlier: bool) -> XeroResult:
    """Uploading the same file name again replaces it in Xero: retries need no look-up."""
    if cmd.content_type.lower() not in ALLOWED_TYPES:
        return failed(cmd, f"content type {cmd.content_type} is not allowed (PDF or image only)")
    try:
        body = await fetch(cmd.url, cmd.size, cmd.sha256)
    except FileProblem as exc:
        return failed(cmd, str(exc))
    name = safe_filename(cmd.filename)
    answer = await call(
        "PUT",
        f"/{cmd.target}/{cmd.xero_document_id}/Attachments/{quote(name, safe='')}",
        content=body,
        idempotency_key=f"rx-{cmd.command_id}",
    )
    [element] = answer.get("Attachments") or [{}]
    messages = validation_messages(element)
    if messages or not element.get("AttachmentID"):
        return failed(cmd, "; ".join(messages) or "Xero did not keep the attachment")
    return result(cmd, "XeroAttachmentUploaded", xero_id=element["AttachmentID"], xero_number=name)
