"""Clockwork's own PyInfra operations, for what the stock ones cannot say idempotently.

Imported by the worker only (PyInfra, gevent). Each is a PyInfra operation: it
reads facts and yields commands only when the host differs, so an unchanged host
reports no changes.
"""

from __future__ import annotations

import hashlib
import io
import shlex
from collections.abc import Callable, Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File, Sha256File
from pyinfra.facts.server import Command, Which
from pyinfra.operations import apk, apt, dnf, files, systemd

UNIT_DIR = "/etc/systemd/system"
SPEC_LABEL = "clockwork.dev/spec"


@operation()
def package_index_update() -> Generator[Any, None, None]:
    """Refresh the package index of whichever manager the host has (apt: at most hourly)."""
    if host.get_fact(Which, command="apt-get"):
        yield from apt.update._inner(cache_time=3600)
    elif host.get_fact(Which, command="apk"):
        yield from apk.update._inner()
    elif host.get_fact(Which, command="dnf"):
        yield from dnf.update._inner()


@operation()
def git_checkout(dest: str, commit: str) -> Generator[Any, None, None]:
    """Put the working copy at ``dest`` on ``commit`` (detached), fetching when needed."""
    head = host.get_fact(Command, command=f"git -C {shlex.quote(dest)} rev-parse HEAD 2>/dev/null || true")
    if head and head.strip().startswith(commit):
        return
    yield StringCommand("git", "-C", QuoteString(dest), "fetch", "--quiet", "origin")
    yield StringCommand("git", "-C", QuoteString(dest), "checkout", "--quiet", "--detach", QuoteString(commit))


@operation()
def systemd_unit(
    unit: str, content: str, running: bool = True, enabled: bool = True, start: bool = True
) -> Generator[Any, None, None]:
    """A unit file with this content; reloaded and restarted only when it changed."""
    path = f"{UNIT_DIR}/{unit}"
    before = host.get_fact(Sha256File, path=path)
    yield from files.put._inner(src=io.BytesIO(content.encode()), dest=path, mode="0644")
    changed = before != _sha256(content)
    if changed:
        yield StringCommand("systemctl", "daemon-reload")
    if not start:
        if enabled:
            yield from systemd.service._inner(service=unit, running=None, enabled=True)
        return
    if changed and running:
        yield StringCommand("systemctl", "restart", QuoteString(unit))
        if enabled:
            yield from systemd.service._inner(service=unit, running=None, enabled=True)
        return
    yield from systemd.service._inner(service=unit, running=running, enabled=enabled)


@operation()
def systemd_unit_absent(unit: str) -> Generator[Any, None, None]:
    """Stop and disable a unit and remove its file (nothing when there is no file)."""
    path = f"{UNIT_DIR}/{unit}"
    if not host.get_fact(File, path=path):
        return
    yield StringCommand("systemctl", "disable", "--now", QuoteString(unit), "||", "true")
    yield from files.file._inner(path=path, present=False)
    yield StringCommand("systemctl", "daemon-reload")


@operation()
def container(
    runtime: str,
    container: str,
    image: str = "",
    create_args: list[str] | None = None,
    spec_hash: str = "",
    command: str | None = None,
    present: bool = True,
    running: bool = True,
) -> Generator[Any, None, None]:
    """A Docker or Podman container made from exactly this spec (label ``clockwork.dev/spec``):
    re-created when the spec changed, started or stopped as asked, removed when absent.

    ``container`` is the container's name (pyinfra keeps ``name`` for itself)."""
    if runtime not in ("docker", "podman"):
        raise ValueError(f"unknown container runtime {runtime!r}")
    quoted = shlex.quote(container)
    found = host.get_fact(
        Command,
        command=(
            f'{runtime} container inspect --format \'{{{{index .Config.Labels "{SPEC_LABEL}"}}}} '
            f"{{{{.State.Running}}}}' {quoted} 2>/dev/null || echo absent"
        ),
    )
    state = (found or "absent").strip().split()
    exists = state != ["absent"]
    if not present:
        if exists:
            yield StringCommand(runtime, "rm", "--force", QuoteString(container))
        return
    if exists and state[0] != spec_hash:
        yield StringCommand(runtime, "rm", "--force", QuoteString(container))
        exists = False
    if not exists:
        words = [
            runtime,
            "create",
            "--name",
            container,
            "--label",
            f"{SPEC_LABEL}={spec_hash}",
            *(create_args or []),
            image,
        ]
        # The command is words for the container (like docker's exec form), never host shell.
        words += shlex.split(command) if command else []
        yield " ".join(shlex.quote(w) for w in words)
        if running:
            yield StringCommand(runtime, "start", QuoteString(container))
        return
    is_running = len(state) > 1 and state[1] == "true"
    if running and not is_running:
        yield StringCommand(runtime, "start", QuoteString(container))
    elif not running and is_running:
        yield StringCommand(runtime, "stop", "--time", "10", QuoteString(container))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


OPERATIONS: dict[str, Callable[..., Any]] = {
    "clockwork.package_index_update": package_index_update,
    "clockwork.git_checkout": git_checkout,
    "clockwork.systemd_unit": systemd_unit,
    "clockwork.systemd_unit_absent": systemd_unit_absent,
    "clockwork.container": container,
}
