"""Small builders shared by tests."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def eventually(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    """The first truthy result of ``check`` within ``timeout`` seconds (checked every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.25)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_resources(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return path


def file_resource(name: str, /, **spec: Any) -> dict[str, Any]:
    return resource("File", name, **spec)


def resource(kind: str, name: str, /, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def file_probes(path: str, content: str | None, mode: int = 644, user: str = "root") -> list[Any]:
    """What the worker would answer for a File's health probes (stat and sha256) of ``path``."""
    import hashlib

    from clockwork.health.probing import fact_probe
    from clockwork.plan import ProbeResult

    stat = None if content is None else {"mode": mode, "user": user, "group": "root", "size": len(content)}
    sha = hashlib.sha256(content.encode()).hexdigest() if content is not None else None
    return [
        ProbeResult(id=fact_probe("files.File", path=path).id, success=True, value=stat),
        ProbeResult(id=fact_probe("files.Sha256File", path=path).id, success=True, value=sha),
    ]


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int, str]]:
    """Every path under root (relative): kind, mode, uid, gid and content (or link target)."""
    found = {}
    for path in sorted([root, *root.rglob("*")]):
        st = path.lstat()
        kind = "link" if path.is_symlink() else ("dir" if path.is_dir() else "file")
        body = os.readlink(path) if kind == "link" else (path.read_text() if kind == "file" else "")
        found[str(path.relative_to(root))] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid, body)
    return found
