"""Catalogue kinds and dependsOn in operator mode: the real operator process, the emulator.

A File that depends on a Directory waits (Applied=False, WaitingForDependencies)
until the Directory exists and is Ready, then converges; deleting the Directory
while the File still needs it waits for the File; a GitRepo from a real repository
and a Container on the real Docker engine converge and are removed on delete.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.operator.conftest import OperatorLauncher
from tests.support.docker_lab import HTTP_IMAGE, docker, docker_ready
from tests.support.kubeapi import Kube

pytestmark = pytest.mark.integration


def obj(kind: str, name: str, /, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def condition(kube: Kube, plural: str, name: str, type_: str) -> tuple[str, str] | None:
    found = kube.find(plural, name)
    for c in ((found or {}).get("status") or {}).get("conditions", []):
        if c["type"] == type_:
            return c["status"], c["reason"]
    return None


def test_depends_on_waits_then_converges_and_delete_waits_for_dependents(
    kube: Kube, operator: OperatorLauncher, tmp_path: Path
) -> None:
    folder = tmp_path / "app"
    operator.start()
    kube.create("files", obj("File", "conf", path=str(folder / "app.conf"), content="x=1\n",
                             dependsOn=[{"kind": "Directory", "name": "app"}]))  # fmt: skip
    kube.wait_for(
        "File waits for its Directory",
        lambda: condition(kube, "files", "conf", "Applied") == ("False", "WaitingForDependencies"),
    )
    waiting = kube.get("files", "conf")["status"]["conditions"]
    assert "not found: Directory/app" in next(c["message"] for c in waiting if c["type"] == "Ready")
    assert not folder.exists()

    kube.create("directories", obj("Directory", "app", path=str(folder), mode="0700"))
    kube.wait_for("Directory Ready", lambda: condition(kube, "directories", "app", "Ready") == ("True", "Ready"))
    kube.wait_for("File Ready", lambda: condition(kube, "files", "conf", "Ready") == ("True", "Ready"), timeout=60)
    assert (folder / "app.conf").read_text() == "x=1\n" and oct(folder.stat().st_mode & 0o777) == "0o700"

    kube.delete("directories", "app")
    kube.wait_for(
        "delete waits for the dependent",
        lambda: "WaitingForDependents" in [e["reason"] for e in kube.events("app")],
    )
    assert folder.exists() and kube.find("directories", "app") is not None
    kube.delete("files", "conf")
    kube.wait_for("both gone", lambda: kube.find("directories", "app") is None, timeout=60)
    assert not folder.exists()


def test_gitrepo(kube: Kube, operator: OperatorLauncher, tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    (origin / "VERSION").write_text("1\n")
    subprocess.run(["git", "-C", str(origin), "add", "VERSION"], check=True)
    subprocess.run(
        ["git", "-C", str(origin), "commit", "-q", "-m", "1"], check=True, env={**env, "PATH": "/usr/bin:/bin"}
    )
    dest = tmp_path / "checkout"
    operator.start()
    kube.create("gitrepos", obj("GitRepo", "src", url=f"file://{origin}", ref="main", dest=str(dest)))
    kube.wait_for("GitRepo Ready", lambda: condition(kube, "gitrepos", "src", "Ready") == ("True", "Ready"))
    assert (dest / "VERSION").read_text() == "1\n"
    kube.delete("gitrepos", "src")
    kube.wait_for("GitRepo gone", lambda: kube.find("gitrepos", "src") is None)
    assert not dest.exists()


def test_container(kube: Kube, operator: OperatorLauncher) -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(f"Docker cannot be used here: {reason}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = f"cw-op-{uuid.uuid4().hex[:8]}"
    operator.start()
    try:
        kube.create("containers", obj("Container", "web", name=name, image=HTTP_IMAGE, httpCheck={"path": "/healthz"},
                                      ports=[{"host": port, "container": 8080, "hostIp": "127.0.0.1"}]))  # fmt: skip
        kube.wait_for("Container Ready", lambda: condition(kube, "containers", "web", "Ready") == ("True", "Ready"))
        assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
        kube.delete("containers", "web")
        kube.wait_for("Container gone", lambda: kube.find("containers", "web") is None)
        assert docker("container", "inspect", name).returncode != 0
    finally:
        docker("rm", "-f", name)
