"""Values that break naive Xero filters: commas (``InvoiceNumbers`` is comma-separated),
quotes and ``==`` (``where`` expressions), apostrophes, backslashes, percent-encoding and
non-Latin text. Each is a value Roger's contract allows for a supplier number or a name."""

from __future__ import annotations

HOSTILE_NUMBERS = (
    "2026,117",
    'INV "7"',
    "A==B",
    "O'Brien-7",
    "Ærø/Østergård 12",
    "请款单-88",
    "Счёт №5",
    "x && y || z",
    "back\\slash\\",
    "%2C,%22 <b>&amp;",
    'Type=="ACCPAY"',
)
HOSTILE_VENDORS = (
    "Komma, Leverandøren ApS",
    'The "Quoted" Company',
    "A==B Handel",
    "O'Brien & Sons",
    "Ærø Øl ApS",
    "北京贸易有限公司",
    "ООО Ромашка",
    "x && y || z ApS",
    "Back\\slash ApS",
    "Percent %2C <b> Ltd",
    'Name=="Acme" ApS',
)
