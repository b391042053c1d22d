"""`clockwork why` in local mode: the chain of reasons a resource is not Ready, from
what apply recorded — a dependency waiting for approval (and the hash that approves
it), a target that cannot be found (its selector), remediation that gave up (the last
diagnostics) — exit 1 while something is not Ready, 0 when all are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import file_resource, resource, write_resources

pytestmark = pytest.mark.integration


def test_a_dependency_waiting_for_approval(cli: CliRunner, workdir: Path) -> None:
    gated = file_resource("gated", path=str(workdir / "g.txt"), content="x\n", completion={"approval": "manual"})
    after = file_resource("after", path=str(workdir / "a.txt"), content="y\n",
                          dependsOn=[{"kind": "File", "name": "gated"}])  # fmt: skip
    manifest = write_resources(workdir / "m.yaml", gated, after)
    applied = cli("apply", "-f", str(manifest), "-o", "json")
    assert applied.code == 1
    completed_hash = applied.json()[0]["completion"]["completedHash"]

    shown = cli("why", "files/after")
    assert shown.code == 1
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("File/default/after waits for its dependencies")
    assert lines[1].startswith("  └ File/default/gated waits for approval of a person")
    assert f"clockwork approve -f FILE --hash {completed_hash}" in lines[2]

    assert cli("approve", "-f", str(manifest)).code == 0
    assert cli("apply", "-f", str(manifest)).code == 0
    ready = cli("why", "File/after", "-o", "json")
    assert ready.code == 0 and ready.json()[0]["reasons"][0]["text"] == "is Ready"


def test_a_target_that_cannot_be_found(cli: CliRunner, workdir: Path) -> None:
    doc = resource("Directory", "far", path="/srv/far", target={"nodeSelector": {"site": "nowhere"}})
    manifest = write_resources(workdir / "d.yaml", doc)
    assert "complete, but apply has no target" in cli("plan", "-f", str(manifest)).stdout
    assert cli("apply", "-f", str(manifest)).code == 1
    shown = cli("why", "-f", str(manifest), "-o", "json")
    assert shown.code == 1
    [reason] = shown.json()[0]["reasons"]
    assert reason["text"].startswith("has no target") and "site=nowhere" in reason["text"]


def test_remediation_that_gave_up_gives_the_last_diagnostics(cli: CliRunner, workdir: Path) -> None:
    doc = file_resource(
        "sick", path=str(workdir / "s.txt"), content="x\n", remediation={"maxAttempts": 1, "backoffSeconds": 1},
        health={"assertions": [{"type": "command", "name": "fails", "command": "echo broken-now; exit 3"}]},
    )  # fmt: skip
    manifest = write_resources(workdir / "s.yaml", doc)
    assert cli("apply", "-f", str(manifest)).code == 1
    first = cli("why", "File/sick")
    assert first.code == 1 and "is unhealthy (AssertionsFailed)" in first.stdout and "broken-now" in first.stdout
    assert "not remediated yet" in first.stdout


def test_unknown_and_unapplied(cli: CliRunner) -> None:
    assert cli("why", "File/nothing").stdout.startswith("File/default/nothing does not exist")
    bad = cli("why", "gizmo/x")
    assert bad.code == 2 and "unknown kind 'gizmo'" in bad.stderr
    assert cli("why").code == 2
