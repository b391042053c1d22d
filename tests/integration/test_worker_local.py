"""The PyInfra worker process on @local, against real files.

Covers: put creates a file (changed), a second run changes nothing, probes read
facts and command exit codes, a failing operation reports the host failed with the
error text, an invalid operation is refused before anything runs, the run timeout
is honoured, a crashing worker becomes a failed result, and nothing a library
prints can corrupt the JSON result. Warm workers: started ahead, each used for one
run, refreshed when the environment changed, gone after close.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clockwork.plan import CommandProbe, FactProbe, HostSpec, Operation, RunRequest, RunResult
from clockwork.runners.pyinfra import PyinfraRunner

pytestmark = pytest.mark.integration
LOCAL = [HostSpec(name="@local")]


def run(request: RunRequest, runner: PyinfraRunner | None = None) -> RunResult:
    return asyncio.run((runner or PyinfraRunner()).run(request))


def put(path: Path, content: str, mode: str = "0640") -> Operation:
    return Operation(
        id="put",
        op="clockwork.put",
        args={"dest": str(path), "content": content, "mode": mode, "create_remote_dir": True},
    )


def test_put_then_idempotent_rerun_then_probe(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "dir" / "a.txt"
    first = run(RunRequest(hosts=LOCAL, operations=[put(target, "one\n")]))
    assert first.ok and first.hosts[0].outcome == "changed"
    assert target.read_text() == "one\n" and oct(target.stat().st_mode & 0o777) == "0o640"

    second = run(
        RunRequest(
            hosts=LOCAL,
            operations=[put(target, "one\n")],
            probes=[
                FactProbe(id="stat", fact="files.File", args={"path": str(target)}),
                FactProbe(id="sha", fact="files.Sha256File", args={"path": str(target)}),
                CommandProbe(id="cmd", command="echo out; echo err >&2; exit 7"),
            ],
        )
    )
    host = second.hosts[0]
    assert host.outcome == "ok" and not host.changed
    stat = host.probe("stat")
    assert stat is not None and isinstance(stat.value, dict) and stat.value["mode"] == 640
    sha = host.probe("sha")
    assert sha is not None and sha.value == "2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806"
    cmd = host.probe("cmd")
    assert cmd is not None and cmd.exit_code == 7 and cmd.output_tail == "out\nerr"


def test_put_replaces_content_whole_and_fixes_mode_alone(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "conf.txt"
    assert run(RunRequest(hosts=LOCAL, operations=[put(target, "one\n")])).hosts[0].changed
    replaced = run(RunRequest(hosts=LOCAL, operations=[put(target, "two\n")])).hosts[0]
    assert replaced.outcome == "changed" and replaced.changed
    assert target.read_text() == "two\n" and oct(target.stat().st_mode & 0o777) == "0o640"
    os.chmod(target, 0o600)
    inode = target.stat().st_ino
    fixed = run(RunRequest(hosts=LOCAL, operations=[put(target, "two\n")])).hosts[0]
    assert fixed.changed and oct(target.stat().st_mode & 0o777) == "0o640"
    assert target.stat().st_ino == inode  # a mode change alone rewrites nothing
    assert sorted(p.name for p in target.parent.iterdir()) == ["conf.txt"]  # no temporary files left


def test_put_of_large_content_and_odd_text(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    content = "".join(f"line {i} \u00e9 '$HOME' `x` \\n\n" for i in range(6000))  # > 64 KiB: the other path
    assert len(content.encode()) > 64 * 1024
    first = run(RunRequest(hosts=LOCAL, operations=[put(big, content, "0600")])).hosts[0]
    assert first.outcome == "changed" and big.read_text() == content
    again = run(RunRequest(hosts=LOCAL, operations=[put(big, content, "0600")])).hosts[0]
    assert again.outcome == "ok" and not again.changed
    small = tmp_path / "small.txt"
    text = "it's $HOME and `date` and \\ and \u00e9\n"
    assert run(RunRequest(hosts=LOCAL, operations=[put(small, text)])).ok and small.read_text() == text
    empty = tmp_path / "empty"
    assert run(RunRequest(hosts=LOCAL, operations=[put(empty, "")])).ok and empty.read_bytes() == b""


def test_put_onto_a_directory_fails_and_leaves_it(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    result = run(RunRequest(hosts=LOCAL, operations=[put(tmp_path / "dir", "x")]))
    assert not result.ok and result.hosts[0].error
    assert (tmp_path / "dir").is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_failing_operation_names_the_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    result = run(RunRequest(hosts=LOCAL, operations=[put(blocker / "x.txt", "x")]))
    host = result.hosts[0]
    assert not result.ok and host.outcome == "failed"
    assert host.error and host.error.startswith("put: ")
    assert f"{blocker}: Not a directory" in host.error


def test_invalid_operation_arguments_are_refused_before_running(tmp_path: Path) -> None:
    bad = Operation(id="bad", op="files.file", args={"path": str(tmp_path / "x"), "no_such_arg": 1})
    result = run(RunRequest(hosts=LOCAL, operations=[bad, put(tmp_path / "never.txt", "x")]))
    assert not result.ok and result.error and "operation bad (files.file) is invalid" in result.error
    assert not (tmp_path / "never.txt").exists()


def test_unknown_operation_is_rejected_by_the_contract() -> None:
    with pytest.raises(ValueError, match=r"server\.reboot"):
        Operation.model_validate({"id": "x", "op": "server.reboot", "args": {}})


def test_run_timeout_is_honoured() -> None:
    result = run(RunRequest(hosts=LOCAL, probes=[CommandProbe(id="slow", command="sleep 30")], timeout_seconds=2))
    assert not result.ok
    assert result.error == "run timed out after 2s"
    assert result.duration_seconds < 15


def test_worker_crash_becomes_a_failed_result(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text(
        "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho 'ImportError: broken' >&2\nexit 1\n"
    )
    fake_python.chmod(0o755)
    result = run(RunRequest(hosts=LOCAL), PyinfraRunner(python=str(fake_python)))
    assert result.hosts[0].outcome == "failed"
    assert result.error and "exited with code 1" in result.error and "ImportError: broken" in result.error


def test_stdout_noise_cannot_corrupt_the_result(tmp_path: Path) -> None:
    # A command that prints to stdout as an operation: its output must stay in the result.
    op = Operation(id="sh", op="server.shell", args={"commands": ["echo '{not json'"]})
    proc = subprocess.run(
        [sys.executable, "-m", "clockwork.runners.worker"],
        input=RunRequest(hosts=LOCAL, operations=[op]).model_dump_json(),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    result = RunResult.model_validate_json(proc.stdout)
    assert result.hosts[0].operations[0].stdout_tail == "{not json"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_warm_workers_are_used_once_and_closed(tmp_path: Path) -> None:
    async def scenario() -> None:
        runner = PyinfraRunner(warm=2)
        first = await runner.run(RunRequest(hosts=LOCAL, operations=[put(tmp_path / "a.txt", "a\n")]))
        assert first.ok, first.error
        waiting = list(runner._idle)
        assert len(waiting) == 2 and all(alive(w.proc.pid) for w in waiting)
        second = await runner.run(RunRequest(hosts=LOCAL, operations=[put(tmp_path / "b.txt", "b\n")]))
        assert second.ok, second.error
        # The oldest warm worker ran the second request and ended with it; the pool is full again.
        assert waiting[0].proc.returncode == 0
        assert runner._idle[0] is waiting[1] and len(runner._idle) == 2
        after = list(runner._idle)
        await runner.aclose()
        assert not any(alive(w.proc.pid) for w in after), "warm workers must end when the runner is closed"

    asyncio.run(scenario())
    assert (tmp_path / "b.txt").read_text() == "b\n"


def test_a_warm_worker_started_before_an_environment_change_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> RunResult:
        runner = PyinfraRunner(warm=1)
        monkeypatch.setenv("CW_TEST_MARK", "before")
        await runner.run(RunRequest(hosts=LOCAL))
        monkeypatch.setenv("CW_TEST_MARK", "after")
        try:
            return await runner.run(
                RunRequest(hosts=LOCAL, probes=[CommandProbe(id="mark", command="echo $CW_TEST_MARK")])
            )
        finally:
            await runner.aclose()

    result = asyncio.run(scenario())
    probe = result.hosts[0].probe("mark")
    assert probe is not None and probe.output_tail.strip() == "after"


def test_a_warm_worker_exits_quietly_when_not_needed() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clockwork.runners.worker", "--secrets-dir-on-stdin"],
        input="", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
