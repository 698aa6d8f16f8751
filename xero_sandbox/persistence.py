"""`--state FILE`: the whole state as one pickled snapshot in a SQLite table.

Rewritten after every change; the sandbox holds at most a developer's worth of books, and
one atomic row keeps a crash from ever leaving half a state behind.
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

from .state import SandboxState


class StateFile:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "data BLOB NOT NULL)"
        )
        self._db.commit()

    def load(self) -> SandboxState | None:
        row = self._db.execute("SELECT data FROM snapshot WHERE id = 1").fetchone()
        if row is None:
            return None
        loaded = pickle.loads(row[0])
        return loaded if isinstance(loaded, SandboxState) else None

    def save(self, state: SandboxState) -> None:
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        with self._db:
            self._db.execute(
                "INSERT INTO snapshot (id, data) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                (data,),
            )

    def close(self) -> None:
        self._db.close()
