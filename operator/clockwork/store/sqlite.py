"""Local-mode state: one SQLite file under the state directory (``.clockwork/``).

Holds, per resource, the last spec seen, its generation and its status — the same
things the operator keeps in the Kubernetes object — so that the reconcile core
cannot tell which of the two drivers it serves. A lock file keeps two local
commands from reconciling the same state at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from clockwork.api.base import CWModel, utcnow
from clockwork.errors import PermanentError

SCHEMA_VERSION = 1


class StateLocked(PermanentError):
    pass


class StoredResource(CWModel):
    kind: str
    namespace: str
    name: str
    generation: int
    spec_hash: str
    spec: dict[str, JsonValue]
    status: dict[str, JsonValue]
    created: datetime
    updated: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


class LocalStore:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "state.db"
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(self.path, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                """CREATE TABLE IF NOT EXISTS resources (
                    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                    generation INTEGER NOT NULL, spec_hash TEXT NOT NULL,
                    spec TEXT NOT NULL, status TEXT NOT NULL,
                    created TEXT NOT NULL, updated TEXT NOT NULL,
                    PRIMARY KEY (kind, namespace, name))"""
            )
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise PermanentError(
                    f"{self.path} was written by a newer Clockwork (schema {row[0]}); upgrade clockwork"
                )
            db.commit()
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def locked(self) -> Iterator[LocalStore]:
        """Hold the state directory for the length of one command."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.state_dir / "lock"
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "unknown"
                raise StateLocked(
                    f"another clockwork command (pid {holder}) is using {self.state_dir}; "
                    "wait for it to finish or use another --state-dir"
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))
            lock.flush()
            try:
                yield self
            finally:
                self.close()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, kind: str, namespace: str, name: str) -> StoredResource | None:
        row = (
            self._connect()
            .execute(
                "SELECT kind, namespace, name, generation, spec_hash, spec, status, created, updated "
                "FROM resources WHERE kind=? AND namespace=? AND name=?",
                (kind, namespace, name),
            )
            .fetchone()
        )
        return _row(row) if row else None

    def list(self) -> list[StoredResource]:
        rows = (
            self._connect()
            .execute(
                "SELECT kind, namespace, name, generation, spec_hash, spec, status, created, updated "
                "FROM resources ORDER BY kind, namespace, name"
            )
            .fetchall()
        )
        return [_row(r) for r in rows]

    def put(self, record: StoredResource) -> None:
        db = self._connect()
        with db:
            db.execute(
                "INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(kind, namespace, name) DO UPDATE SET generation=excluded.generation, "
                "spec_hash=excluded.spec_hash, spec=excluded.spec, status=excluded.status, "
                "updated=excluded.updated",
                (
                    record.kind,
                    record.namespace,
                    record.name,
                    record.generation,
                    record.spec_hash,
                    json.dumps(record.spec, sort_keys=True),
                    json.dumps(record.status, sort_keys=True),
                    record.created.isoformat(),
                    utcnow().isoformat(),
                ),
            )

    def delete(self, kind: str, namespace: str, name: str) -> None:
        db = self._connect()
        with db:
            db.execute(
                "DELETE FROM resources WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name)
            )


def _row(row: tuple[Any, ...]) -> StoredResource:
    kind, namespace, name, generation, spec_hash, spec, status, created, updated = row
    return StoredResource(
        kind=kind,
        namespace=namespace,
        name=name,
        generation=generation,
        spec_hash=spec_hash,
        spec=json.loads(spec),
        status=json.loads(status),
        created=datetime.fromisoformat(created),
        updated=datetime.fromisoformat(updated),
    )
