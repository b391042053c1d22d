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

SCHEMA_VERSION = 2


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
            db.execute(
                """CREATE TABLE IF NOT EXISTS completions (
                    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                    spec_hash TEXT NOT NULL, completer TEXT NOT NULL, completion TEXT NOT NULL,
                    PRIMARY KEY (kind, namespace, name, spec_hash, completer))"""
            )
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            version = int(row[0]) if row else None
            if version is not None and version > SCHEMA_VERSION:
                raise PermanentError(
                    f"{self.path} was written by a newer Clockwork (schema {version}); upgrade clockwork"
                )
            # The local twin of the clockwork.dev/approve annotation (added in schema 2).
            db.execute(
                """CREATE TABLE IF NOT EXISTS approvals (
                    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                    hash TEXT NOT NULL, PRIMARY KEY (kind, namespace, name))"""
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
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
                f"SELECT {_COLUMNS} FROM resources WHERE kind=? AND namespace=? AND name=?",
                (kind, namespace, name),
            )
            .fetchone()
        )
        return _row(row) if row else None

    def list(self) -> list[StoredResource]:
        rows = self._connect().execute(f"SELECT {_COLUMNS} FROM resources ORDER BY kind, namespace, name").fetchall()
        return [_row(r) for r in rows]

    def put(self, record: StoredResource) -> None:
        db = self._connect()
        with db:
            db.execute(
                f"INSERT INTO resources ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?) "
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
            for table in ("resources", "completions", "approvals"):
                db.execute(f"DELETE FROM {table} WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name))

    def get_completion(self, key: tuple[str, str, str], spec_hash: str, completer: str) -> str | None:
        """A cached completion (JSON) for this resource, spec and completer."""
        row = (
            self._connect()
            .execute(
                "SELECT completion FROM completions WHERE kind=? AND namespace=? AND name=? "
                "AND spec_hash=? AND completer=?",
                (*key, spec_hash, completer),
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def approval(self, key: tuple[str, str, str]) -> str | None:
        row = (
            self._connect()
            .execute("SELECT hash FROM approvals WHERE kind=? AND namespace=? AND name=?", key)
            .fetchone()
        )
        return str(row[0]) if row else None

    def approve(self, key: tuple[str, str, str], completed_hash: str) -> None:
        db = self._connect()
        with db:
            db.execute("INSERT OR REPLACE INTO approvals VALUES (?,?,?,?)", (*key, completed_hash))

    def put_completion(self, key: tuple[str, str, str], spec_hash: str, completer: str, value: str) -> None:
        """Cache a completion; older ones of the same resource are dropped (one spec at a time)."""
        db = self._connect()
        with db:
            db.execute(
                "DELETE FROM completions WHERE kind=? AND namespace=? AND name=? AND spec_hash!=?",
                (*key, spec_hash),
            )
            db.execute("INSERT OR REPLACE INTO completions VALUES (?,?,?,?,?,?)", (*key, spec_hash, completer, value))


_COLUMNS = "kind, namespace, name, generation, spec_hash, spec, status, created, updated"


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
