"""Health evaluation from recorded probe results (facts in, assertion results out).

Covers File: missing, not a regular file, wrong owner, absent as wished, unreadable;
command assertions: exit code, output regex, a probe that failed; unreachable hosts.
"""

from __future__ import annotations

from typing import Any

from clockwork import health
from clockwork.api.file import ResolvedFile
from clockwork.plan import HostResult, ProbeResult

COMMON: dict[str, Any] = {
    "target": {"local": True},
    "runner": "pyinfra",
    "health": {"intervalSeconds": 0, "assertions": []},
    "remediation": {"enabled": True, "maxAttempts": 3, "backoffSeconds": 10},
    "completion": {"mode": "auto", "approval": "auto"},
}


def file(**kw: Any) -> ResolvedFile:
    return ResolvedFile.model_validate(
        {**COMMON, "path": "/srv/a", "mode": "0644", "present": True, "content": "x", **kw}
    )


def host(*probes: ProbeResult, connected: bool = True) -> HostResult:
    return HostResult(name="n1", connected=connected, outcome="ok", probes=list(probes))


def messages(kind_results: list[Any]) -> list[tuple[str, bool, str]]:
    return [(r.name, r.ok, r.message) for r in kind_results]


def test_missing_file() -> None:
    found = health.evaluate("File", file(), host(ProbeResult(id="file.stat", success=True, value=None)))
    assert messages(found) == [("exists", False, "/srv/a does not exist")]


def test_directory_in_place_of_file() -> None:
    found = health.evaluate("File", file(), host(ProbeResult(id="file.stat", success=True, value=False)))
    assert found[0].message == "/srv/a exists but is not a regular file"


def test_wrong_owner_is_named() -> None:
    stat = ProbeResult(id="file.stat", success=True, value={"mode": 644, "user": "root", "group": "root"})
    sha = ProbeResult(
        id="file.sha256",
        success=True,
        value="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
    )
    found = messages(health.evaluate("File", file(owner="app"), host(stat, sha)))
    assert ("owner", False, "owner is root, want app") in found
    assert ("content", True, "content matches (sha256 2d711642b726)") in found


def test_absent_file_is_healthy_when_absence_is_wanted() -> None:
    found = health.evaluate(
        "File", file(present=False, content=None), host(ProbeResult(id="file.stat", success=True, value=None))
    )
    assert messages(found) == [("absent", True, "/srv/a is absent")]


def test_unreadable_probe_is_a_failure_with_the_reason() -> None:
    found = health.evaluate("File", file(), host(ProbeResult(id="file.stat", success=False, error="Permission denied")))
    assert messages(found) == [("exists", False, "could not read /srv/a: Permission denied")]


def test_unreachable_host() -> None:
    found = health.evaluate("File", file(), HostResult(name="n1", connected=False, outcome="failed", error="refused"))
    assert messages(found) == [("reachable", False, "refused")]


def test_command_assertions() -> None:
    res = file(
        health={
            "intervalSeconds": 0,
            "assertions": [
                {"type": "command", "name": "ok", "command": "true"},
                {"type": "command", "command": "exit 3", "expectExitCode": 0},
                {"type": "command", "name": "out", "command": "echo v1", "outputMatches": "^v2"},
                {"type": "command", "name": "slow", "command": "sleep 99"},
            ],
        }
    )
    probes = health.probes_for("File", res)
    assert [p.id for p in probes][-4:] == ["assertion.0", "assertion.1", "assertion.2", "assertion.3"]
    result = host(
        ProbeResult(id="file.stat", success=True, value={"mode": 644}),
        ProbeResult(id="assertion.0", success=True, exit_code=0),
        ProbeResult(id="assertion.1", success=True, exit_code=3, output_tail="boom"),
        ProbeResult(id="assertion.2", success=True, exit_code=0, output_tail="v1"),
        ProbeResult(id="assertion.3", success=False, error="command did not finish within 30s"),
    )
    found = {r.name: (r.ok, r.message) for r in health.evaluate("File", res, result)}
    assert found["ok"] == (True, "ok")
    assert found["command[1]"] == (False, "`exit 3` exited 3, want 0: boom")
    assert found["out"] == (False, "output of `echo v1` does not match /^v2/: v1")
    assert found["slow"] == (False, "command did not finish within 30s")
