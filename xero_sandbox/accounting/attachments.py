"""Attachments on invoices, credit notes and bank transactions.

At most 10 per document; uploading a file name that is already there replaces it; a size
cap (10 MB by default, configurable). The body is the raw file, as the SDK sends it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from typing import Any

from ..state import Attachment
from ..wire import new_id
from .common import ApiError, Ctx, Raw, not_found, ok, validation_failed

# URL collection → (store attribute, id field)
DOCUMENTS = {
    "invoices": ("invoices", "InvoiceID"),
    "creditnotes": ("credit_notes", "CreditNoteID"),
    "banktransactions": ("bank_transactions", "BankTransactionID"),
}
_BAD_CHARS = set('<>:"/\\|?*\0+')


def _document(ctx: Ctx) -> tuple[str, dict[str, Any], str]:
    collection = ctx.path_params["collection"].lower()
    store_name, _ = DOCUMENTS[collection]
    try:
        document_id = str(uuid.UUID(ctx.path_params["id"]))
    except ValueError:
        raise not_found() from None
    document = getattr(ctx.org, store_name).get(document_id)
    if document is None:
        raise not_found()
    return document_id, document, collection


def _render(ctx: Ctx, collection: str, document_id: str, item: Attachment) -> dict[str, Any]:
    base = str(ctx.headers.get("host", "api.xero.com"))
    return {
        "AttachmentID": item.attachment_id,
        "FileName": item.file_name,
        "Url": f"http://{base}/api.xro/2.0/{collection.capitalize()}/{document_id}/Attachments/"
        f"{item.file_name}",
        "MimeType": item.mime_type,
        "ContentLength": len(item.content),
        "IncludeOnline": item.include_online,
    }


def upload(ctx: Ctx) -> dict[str, Any]:
    document_id, _, collection = _document(ctx)
    name = ctx.path_params["name"]
    settings = ctx.sandbox.settings
    if not name.strip() or set(name) & _BAD_CHARS:
        raise validation_failed(f"The file name '{name}' contains characters that are not allowed.")
    if len(ctx.body) > settings.attachment_max_bytes:
        raise ApiError(413, "The file is too large.", "text/plain")
    if not ctx.body:
        raise validation_failed("The attachment is empty.")
    items = ctx.org.attachments.setdefault(document_id, [])
    existing = next((a for a in items if a.file_name.lower() == name.lower()), None)
    if existing is None and len(items) >= settings.attachments_per_document:
        raise validation_failed(
            f"A document can have at most {settings.attachments_per_document} attachments."
        )
    declared = (ctx.headers.get("content-type") or "").split(";")[0].strip()
    if not declared or declared == "application/octet-stream":
        declared = mimetypes.guess_type(name)[0] or "application/octet-stream"
    attachment = Attachment(
        attachment_id=new_id(),
        file_name=name,
        mime_type=declared,
        content=ctx.body,
        sha256=hashlib.sha256(ctx.body).hexdigest(),
        include_online=ctx.flag("IncludeOnline", False),
    )
    if existing is not None:
        items[items.index(existing)] = attachment
    else:
        items.append(attachment)
    ctx.changed = True
    return ok(ctx, "Attachments", [_render(ctx, collection, document_id, attachment)])


def listing(ctx: Ctx) -> dict[str, Any]:
    document_id, _, collection = _document(ctx)
    items = ctx.org.attachments.get(document_id, [])
    return ok(ctx, "Attachments", [_render(ctx, collection, document_id, a) for a in items])


def content(ctx: Ctx) -> Raw:
    document_id, _, _ = _document(ctx)
    key = ctx.path_params["name"]
    items = ctx.org.attachments.get(document_id, [])
    found = next((a for a in items if a.attachment_id == key.lower()), None) or next(
        (a for a in items if a.file_name.lower() == key.lower()), None
    )
    if found is None:
        raise not_found()
    return Raw(found.content, found.mime_type)
