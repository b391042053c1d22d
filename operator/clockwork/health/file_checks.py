"""Checks of files and directories on a node: existence, permissions, size and content."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clockwork.api import assertions as a
from clockwork.api.types import normalise_mode
from clockwork.health.commands import quote
from clockwork.health.probing import Verdict, command_output, command_probe, fact_probe, probe_result
from clockwork.plan import CommandProbe, HostResult, Probe


def _stat_fact(kind: str | None) -> str:
    return "files.Directory" if kind == "directory" else "files.File"


def _stat(host: HostResult, path: str, kind: str | None = None) -> tuple[Any, str | None]:
    return _read(host, fact_probe(_stat_fact(kind), path=path), path)


def _read(host: HostResult, probe: Probe, path: str) -> tuple[Any, str | None]:
    """A fact of ``path`` as read (None: there is no such file), or why it could not be read."""
    found = probe_result(host, probe)
    if found is None or not found.success:
        return None, f"could not read {path}: {found.error if found else 'not checked'}"
    return found.value, None


def _exists_probes(check: a.FileExistsAssertion) -> list[Probe]:
    return [fact_probe(_stat_fact(check.kind), path=check.path)]


def _exists_judge(check: a.FileExistsAssertion, host: HostResult) -> Verdict:
    stat, problem = _stat(host, check.path, check.kind)
    if problem:
        return Verdict(False, problem)
    if check.present is False:
        return Verdict(
            stat is None, f"{check.path} is absent" if stat is None else f"{check.path} exists but should be absent"
        )
    if stat is None:
        return Verdict(False, f"{check.path} does not exist")
    if not isinstance(stat, dict):
        wanted = "a directory" if check.kind == "directory" else "a regular file"
        return Verdict(False, f"{check.path} exists but is not {wanted}")
    return Verdict(True, f"{check.path} exists")


def _ids_probe(path: str) -> CommandProbe:
    # The File fact names the owner; a spec may give the number (chown takes either).
    return command_probe(f"stat -c '%u %g' -- {quote(path)}")


def _numeric(value: str | None) -> bool:
    return value is not None and value.isdigit()


def _permissions_probes(check: a.FilePermissionsAssertion) -> list[Probe]:
    probes: list[Probe] = [fact_probe(_stat_fact(check.kind), path=check.path)]
    if _numeric(check.owner) or _numeric(check.group):
        probes.append(_ids_probe(check.path))
    return probes


def _permissions_judge(check: a.FilePermissionsAssertion, host: HostResult) -> Verdict:
    stat, problem = _stat(host, check.path, check.kind)
    if problem:
        return Verdict(False, problem)
    if not isinstance(stat, dict):
        return Verdict(False, f"{check.path} does not exist")
    wrong, seen = [], []
    have_mode = normalise_mode(str(stat.get("mode", "")))
    user, group = str(stat.get("user")), str(stat.get("group"))
    if _numeric(check.owner) or _numeric(check.group):
        output, problem = command_output(host, _ids_probe(check.path))
        if output is None:
            return Verdict(False, f"could not read the owner of {check.path} by number: {problem}")
        uid, _, gid = output.strip().partition(" ")
        user, group = (uid if _numeric(check.owner) else user), (gid if _numeric(check.group) else group)
    for label, want, have in (
        ("mode", normalise_mode(check.mode) if check.mode else None, have_mode),
        ("owner", check.owner, user),
        ("group", check.group, group),
    ):
        if want is None:
            continue
        seen.append(f"{label} is {have}")
        if have != want:
            wrong.append(f"{label} is {have}, want {want}")
    if wrong:
        return Verdict(False, f"{check.path}: " + "; ".join(wrong))
    return Verdict(True, f"{check.path}: " + ("; ".join(seen) or f"mode is {have_mode}"))


def _size_probes(check: a.FileSizeAssertion) -> list[Probe]:
    return [fact_probe("files.File", path=check.path)]


def _size_judge(check: a.FileSizeAssertion, host: HostResult) -> Verdict:
    stat, problem = _stat(host, check.path)
    if problem:
        return Verdict(False, problem)
    if not isinstance(stat, dict):
        return Verdict(False, f"{check.path} does not exist")
    size = int(stat.get("size") or 0)
    if check.min_bytes is not None and size < check.min_bytes:
        return Verdict(False, f"{check.path} is {size} bytes, less than {check.min_bytes}")
    if check.max_bytes is not None and size > check.max_bytes:
        return Verdict(False, f"{check.path} is {size} bytes, more than {check.max_bytes}")
    return Verdict(True, f"{check.path} is {size} bytes")


def _content_probes(check: a.FileContentAssertion) -> list[Probe]:
    if check.sha256:
        return [fact_probe("files.Sha256File", path=check.path)]
    return [command_probe(f"grep -E -q -e {quote(check.matches)} {quote(check.path)}; echo $?")]


def _content_judge(check: a.FileContentAssertion, host: HostResult) -> Verdict:
    probe = _content_probes(check)[0]
    if check.sha256:
        have, problem = _read(host, probe, check.path)
        if problem:
            return Verdict(False, problem)
        if have == check.sha256:
            return Verdict(True, f"content matches (sha256 {check.sha256[:12]})")
        if have is None:
            return Verdict(False, f"{check.path} does not exist")  # the fact finds no file
        return Verdict(False, f"content differs: sha256 {str(have)[:12]}…, want {check.sha256[:12]}…")
    output, problem = command_output(host, probe)
    if output is None:
        return Verdict(False, f"{check.path}: {problem}")
    code = output.splitlines()[-1]
    if code == "0":
        return Verdict(True, f"{check.path} matches /{check.matches}/")
    if code == "1":
        return Verdict(False, f"{check.path} does not match /{check.matches}/")
    return Verdict(False, f"{check.path} cannot be read")


# What each file assertion reads and how it is judged (merged into checks._CHECKS).
CHECKS: dict[type, tuple[Callable[[Any], list[Probe]], Callable[[Any, HostResult], Verdict]]] = {
    a.FileExistsAssertion: (_exists_probes, _exists_judge),
    a.FilePermissionsAssertion: (_permissions_probes, _permissions_judge),
    a.FileSizeAssertion: (_size_probes, _size_judge),
    a.FileContentAssertion: (_content_probes, _content_judge),
}
