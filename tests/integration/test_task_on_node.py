"""A Task's run as the node's shell runs it (real sh, coreutils timeout, setsid; HOME is
the test's own folder): the run is tracked in ``~/.clockwork/tasks/<uid>/``, so a second
session attaches to it instead of running it again, and a kill stops it by its process group."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clockwork.api.task import Task
from clockwork.tasks import NO_RECORD, NO_RECORD_EXIT, TIMEOUT_EXIT, command_for, kill_command
from tests.helpers import eventually


def task(**spec: Any) -> Task:
    return Task.model_validate({"apiVersion": "clockwork.dev/v1alpha1", "kind": "Task",
                                "metadata": {"name": "t", "namespace": "lab"}, "spec": spec})  # fmt: skip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def start(line: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.Popen(["sh", "-c", line], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out


def test_a_run_reports_its_output_and_exit_code(home: Path) -> None:
    assert finish(start(command_for(task(command="echo hi; echo oops >&2; exit 3"), "u1", 20), home)) == (
        3, "hi\noops\n")  # fmt: skip
    # finished and recorded: asking again reports the same run, it does not run twice
    counted = task(command=f"echo x >> {home}/count")
    assert finish(start(command_for(counted, "u2", 20), home))[0] == 0
    assert finish(start(command_for(counted, "u2", 20), home))[0] == 0
    assert finish(start(command_for(counted, "u2", 20, attach=True), home))[0] == 0
    assert (home / "count").read_text() == "x\n"


def test_the_run_outlives_the_session_that_started_it_and_is_attached_to(home: Path) -> None:
    gate = home / "gate"
    job = task(command=f"while [ ! -e {gate} ]; do sleep 0.05; done; echo done; echo ran >> {home}/count")
    first = start(command_for(job, "u3", 30), home)
    run_dir = home / ".clockwork" / "tasks" / "u3"
    eventually("the run's process group recorded", lambda: (run_dir / "pid").exists(), timeout=10)
    os.killpg(first.pid, signal.SIGKILL)  # its session goes, as sshd ends one whose client died
    first.communicate(timeout=10)
    attached = start(command_for(job, "u3", 30, attach=True), home)
    gate.touch()
    assert finish(attached) == (0, "done\n")
    assert (home / "count").read_text() == "ran\n"
    assert oct(run_dir.parent.parent.stat().st_mode & 0o777) == "0o700"


def test_attaching_to_a_run_that_never_started_says_so(home: Path) -> None:
    code, out = finish(start(command_for(task(command="true"), "u4", 20, attach=True), home))
    assert (code, NO_RECORD in out) == (NO_RECORD_EXIT, True)
    assert not (home / ".clockwork" / "tasks" / "u4").exists()


def test_kill_stops_the_whole_run_and_the_waiter_reports_it(home: Path) -> None:
    job = task(command=f"sleep 60 & echo $! > {home}/child; wait")
    waiter = start(command_for(job, "u5", 30), home)
    eventually("the command's child", lambda: (home / "child").exists() and (home / "child").read_text().strip(),
               timeout=10)  # fmt: skip
    child = int((home / "child").read_text())
    assert finish(start(kill_command("u5"), home))[0] == 0
    code, _ = finish(waiter)
    assert code == 128 + 15  # TERM, passed on by timeout
    eventually("the command's own child gone", lambda: not Path(f"/proc/{child}").exists(), timeout=10)
    # nothing to kill: still a clean exit
    assert finish(start(kill_command("never-started"), home))[0] == 0


def test_the_node_enforces_the_time_limit(home: Path) -> None:
    code, _ = finish(start(command_for(task(command="sleep 30"), "u6", 1), home))
    assert code == TIMEOUT_EXIT
