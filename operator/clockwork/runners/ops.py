"""Clockwork's own PyInfra operations, for what the stock ones cannot say idempotently.

Imported by the worker only (PyInfra, gevent). Each is a PyInfra operation: it
reads facts and yields commands only when the host differs, so an unchanged host
reports no changes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import re
import shlex
from collections.abc import Callable, Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
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
    yield from put._inner(dest=path, content=content, mode="0644")
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


# Content up to this size is written by one shell command (base64 on its command line:
# the whole command is one argument to `sh -c`, and Linux caps an argument at 128 KiB).
INLINE_LIMIT = 64 * 1024


class FileState(FactBase):  # type: ignore[type-arg]
    """What ``put`` needs to know of a path, in one command: ``None`` when absent, else
    kind, and for a regular file mode, owner and group (names and numbers) and sha256. ``{"kind": "unknown"}``
    where stat -c or sha256sum is missing (not GNU or BusyBox): ``put`` then leaves the
    path to PyInfra's files.put."""

    def command(self, path: str) -> str:
        q = shlex.quote(path)
        return (
            f"if [ -L {q} ]; then echo link; "
            f"elif [ -f {q} ]; then echo file && stat -c '%a %U %G %u %g' {q} && sha256sum {q} || echo unknown; "
            f"elif [ -e {q} ]; then echo other; else echo absent; fi"
        )

    def process(self, output: list[str]) -> dict[str, str] | None:
        words = " ".join(output).split()
        if words == ["absent"]:
            return None
        # file, then `stat -c` (mode user group uid gid), then `sha256sum` (digest path) — or "unknown"
        # where either failed
        if len(words) >= 7 and words[0] == "file" and re.fullmatch("[0-9a-f]{64}", words[6]):
            mode, user, group, uid, gid, digest = words[1:7]
            return {"kind": "file", "mode": mode, "user": user, "group": group, "uid": uid, "gid": gid,
                    "sha256": digest}  # fmt: skip
        return {"kind": words[0] if words[:1] in (["other"], ["link"]) else "unknown"}


@operation()
def put(
    dest: str,
    content: str,
    mode: str | None = None,
    user: str | None = None,
    group: str | None = None,
    create_remote_dir: bool = True,
) -> Generator[Any, None, None]:
    """files.put for inline text, in at most two commands instead of five or six.

    PyInfra's files.put asks for the file, its directory and its checksum one command
    each, then uploads over SFTP and runs chmod and chown on their own: on a busy
    node every one is an SSH channel and a process. Here one command reads type,
    mode, owner and checksum; one writes a temporary file next to ``dest`` (mode and
    owner set) and renames it over ``dest``, so readers never see half a file.
    Large content, no mode, and anything but a regular file go to PyInfra's files.put.
    """
    data = content.encode()
    found = host.get_fact(FileState, path=dest)
    if found is not None and found["kind"] == "link":
        # A write goes to the path named, never through a link to somewhere else (the claim
        # before this kept the link, and destroy puts it back).
        yield StringCommand("rm", "-f", "--", QuoteString(dest))
        found = None
    if len(data) > INLINE_LIMIT or mode is None or (found is not None and found["kind"] != "file"):
        yield from files.put._inner(src=io.BytesIO(data), dest=dest, mode=mode, user=user, group=group,
                                    create_remote_dir=create_remote_dir)  # fmt: skip
        return
    want_mode = f"{int(str(mode), 8):o}"
    # chown's own grammar: "user" keeps the group ("user:" would take the user's login group)
    owner = f"{user}:{group}" if user and group else user or (f":{group}" if group else None)
    if found is not None and found["sha256"] == _sha256(content):
        if found["mode"] != want_mode:
            yield StringCommand("chmod", want_mode, QuoteString(dest))
        if not (_is_owner(found, "user", "uid", user) and _is_owner(found, "group", "gid", group)):
            yield StringCommand("chown", QuoteString(owner or ""), QuoteString(dest))
        return
    parent = posixpath.dirname(dest) or "/"
    temp = f"{parent.rstrip('/')}/.{posixpath.basename(dest)}.clockwork-XXXXXX"
    where = shlex.quote(parent)
    # A file where the directory should be: say so as the system would (mkdir -p says "File exists").
    is_file = f"{{ ! [ -e {where} ] || {{ echo {shlex.quote(parent + ': Not a directory')} >&2; false; }}; }}"
    steps = [f"{{ [ -d {where} ] || {{ {is_file} && mkdir -p {where}; }}; }}"] if create_remote_dir else []
    steps += [
        f"t=$(mktemp {shlex.quote(temp)})",
        f'{{ printf %s {base64.b64encode(data).decode()} | base64 -d > "$t"; }}',
        f'chmod {want_mode} "$t"',
        *([f'chown {shlex.quote(owner)} "$t"'] if owner else []),
        f'mv -f "$t" {shlex.quote(dest)}',
    ]
    # On any failure the temporary file goes and the command fails.
    yield " && ".join(steps) + ' || { rc=$?; [ -n "${t:-}" ] && rm -f "$t"; exit $rc; }'


def _is_owner(found: dict[str, str], name: str, number: str, want: str | None) -> bool:
    """``want`` (a name or a number, as chown takes either) is who owns the file, or not asked."""
    return not want or want in (found[name], found.get(number))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


OPERATIONS: dict[str, Callable[..., Any]] = {
    "clockwork.put": put,  # inline text in fewer commands than PyInfra's files.put
    "clockwork.package_index_update": package_index_update,
    "clockwork.git_checkout": git_checkout,
    "clockwork.systemd_unit": systemd_unit,
    "clockwork.systemd_unit_absent": systemd_unit_absent,
    "clockwork.container": container,
}
