"""Health of a File: present (or absent) with the declared content, mode and owner."""

from __future__ import annotations

import hashlib

from clockwork.api.common import AssertionResult
from clockwork.api.file import ResolvedFile
from clockwork.api.types import normalise_mode
from clockwork.plan import FactProbe, HostResult, Probe

STAT = "file.stat"
SHA256 = "file.sha256"


def probes(file: ResolvedFile) -> list[Probe]:
    found: list[Probe] = [FactProbe(id=STAT, fact="files.File", args={"path": file.path})]
    if file.present:
        found.append(FactProbe(id=SHA256, fact="files.Sha256File", args={"path": file.path}))
    return found


def content_sha256(file: ResolvedFile) -> str:
    return hashlib.sha256((file.content or "").encode()).hexdigest()


def evaluate(file: ResolvedFile, host: HostResult) -> list[AssertionResult]:
    def result(name: str, ok: bool, message: str) -> AssertionResult:
        return AssertionResult(name=name, node=host.name, ok=ok, message=message)

    stat_probe = host.probe(STAT)
    if stat_probe is None or not stat_probe.success:
        reason = stat_probe.error if stat_probe else "not checked"
        return [result("exists", False, f"could not read {file.path}: {reason}")]
    stat = stat_probe.value

    if not file.present:
        if stat is None:
            return [result("absent", True, f"{file.path} is absent")]
        return [result("absent", False, f"{file.path} exists but should be absent")]

    if stat is None:
        return [result("exists", False, f"{file.path} does not exist")]
    if not isinstance(stat, dict):
        return [result("exists", False, f"{file.path} exists but is not a regular file")]
    found = [result("exists", True, f"{file.path} exists")]

    want_mode = normalise_mode(file.mode)
    have_mode = normalise_mode(str(stat.get("mode", "")))
    found.append(
        result(
            "mode",
            have_mode == want_mode,
            f"mode is {have_mode}" + ("" if have_mode == want_mode else f", want {want_mode}"),
        )
    )
    for name, want, have in (
        ("owner", file.owner, stat.get("user")),
        ("group", file.group, stat.get("group")),
    ):
        if want is not None:
            ok = str(have) == want
            found.append(result(name, ok, f"{name} is {have}" + ("" if ok else f", want {want}")))

    sha_probe = host.probe(SHA256)
    want_sha = content_sha256(file)
    have_sha = sha_probe.value if sha_probe and sha_probe.success else None
    if have_sha == want_sha:
        found.append(result("content", True, f"content matches (sha256 {want_sha[:12]})"))
    else:
        shown = str(have_sha)[:12] if have_sha else "unreadable"
        found.append(result("content", False, f"content differs: sha256 {shown}…, want {want_sha[:12]}…"))
    return found
