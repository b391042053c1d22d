"""`clockwork watch`: the health loop without a cluster, as a real process.

Covers: a file deleted by hand is detected at the next check and healed
(RemediationStarted, Remediated); a failure that cannot be fixed stops after
maxAttempts with RemediationExhausted; `clockwork status` reads beside a running
watch; SIGTERM and SIGINT stop it cleanly and it says so; an outcome that repeats
unchanged is said once; --for bounds the run (a bad duration is bad input).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import file_resource, write_resources
from tests.support.watch import has_event, watching

pytestmark = pytest.mark.integration


def test_deleted_file_is_healed_and_sigterm_stops(cli: CliRunner, workdir: Path) -> None:
    target = workdir / "kept.txt"
    manifest = write_resources(
        workdir / "m.yaml",
        file_resource(
            "kept",
            path=str(target),
            content="keep me\n",
            health={"intervalSeconds": 1},
            remediation={"backoffSeconds": 1},
        ),
    )
    with watching(workdir, manifest) as watch:
        watch.wait_for(lambda r: r["resource"] == "File/default/kept" and r["ok"])
        assert target.read_text() == "keep me\n"

        status = cli("status", "-o", "json")  # beside the running watch: no lock needed
        assert status.code == 0
        assert status.json()[0]["resource"] == "File/default/kept"

        target.unlink()
        healed = watch.wait_for(has_event("Remediated"), timeout=20)
        started = [e for line in watch.lines for e in line["events"] if e["reason"] == "RemediationStarted"]
        assert "does not exist" in started[0]["message"]
        assert next(c for c in healed["status"]["conditions"] if c["type"] == "Healthy")["status"] == "True"
        assert target.read_text() == "keep me\n"

        watch.proc.send_signal(signal.SIGTERM)
        assert watch.proc.wait(timeout=15) == 0
        assert watch.proc.stderr is not None
        assert "watch stopped: SIGTERM received" in watch.proc.stderr.read()


def test_unfixable_failure_stops_at_max_attempts(workdir: Path) -> None:
    blocker = workdir / "blocker"
    blocker.write_text("a file where a directory should be")
    manifest = write_resources(
        workdir / "m.yaml",
        file_resource(
            "stuck",
            path=str(blocker / "x.txt"),
            content="x",
            health={"intervalSeconds": 1},
            remediation={"maxAttempts": 2, "backoffSeconds": 1},
        ),
    )
    with watching(workdir, manifest) as watch:
        watch.wait_for(has_event("ApplyFailed"))
        failed = watch.wait_for(has_event("RemediationFailed"), timeout=30)
        assert "attempt 1/2" in json.dumps(failed["events"])
        exhausted = watch.wait_for(has_event("RemediationExhausted"), timeout=30)
        healthy = next(c for c in exhausted["status"]["conditions"] if c["type"] == "Healthy")
        assert healthy["reason"] == "RemediationExhausted"
        assert exhausted["status"]["remediation"]["attempts"] == 2
        assert len(exhausted["status"]["remediation"]["history"]) == 2


def test_sigint_says_it_stopped(workdir: Path) -> None:
    manifest = write_resources(workdir / "m.yaml", file_resource("a", path=str(workdir / "a.txt"), content="a"))
    with watching(workdir, manifest) as watch:
        watch.wait_for(lambda r: r["resource"] == "File/default/a" and r["ok"])
        watch.proc.send_signal(signal.SIGINT)
        assert watch.proc.wait(timeout=15) == 0
        assert watch.proc.stderr is not None
        assert "watch stopped: SIGINT received" in watch.proc.stderr.read()


def test_an_unchanged_outcome_is_said_once_and_for_bounds_the_run(cli: CliRunner, workdir: Path) -> None:
    blocker = workdir / "blocker"
    blocker.write_text("a file where a directory should be")
    stuck = file_resource("stuck", path=str(blocker / "x.txt"), content="x", health={"intervalSeconds": 1},
                          remediation={"maxAttempts": 1, "backoffSeconds": 1})  # fmt: skip
    manifest = write_resources(workdir / "m.yaml", stuck)
    result = cli("watch", "-f", str(manifest), "--for", "25s", timeout=90)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("RemediationExhausted" in line for line in lines), result.stdout
    said = [line.split(" ", 1)[1] for line in lines]  # without the time stamp
    assert sum(line.startswith("monitor File/default/stuck: gave up after 1") for line in said) == 1, result.stdout
    assert "watch stopped: ran for 25s (--for)" in result.stderr


@pytest.mark.parametrize("duration", ["10x", "0s", "-5s", "1.5m", "m", ""])
def test_a_bad_duration_is_bad_input(cli: CliRunner, workdir: Path, duration: str) -> None:
    target = workdir / "a.txt"
    manifest = write_resources(workdir / "m.yaml", file_resource("a", path=str(target), content="a"))
    result = cli("watch", "-f", str(manifest), "--for", duration, timeout=30)
    assert result.code == 2, result.stdout + result.stderr
    assert "--for" in result.stderr and "90s" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()
