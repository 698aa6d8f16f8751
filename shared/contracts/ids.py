"""Identifiers on our own topics: printable text only.

PostgreSQL text cannot hold NUL, and no id of ours or Xero's holds a control
character, so a record with one is refused when it is read (and dead-lettered
by the consumer loop) instead of failing deep in a database write.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

Id = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")]
