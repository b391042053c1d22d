"""The README's commands on every example, as a newcomer runs them in local mode.

Covers: `plan -f manifests/examples/` shows every kind without a traceback (fleet kinds
say what applying them will do; resources on nodes that local mode cannot reach say
why) and exits 0, in tables and JSON; `status` with Tasks, Workflows and Rollouts in the
state folder shows a table per kind from its printer columns and exits 1 while
something is not where it should be; `status -f FILE` shows those resources;
`approve -f FILE` on a file with several resources skips those that need no approval.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, CliRunner
from tests.helpers import resource, write_resources

pytestmark = pytest.mark.integration
EXAMPLES = REPO / "manifests" / "examples"


def test_plan_every_example(cli: CliRunner) -> None:
    shown = cli("plan", "-f", str(EXAMPLES), timeout=300)
    assert shown.code == 0, shown.stdout[-3000:] + shown.stderr[-3000:]
    assert "Traceback" not in shown.stdout + shown.stderr
    for ref, said in (
        ("Task/default/snapshot", "runs `date > /tmp/snapshot.txt"),
        ("Workflow/default/nightly-capture", "runs 3 step(s) as Tasks: capture; check; report"),
        ("Rollout/default/shop-app", "rolls version 1.4.2"),
        ("EdgeNode/default/pi-berlin-1", "reached over SSH at 10.20.0.11:22"),
    ):
        assert f"{ref}  planned" in shown.stdout and said in shown.stdout, ref
    assert "not looked at: EdgeNode pi-berlin-1: sshKeySecret needs the operator" in shown.stdout
    as_json = cli("plan", "-f", str(EXAMPLES), "-o", "json", timeout=300)
    assert as_json.code == 0
    assert all(o["ok"] and o["message"] for o in as_json.json())


def test_status_with_fleet_kinds_in_the_state(cli: CliRunner, workdir: Path) -> None:
    target = workdir / "motd.txt"
    manifest = write_resources(
        workdir / "mixed.yaml",
        resource("File", "motd", path=str(target), content="hi\n"),
        resource("Task", "once", command="true", requiredCapabilities=["camera"]),
        resource("Workflow", "flow", steps=[{"name": "a", "task": {"command": "true"}}]),
    )
    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=120)
    assert "Traceback" not in applied.stdout + applied.stderr
    status = cli("status")
    assert "Traceback" not in status.stdout + status.stderr
    for title in ("File (", "Task (", "Workflow ("):
        assert title in status.stdout
    assert "default/motd" in status.stdout and "default/once" in status.stdout
    assert status.code == 1  # the workflow found no node: not where it should be
    only = cli("status", "-f", str(manifest), "-o", "json")
    assert {r["resource"] for r in only.json()} == {"File/default/motd", "Task/default/once", "Workflow/default/flow"}
    assert next(r for r in only.json() if r["resource"] == "File/default/motd")["ok"] is True
    assert cli("destroy", "-f", str(manifest), timeout=120).code == 0
    assert cli("status").code == 0


def test_approve_skips_what_needs_no_approval(cli: CliRunner, workdir: Path) -> None:
    manifest = write_resources(
        workdir / "two.yaml",
        resource("File", "plain", path=str(workdir / "a.txt"), content="a\n"),
        resource("File", "gated", path=str(workdir / "b.txt"), content="b\n", completion={"approval": "manual"}),
        resource("Task", "job", command="true"),
    )
    planned = cli("plan", "-f", str(manifest), "-o", "json").json()
    gated = next(o for o in planned if o["resource"] == "File/default/gated")
    approved = cli("approve", "-f", str(manifest), "--hash", gated["completion"]["completedHash"], "-o", "json")
    assert approved.code == 0, approved.stdout
    results = {r["resource"]: r["result"] for r in approved.json()}
    assert results == {"File/default/plain": "not-needed", "File/default/gated": "approved", "Task/default/job":
                       "not-needed"}  # fmt: skip
    assert cli("approve", "-f", str(manifest), "--hash", "0123456789abcdef").code == 1  # no completion has it
    assert cli("approve", "-f", str(manifest)).code == 0


def test_apply_assert_destroy_every_example_without_containers(cli: CliRunner, workdir: Path) -> None:
    """What needs an SSH key or a cluster says so and exits 1; nothing is a traceback.
    (The Container examples publish fixed ports: they run in their own tests, on copies.)"""
    folder = workdir / "examples"
    folder.mkdir()
    for example in EXAMPLES.glob("*.yaml"):
        text = example.read_text()
        if "kind: Container" not in text:  # what goes under /tmp goes to this test's folder
            (folder / example.name).write_text(text.replace("/tmp/", f"{workdir}/tmp/"))
    try:
        applied = cli("apply", "-f", str(folder), "-o", "json", timeout=600)
        assert applied.code == 1  # the berlin node needs the operator (sshKeySecret)
        found = {o["resource"]: o for o in applied.json()}
        assert found["File/default/motd"]["ok"] is True
        assert "sshKeySecret needs the operator" in found["File/default/site-banner"]["message"]
        for verb in ("assert", "status"):
            shown = cli(verb, *(("-f", str(folder)) if verb == "assert" else ()), timeout=300)
            assert shown.code == 1 and "Traceback" not in shown.stdout + shown.stderr, verb
    finally:
        destroyed = cli("destroy", "-f", str(folder), timeout=600)
    assert destroyed.code == 0, destroyed.stdout[-3000:] + destroyed.stderr[-2000:]
    assert "Traceback" not in destroyed.stdout + destroyed.stderr
