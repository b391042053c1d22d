"""Catalogue kinds on a real systemd node over SSH, through the real `clockwork` command.

User, Package and Directory; Workloads in the three run modes (a forever service
restarted by systemd with its runs in status, nTimes stopping after maxRuns, a
schedule as an active timer) with a logContains check on the unit's journal;
a GitRepo cloned over SSH from a repository on the node; destroy leaves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources
from tests.systemd.conftest import SystemdNode

pytestmark = pytest.mark.integration
ON_NODE = {"target": {"nodeName": "pi"}}


def until(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout}s")


def outcomes(result: Any) -> dict[str, dict[str, Any]]:
    return {o["resource"].split("/", 2)[0] + "/" + o["resource"].split("/")[-1]: o for o in result.json()}


def test_user_package_directory(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    manifest = write_resources(
        workdir / "base.yaml",
        systemd_node.edge_node(),
        resource("User", "deploy", home="/home/deploy", shell="/bin/sh", groups=["adm"], **ON_NODE),
        resource("Package", "tools", names=["jq"], update=True, **ON_NODE),
        resource("Directory", "data", path="/srv/data", owner="deploy", mode="0750",
                 dependsOn=[{"kind": "User", "name": "deploy"}], **ON_NODE),
    )  # fmt: skip
    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=600)
    assert applied.code == 0, applied.stdout[-3000:]
    assert systemd_node.sh("getent passwd deploy").stdout.strip() == "deploy:x:1000:1000::/home/deploy:/bin/sh"
    assert "adm" in systemd_node.sh("id -nG deploy").stdout
    assert systemd_node.sh("jq --version").returncode == 0
    assert systemd_node.sh("stat -c '%U %a' /srv/data").stdout.strip() == "deploy 750"

    systemd_node.sh("usermod -s /bin/bash deploy")
    drifted = cli("assert", "-f", str(manifest), "-o", "json", timeout=300)
    assert drifted.code == 1
    assert "account" in outcomes(drifted)["User/deploy"]["message"]

    destroyed = cli("destroy", "-f", str(manifest), "-o", "json", timeout=600)
    assert destroyed.code == 0, destroyed.stdout[-3000:]
    assert systemd_node.sh("getent passwd deploy").returncode == 2
    assert systemd_node.sh("command -v jq").returncode != 0
    assert systemd_node.sh("test -e /srv/data").returncode != 0


def test_workload_run_modes(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    manifest = write_resources(
        workdir / "work.yaml",
        systemd_node.edge_node(),
        resource("Workload", "agent", command="echo agent-started; exec sleep 600", restartDelaySeconds=1,
                 memoryLimitMb=64, cpuNice=10, env={"MODE": "edge"}, **ON_NODE,
                 health={"assertions": [{"type": "logContains", "unit": "clockwork-agent.service",
                                         "pattern": "agent-started"},
                                        {"type": "processRunning", "pattern": "^sleep 600$"}]}),
        resource("Workload", "warmup", type="script", command="echo warm", runMode="nTimes", maxRuns=3,
                 restartDelaySeconds=1, **ON_NODE),
        resource("Workload", "nightly", type="script", command="echo nightly-ran", runMode="schedule",
                 schedule="30 2 * * *", **ON_NODE),
    )  # fmt: skip
    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=600)
    assert applied.code == 0, {k: o["message"] for k, o in outcomes(applied).items()}

    sh = systemd_node.sh
    assert sh("systemctl is-active clockwork-agent.service").stdout.strip() == "active"
    props = sh("systemctl show clockwork-agent.service -p MemoryMax -p Nice -p Environment").stdout
    assert "MemoryMax=67108864" in props and "Nice=10" in props and "MODE=edge" in props

    # forever: a run that ends is restarted by systemd, and recorded
    sh("pkill -x sleep")
    until(lambda: sh("wc -l < /var/lib/clockwork/workloads/agent/history").stdout.strip() == "1", "run recorded")
    until(lambda: sh("systemctl is-active clockwork-agent.service").stdout.strip() == "active", "restarted")

    # nTimes: three runs, then the unit stays down without counting as failed
    until(lambda: sh("cat /var/lib/clockwork/workloads/warmup/runs").stdout.strip() == "3", "three runs")
    until(lambda: sh("systemctl is-active clockwork-warmup.service").stdout.strip() == "inactive", "stopped")
    assert sh("wc -l < /var/lib/clockwork/workloads/warmup/history").stdout.strip() == "3"

    # schedule: an active timer at the translated time; a run by hand is recorded too
    assert sh("systemctl is-active clockwork-nightly.timer").stdout.strip() == "active"
    assert "*-*-* 02:30:00" in sh("systemctl show clockwork-nightly.timer -p TimersCalendar").stdout
    assert sh("systemctl start clockwork-nightly.service").returncode == 0

    checked = cli("assert", "-f", str(manifest), "-o", "json", timeout=300)
    assert checked.code == 0, checked.stdout[-3000:]
    found = outcomes(checked)
    agent_runs = found["Workload/agent"]["status"]["runs"]
    assert len(agent_runs) == 1 and agent_runs[0]["exitCode"] != 0  # killed by a signal
    assert [r["exitCode"] for r in found["Workload/warmup"]["status"]["runs"]] == [0, 0, 0]
    assert [r["exitCode"] for r in found["Workload/nightly"]["status"]["runs"]] == [0]

    sh("systemctl stop clockwork-agent.service")
    down = cli("assert", "-f", str(manifest), "-o", "json", timeout=300)
    assert down.code == 1 and "Workload/agent" in [k for k, o in outcomes(down).items() if not o["ok"]]

    assert cli("destroy", "-f", str(manifest), timeout=600).code == 0
    left = sh("ls /etc/systemd/system | grep clockwork- ; ls /var/lib/clockwork/workloads 2>/dev/null").stdout
    assert left.strip() == ""


def test_gitrepo_over_ssh(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    sh = systemd_node.sh
    made = sh(
        "rm -rf /srv/git /tmp/w && git init -q --bare -b main /srv/git/app.git && git init -q -b main /tmp/w && "
        "cd /tmp/w && echo v1 > VERSION && git add VERSION && "
        "git -c user.name=t -c user.email=t@t commit -q -m v1 && git tag v1 && "
        "git push -q /srv/git/app.git main v1"
    )
    assert made.returncode == 0, made.stderr
    manifest = write_resources(
        workdir / "git.yaml",
        systemd_node.edge_node(),
        resource("GitRepo", "app", url="file:///srv/git/app.git", ref="v1", dest="/opt/app", **ON_NODE),
    )
    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=300)
    assert applied.code == 0, applied.stdout[-3000:]
    assert sh("cat /opt/app/VERSION").stdout == "v1\n"
    assert cli("assert", "-f", str(manifest)).code == 0
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert sh("test -e /opt/app").returncode != 0
