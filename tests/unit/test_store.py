"""Local SQLite state: round trip, generations kept, one command at a time, schema guard."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from clockwork.api.base import utcnow
from clockwork.errors import PermanentError
from clockwork.store import LocalStore, StateLocked, StoredResource


def record(name: str = "a", generation: int = 1) -> StoredResource:
    now = utcnow()
    return StoredResource(
        kind="File", namespace="default", name=name, generation=generation, spec_hash="h",
        spec={"path": "/a"}, status={"conditions": []}, created=now, updated=now,
    )  # fmt: skip


def test_round_trip_and_delete(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "state")
    with store.locked():
        store.put(record("b"))
        store.put(record("a"))
        store.put(record("a", generation=2))
        assert [(r.name, r.generation) for r in store.list()] == [("a", 2), ("b", 1)]
        got = store.get("File", "default", "a")
        assert got is not None and got.spec == {"path": "/a"}
        store.delete("File", "default", "a")
        assert store.get("File", "default", "a") is None
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"


def test_second_command_is_refused_while_one_holds_the_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from clockwork.store import LocalStore\n"
         f"with LocalStore(Path({str(state)!r})).locked():\n    print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StateLocked, match=f"pid {holder.pid}"), LocalStore(state).locked():
            pass
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    with LocalStore(state).locked():
        pass  # free again once the holder is gone


def test_state_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with store.locked():
        store.list()
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(PermanentError, match="newer Clockwork"), LocalStore(tmp_path).locked() as again:
        again.list()
