"""Health evaluation from recorded probe results (facts in, assertion results out).

Covers a File's own checks: missing, not a regular file, wrong owner, absent as
wished, unreadable; probes shared between assertions are read once; command
assertions: exit code, output regex, a probe that failed; unreachable hosts.
"""

from __future__ import annotations

from typing import Any

from clockwork import health, kinds
from clockwork.api.file import ResolvedFile
from clockwork.health.probing import command_probe, fact_probe
from clockwork.plan import HostResult, ProbeResult
from tests.helpers import file_probes

COMMON: dict[str, Any] = {
    "target": {"local": True},
    "runner": "pyinfra",
    "health": {"assertions": []},
    "remediation": {"enabled": True, "maxAttempts": 3, "backoffSeconds": 10},
    "completion": {"mode": "auto", "approval": "auto"},
}


def file(**kw: Any) -> ResolvedFile:
    return ResolvedFile.model_validate(
        {**COMMON, "path": "/srv/a", "mode": "0644", "present": True, "content": "x", **kw}
    )


def host(*probes: ProbeResult, connected: bool = True) -> HostResult:
    return HostResult(name="n1", connected=connected, outcome="ok", probes=list(probes))


def results(resource: ResolvedFile, answer: HostResult) -> list[tuple[str, bool, str]]:
    return [(r.name, r.ok, r.message) for r in health.evaluate(kinds.KINDS["File"].health, resource, answer)]


def test_healthy_file_reads_stat_and_hash_once() -> None:
    probes = health.probes_for(kinds.KINDS["File"].health, file())
    assert sorted(p.id.split(":")[0] for p in probes) == ["files.File", "files.Sha256File"]
    assert results(file(), host(*file_probes("/srv/a", "x"))) == [
        ("exists", True, "/srv/a exists"),
        ("permissions", True, "/srv/a: mode is 0644"),
        ("content", True, "content matches (sha256 2d711642b726)"),
    ]


def test_missing_file() -> None:
    found = results(file(), host(*file_probes("/srv/a", None)))
    assert found[0] == ("exists", False, "/srv/a does not exist")
    assert all(not ok for _, ok, _ in found)


def test_directory_in_place_of_file() -> None:
    stat = ProbeResult(id=fact_probe("files.File", path="/srv/a").id, success=True, value=False)
    assert results(file(), host(stat))[0] == ("exists", False, "/srv/a exists but is not a regular file")


def test_wrong_owner_is_named() -> None:
    found = results(file(owner="app"), host(*file_probes("/srv/a", "x", user="root")))
    assert ("permissions", False, "/srv/a: owner is root, want app") in found


def test_absent_file_is_healthy_when_absence_is_wanted() -> None:
    found = results(file(present=False, content=None), host(*file_probes("/srv/a", None)))
    assert found == [("absent", True, "/srv/a is absent")]


def test_unreadable_probe_is_a_failure_with_the_reason() -> None:
    stat = ProbeResult(id=fact_probe("files.File", path="/srv/a").id, success=False, error="Permission denied")
    assert results(file(), host(stat))[0] == ("exists", False, "could not read /srv/a: Permission denied")


def test_unreachable_host() -> None:
    down = HostResult(name="n1", connected=False, outcome="failed", error="refused")
    assert results(file(), down) == [("reachable", False, "refused")]


def test_command_assertions() -> None:
    res = file(
        health={
            "assertions": [
                {"type": "command", "name": "ok", "command": "true"},
                {"type": "command", "command": "exit 3", "expectExitCode": 0},
                {"type": "command", "name": "out", "command": "echo v1", "outputMatches": "^v2"},
                {"type": "command", "name": "slow", "command": "sleep 99"},
            ]
        }
    )
    answers = [
        ProbeResult(id=command_probe("true").id, success=True, exit_code=0),
        ProbeResult(id=command_probe("exit 3").id, success=True, exit_code=3, output_tail="boom"),
        ProbeResult(id=command_probe("echo v1").id, success=True, exit_code=0, output_tail="v1"),
        ProbeResult(id=command_probe("sleep 99").id, success=False, error="command did not finish within 30s"),
    ]
    found = {name: (ok, message) for name, ok, message in results(res, host(*file_probes("/srv/a", "x"), *answers))}
    assert found["ok"] == (True, "ok")
    assert found["command exit 3"] == (False, "`exit 3` exited 3, want 0: boom")
    assert found["out"] == (False, "output of `echo v1` does not match /^v2/: v1")
    assert found["slow"] == (False, "command did not finish within 30s")


def test_a_long_generated_check_is_named_not_pasted() -> None:
    script = "; ".join(f"step {i}" for i in range(40))
    res = file(health={"assertions": [{"type": "command", "name": "revision", "command": script}]})
    answer = ProbeResult(id=command_probe(script).id, success=True, exit_code=1, output_tail="at abc1234, want main\n")
    found = {name: (ok, message) for name, ok, message in results(res, host(*file_probes("/srv/a", "x"), answer))}
    assert found["revision"] == (False, "the revision check exited 1, want 0: at abc1234, want main")
