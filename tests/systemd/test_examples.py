"""Every example under manifests/examples/ applied for real, then destroyed.

Local examples run on this machine as written, but for /tmp: what they put there goes
to the test's own folder (a `make demo` beside the tests writes the real paths).
Examples for `site: berlin` nodes run on the systemd node (it stands in for
edgenode.yaml's node). What this machine cannot reach is stood in for, and only that:
registry images are the catalogue's images built from Debian's packages under the same
tags (scripts/docker/offline-catalogue-images.sh), and the GitRepo's https URL points at
a repository on the node.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, CliRunner
from tests.systemd.conftest import SystemdNode

pytestmark = pytest.mark.integration
EXAMPLES = REPO / "manifests" / "examples"
LOCAL = ["quickstart.yaml", "file.yaml", "directory.yaml"]
ON_DOCKER = ["container.yaml", "app-with-redis.yaml"]
ON_NODES = ["user.yaml", "package.yaml", "gitrepo.yaml", "workload.yaml", "rollout.yaml", "task.yaml", "workflow.yaml"]
# With real images built from Debian packages, in its own test (tests/docker/test_monitored_service.py).
ELSEWHERE = ["monitored-service.yaml", "edgenode.yaml"]


def test_every_example_is_covered_here() -> None:
    assert {p.name for p in EXAMPLES.glob("*.yaml")} == {*LOCAL, *ON_DOCKER, *ON_NODES, *ELSEWHERE}


@pytest.fixture
def stand_in_images(systemd_node: SystemdNode) -> None:
    """The catalogue's images, built from Debian's packages where no registry can be reached."""
    script = REPO / "scripts" / "docker" / "offline-catalogue-images.sh"
    built = subprocess.run([str(script)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def on_this_machine(name: str, workdir: Path) -> str:
    """The example as written; what a local one puts under /tmp goes to this test's own folder
    instead, so that a `make demo` or another Clockwork's tests on this machine are left alone."""
    text = (EXAMPLES / name).read_text()
    if name in LOCAL:
        assert "/tmp/" in text, f"{name} no longer writes under /tmp: drop the rewrite"
        text = text.replace("/tmp/", f"{workdir}/tmp/")
    copy = workdir / name
    copy.write_text(text)
    return str(copy)


@pytest.mark.parametrize("name", LOCAL + ON_DOCKER)
def test_local_examples(name: str, cli: CliRunner, workdir: Path, stand_in_images: None) -> None:
    path = on_this_machine(name, workdir)
    try:
        applied = cli("apply", "-f", path, "-o", "json", timeout=300)
        assert applied.code == 0, [(o["resource"], o["message"]) for o in applied.json()]
        assert cli("assert", "-f", path).code == 0
    finally:
        assert cli("destroy", "-f", path, timeout=300).code == 0


def test_node_examples(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    sh = systemd_node.sh
    made = sh(
        "rm -rf /srv/git /tmp/w && git init -q --bare -b main /srv/git/app.git && git init -q -b main /tmp/w && "
        "cd /tmp/w && echo v1 > VERSION && git add VERSION && git -c user.name=t -c user.email=t@t commit -q -m v1"
        " && git tag v3.5 && git push -q /srv/git/app.git main v3.5"
    )
    assert made.returncode == 0, made.stderr
    node, *rest = docs("edgenode.yaml")
    node["spec"] = {k: v for k, v in node["spec"].items() if k not in ("sshKeySecret", "hostKey", "address")}
    node["spec"].update(systemd_node.edge_node()["spec"])  # type: ignore[arg-type]
    everything = [node, *rest]
    for name in ON_NODES:
        for doc in docs(name):
            if doc["kind"] == "GitRepo":
                doc["spec"]["url"] = "file:///srv/git/app.git"
            everything.append(doc)
    manifest = workdir / "nodes.yaml"
    manifest.write_text(yaml.safe_dump_all(everything))
    try:
        applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=900)
        assert applied.code == 0, [(o["resource"], o["message"]) for o in applied.json() if not o["ok"]]
        assert sh("cat /opt/app-src/VERSION").stdout == "v1\n"
        assert sh("cat /srv/clockwork/banner.txt").stdout == "Berlin shop window\n"
        assert sh("cat /srv/shop/VERSION").stdout == "1.4.2\n"
        assert sh("systemctl is-active clockwork-shop-agent.service").stdout.strip() == "active"
        found = {o["resource"]: o["status"] for o in applied.json()}
        assert found["Task/default/snapshot"]["phase"] == "Succeeded"
        assert "snapshot taken on" in found["Task/default/snapshot"]["output"]
        steps = found["Workflow/default/nightly-capture"]["steps"]
        assert [s["phase"] for s in steps] == ["Succeeded"] * 3 and "last capture at" in steps[2]["output"]
        assert sh("systemctl is-active clockwork-sensor-agent.service").stdout.strip() == "active"
    finally:
        assert cli("destroy", "-f", str(manifest), timeout=900).code == 0
    assert sh("test -e /srv/shop/VERSION || test -e /etc/systemd/system/clockwork-shop-agent.service").returncode != 0
