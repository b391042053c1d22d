"""Local mode end to end, through the real `clockwork` command and real files.

Covers the Foundation acceptance path: apply -> change content -> apply updates ->
assert passes -> file deleted by hand -> assert exits 1 -> destroy removes it; a
second apply reports no changes; invalid input exits 2 and writes nothing; a
missing value without a model is a clear failure; a changed path removes the old
file; folders and multi-document files; --output json on every command.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLOCKWORK, CliRunner
from tests.helpers import file_resource, write_resources

pytestmark = pytest.mark.integration


def test_apply_change_assert_drift_destroy(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    target = tmp_path / "srv" / "motd.txt"
    manifest = write_resources(workdir / "motd.yaml", file_resource("motd", path=str(target), content="v1\n"))

    first = cli("apply", "-f", str(manifest), "-o", "json")
    assert first.code == 0, first.stderr
    [outcome] = first.json()
    assert outcome["ok"] and outcome["changed"]
    assert target.read_text() == "v1\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"

    again = cli("apply", "-f", str(manifest), "-o", "json")
    assert again.code == 0 and again.json()[0]["changed"] is False

    write_resources(manifest, file_resource("motd", path=str(target), content="v2\n", mode="0600"))
    updated = cli("apply", "-f", str(manifest))
    assert updated.code == 0, updated.stdout
    assert "changed" in updated.stdout
    assert target.read_text() == "v2\n" and oct(target.stat().st_mode & 0o777) == "0o600"

    assert cli("assert", "-f", str(manifest)).code == 0

    target.unlink()
    drifted = cli("assert", "-f", str(manifest))
    assert drifted.code == 1
    assert "does not exist" in drifted.stdout and "drifted or failed" in drifted.stderr

    status = cli("status", "-o", "json")
    [record] = status.json()
    assert record["resource"] == "File/default/motd" and record["generation"] == 2

    target.write_text("restored by hand\n")
    destroyed = cli("destroy", "-f", str(manifest), "-o", "json")
    assert destroyed.code == 0 and destroyed.json()[0]["ok"]
    assert not target.exists()
    assert cli("status", "-o", "json").json() == []
    assert cli("destroy", "-f", str(manifest)).code == 0  # nothing left to do is fine


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_owner_and_group_by_number_are_applied_once_and_healthy(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    """chown takes a number as well as a name; the node reports names: both sides compare numbers too."""
    target = tmp_path / "srv" / "by-number.txt"
    spec = {"path": str(target), "content": "x\n", "mode": "0640", "owner": "65534", "group": "65534"}
    manifest = write_resources(workdir / "numbers.yaml", file_resource("numbers", **spec))
    first = cli("apply", "-f", str(manifest), "-o", "json")
    assert first.code == 0, first.stdout + first.stderr
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)
    again = cli("apply", "-f", str(manifest), "-o", "json")
    assert again.code == 0 and again.json()[0]["changed"] is False, again.stdout
    checked = cli("assert", "-f", str(manifest))
    assert checked.code == 0, checked.stdout
    os.chown(target, 0, 0)
    drifted = cli("assert", "-f", str(manifest))
    assert drifted.code == 1 and "owner is 0, want 65534" in drifted.stdout, drifted.stdout


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "INVALID/x", "content": "x", "mode": "999"}, "spec.mode"),
        ({"path": "relative/x", "content": "x"}, "spec.path"),
        ({"path": "INVALID/x", "content": "x", "colour": "red"}, "spec.colour: unknown field"),
    ],
)
def test_invalid_input_exits_2_and_writes_nothing(
    cli: CliRunner, workdir: Path, spec: dict[str, str], message: str
) -> None:
    invalid = workdir / "cw-invalid"  # this test's own folder, not a fixed /tmp path another run shares
    spec = {k: v.replace("INVALID", str(invalid)) for k, v in spec.items()}
    good = file_resource("good", path=str(workdir / "good.txt"), content="ok")
    manifest = write_resources(workdir / "bad.yaml", good, file_resource("bad", **spec))
    result = cli("apply", "-f", str(manifest))
    assert result.code == 2
    assert message in result.stderr and "nothing was changed" in result.stderr
    assert not (workdir / "good.txt").exists(), "the valid document must not be applied either"
    assert not (workdir / ".clockwork").exists()
    assert not invalid.exists()
    as_json = cli("apply", "-f", str(manifest), "-o", "json")
    assert as_json.code == 2 and any(message in p for p in as_json.json()["problems"])


def test_unreadable_yaml_and_missing_files_exit_2(cli: CliRunner, workdir: Path) -> None:
    broken = workdir / "broken.yaml"
    broken.write_text("kind: File\nmetadata: [unclosed\n")
    result = cli("apply", "-f", str(broken))
    assert result.code == 2 and "not valid YAML" in result.stderr
    assert cli("apply", "-f", str(workdir / "nope.yaml")).code == 2
    assert cli("apply").code == 2


def test_missing_content_without_model_fails_clearly(cli: CliRunner, workdir: Path) -> None:
    manifest = write_resources(workdir / "m.yaml", file_resource("nocontent", path=str(workdir / "n.txt")))
    result = cli("apply", "-f", str(manifest), "-o", "json")
    assert result.code == 1
    [outcome] = result.json()
    completed = next(c for c in outcome["status"]["conditions"] if c["type"] == "Completed")
    assert completed["status"] == "False" and completed["reason"] == "MissingValues"
    assert "spec.content" in completed["message"]
    assert not (workdir / "n.txt").exists()


def test_changed_path_removes_old_file(cli: CliRunner, workdir: Path) -> None:
    old, new = workdir / "old.txt", workdir / "new.txt"
    manifest = write_resources(workdir / "m.yaml", file_resource("moving", path=str(old), content="x"))
    assert cli("apply", "-f", str(manifest)).code == 0 and old.exists()
    write_resources(manifest, file_resource("moving", path=str(new), content="x"))
    assert cli("apply", "-f", str(manifest)).code == 0
    assert new.exists() and not old.exists()


def test_folder_of_multi_document_files_and_plan(cli: CliRunner, workdir: Path) -> None:
    folder = workdir / "manifests"
    folder.mkdir()
    write_resources(
        folder / "a.yaml",
        file_resource("one", path=str(workdir / "one.txt"), content="1"),
        file_resource("two", directory=str(workdir), name="two.txt", content="2", mode="0600"),
    )
    write_resources(folder / "b.yml", file_resource("three", path=str(workdir / "three.txt"), content="3"))
    (folder / "notes.txt").write_text("not a manifest")

    plan = cli("plan", "-f", str(folder))
    assert plan.code == 0
    assert "mode" in plan.stdout and "default" in plan.stdout and "clockwork.put" in plan.stdout
    plan_json = cli("plan", "-f", str(folder), "-o", "json").json()
    assert [p["resource"] for p in plan_json] == [
        "File/default/one",
        "File/default/two",
        "File/default/three",
    ]
    assert not (workdir / "one.txt").exists(), "plan must not apply"

    assert cli("apply", "-f", str(folder)).code == 0
    assert (workdir / "two.txt").read_text() == "2"
    assert cli("assert", "-f", str(folder), "-o", "json").code == 0
    assert cli("destroy", "-f", str(folder)).code == 0
    assert not any((workdir / n).exists() for n in ("one.txt", "two.txt", "three.txt"))


def test_duplicate_resources_are_bad_input(cli: CliRunner, workdir: Path) -> None:
    doc = file_resource("same", path=str(workdir / "x"), content="x")
    manifest = write_resources(workdir / "m.yaml", doc, doc)
    result = cli("apply", "-f", str(manifest))
    assert result.code == 2 and "is also declared in" in result.stderr


def test_state_dir_option_and_env(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    manifest = write_resources(workdir / "m.yaml", file_resource("s", path=str(workdir / "s.txt"), content="x"))
    state = tmp_path / "elsewhere"
    assert cli("apply", "-f", str(manifest), "--state-dir", str(state)).code == 0
    assert (state / "state.db").exists() and not (workdir / ".clockwork").exists()
    listed = cli("status", "-o", "json", env={"CW_STATE_DIR": str(state)}).json()
    assert [r["resource"] for r in listed] == ["File/default/s"]
    assert cli("status", env={"CW_RUN_TIMEOUT": "soon"}).code == 2


def test_version_and_help(cli: CliRunner) -> None:
    assert cli("--version").stdout.startswith("clockwork, version ")
    assert "apply" in cli("--help").stdout


def test_manual_approval_waits_for_the_reviewed_hash(cli: CliRunner, workdir: Path) -> None:
    target = workdir / "gated.txt"
    doc = file_resource("gated", path=str(target), content="v1", completion={"approval": "manual"})
    manifest = write_resources(workdir / "m.yaml", doc)

    assert cli("approve", "-f", str(manifest)).code == 1  # nothing completed yet

    plan = cli("plan", "-f", str(manifest), "-o", "json")
    completed_hash = plan.json()[0]["completion"]["completedHash"]
    assert completed_hash

    waiting = cli("apply", "-f", str(manifest), "-o", "json")
    assert waiting.code == 1
    applied = next(c for c in waiting.json()[0]["status"]["conditions"] if c["type"] == "Applied")
    assert applied["reason"] == "AwaitingApproval"
    assert completed_hash in applied["message"]
    assert not target.exists()

    wrong = cli("approve", "-f", str(manifest), "--hash", "0000000000000000")
    assert wrong.code == 1
    assert "is not the current completion" in wrong.stderr
    approved = cli("approve", "-f", str(manifest), "--hash", completed_hash)
    assert approved.code == 0
    assert completed_hash in approved.stdout
    assert cli("apply", "-f", str(manifest)).code == 0
    assert target.read_text() == "v1"

    write_resources(manifest, {**doc, "spec": {**doc["spec"], "content": "v2"}})
    assert cli("apply", "-f", str(manifest)).code == 1  # a new completion needs a new approval
    assert target.read_text() == "v1"
    assert cli("approve", "-f", str(manifest)).code == 0
    assert cli("apply", "-f", str(manifest)).code == 0
    assert target.read_text() == "v2"


def test_doctor_reports_runners_and_connectors(cli: CliRunner) -> None:
    result = cli("doctor", "-o", "json", env={"KUBECONFIG": "/nonexistent/kubeconfig"})
    assert result.code == 0, result.stdout
    checks = {c["name"]: c for c in result.json()}
    assert checks["pyinfra (worker process)"]["ok"] is True
    assert checks["ssh (@ssh)"]["ok"] is True
    assert checks["job (Kubernetes Job)"]["ok"] is False
    assert "kubeconfig" in checks["job (Kubernetes Job)"]["detail"]
    assert "docker (@docker)" in checks


def _rollout(name: str, selector: dict[str, str]) -> dict[str, object]:
    files = [{"kind": "File", "name": "f", "spec": {"path": "/srv/app/v", "content": "v1"}}]
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
            "spec": {"nodeSelector": selector, "version": "v1", "resources": files}}  # fmt: skip


def test_a_rollout_with_no_nodes_to_go_to_fails(cli: CliRunner, workdir: Path) -> None:
    """No EdgeNode has the labels, or the only one that has them cannot be reached: exit 1, NoTargets."""
    stale = {"apiVersion": "clockwork.dev/v1alpha1", "kind": "EdgeNode",
             "metadata": {"name": "node-a", "labels": {"site": "lab"}}, "spec": {"address": "192.0.2.1"}}  # fmt: skip
    manifest = write_resources(
        workdir / "r.yaml", _rollout("nowhere", {"site": "mars"}), stale, _rollout("app", {"site": "lab"})
    )
    result = cli("apply", "-f", str(manifest), "-o", "json")
    assert result.code == 1, result.stderr
    found = {o["resource"]: o for o in result.json()}
    nowhere, app = found["Rollout/default/nowhere"], found["Rollout/default/app"]
    assert not nowhere["ok"] and nowhere["status"]["phase"] == "Failed"
    assert nowhere["message"] == "spec.nodeSelector: no EdgeNode in namespace 'default' has the labels site=mars"
    assert [(c["reason"], c["status"]) for c in nowhere["status"]["conditions"]] == [("NoTargets", "False")]
    assert found["EdgeNode/default/node-a"]["status"]["phase"] == "Stale"
    assert not app["ok"] and app["status"]["phase"] == "Failed"
    assert app["message"].startswith("spec.nodeSelector: no EdgeNode with the labels site=lab can be rolled out to: ")
    assert "node-a (Stale): EdgeNode node-a: set spec.sshKeyFile" in app["message"]
    assert "Offline" not in app["message"]

    table = cli("apply", "-f", str(manifest))
    assert table.code == 1 and "Traceback" not in table.stderr
    assert "spec.nodeSelector" in table.stdout and "spec.target" not in table.stdout


def _on_a_terminal(args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run clockwork with its stdout on a pseudo-terminal; what the terminal got, escapes removed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"}
    for quiet in ("NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(quiet, None)
    proc = subprocess.Popen([CLOCKWORK, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the command closed the terminal (it exited)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    _, stderr = proc.communicate(timeout=timeout)
    assert "Traceback" not in stderr.decode()
    code = proc.returncode
    text = b"".join(chunks).decode(errors="replace")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_apply_shows_progress_on_a_terminal_and_nothing_more_on_a_pipe(cli: CliRunner, workdir: Path) -> None:
    manifest = write_resources(
        workdir / "two.yaml",
        file_resource("first", path=str(workdir / "out" / "a.txt"), content="a\n"),
        file_resource("second", path=str(workdir / "out" / "b.txt"), content="b\n"),
    )
    code, seen = _on_a_terminal(["apply", "-f", str(manifest)], workdir)
    assert code == 0, seen
    assert "applying File/default/first" in seen and "applying File/default/second" in seen
    assert "File/default/second │ changed" in seen  # the table still follows

    piped = cli("apply", "-f", str(manifest))
    assert piped.code == 0
    assert piped.stdout.splitlines()[0] == "apply", piped.stdout  # the table first, nothing before it
    assert "applying" not in piped.stdout + piped.stderr and "\x1b" not in piped.stdout
    assert "File/default/second │ unchanged" in piped.stdout

    as_json = cli("apply", "-f", str(manifest), "-o", "json")
    assert [o["resource"] for o in as_json.json()] == ["File/default/first", "File/default/second"]


def test_a_check_that_fails_while_the_resource_comes_up_is_repeated_for_its_startup_time(
    cli: CliRunner, workdir: Path, tmp_path: Path
) -> None:
    # The command counts its runs and passes from the third: a service that needs a moment.
    def manifest(name: str, tries: Path, **health: object) -> Path:
        command = f"echo . >> {tries}; test $(wc -l < {tries}) -ge 3"
        health = {**health, "assertions": [{"type": "command", "command": command}]}
        spec = file_resource(name, path=str(tmp_path / f"{name}.txt"), content="x\n", health=health)
        return write_resources(workdir / f"{name}.yaml", spec)

    slow = manifest("slow", tmp_path / "slow.tries", startupSeconds=60)
    applied = cli("apply", "-f", str(slow), "-o", "json")
    assert applied.code == 0, applied.stdout + applied.stderr
    assert (tmp_path / "slow.tries").read_text().count(".") == 3  # checked until it passed, then no more

    # An apply that changes nothing has no startup to wait for: one check, and its verdict.
    (tmp_path / "slow.tries").unlink()
    again = cli("apply", "-f", str(slow), "-o", "json")
    assert again.code == 1 and not again.json()[0]["changed"]
    assert (tmp_path / "slow.tries").read_text().count(".") == 1

    # startupSeconds: 0 judges the first check after the apply.
    impatient = manifest("impatient", tmp_path / "impatient.tries", startupSeconds=0)
    failed = cli("apply", "-f", str(impatient), "-o", "json")
    assert failed.code == 1 and "exited 1" in failed.json()[0]["message"], failed.stdout
    assert (tmp_path / "impatient.tries").read_text().count(".") == 1
