"""Nothing a user had is lost on a real sshd edge node: apply then destroy over files and
folders that were already there leave each exactly as it was.

Covers, on a node of the lab (its own /srv and /var/lib/clockwork): a file replaced and
restored with content, mode and owner; a directory changed recursively and restored;
a completer-free symlink escape on the node (a user's path is theirs; see the hostile
suite for a model's); the claim records live on the node, not on the machine running
Clockwork.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLOCKWORK
from tests.helpers import snapshot
from tests.support.edge_lab import EdgeLab, isolated_lab

pytestmark = pytest.mark.integration


@pytest.fixture
def lab1() -> Any:
    with isolated_lab(1) as lab:
        yield lab


def run(lab: EdgeLab, workdir: Path, command: str, *docs: dict[str, Any]) -> tuple[int, Any]:
    manifest = workdir / "node.yaml"
    manifest.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    proc = subprocess.run(lab.control([CLOCKWORK, command, "-f", str(manifest), "-o", "json"]), cwd=workdir,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip().startswith("[") else proc.stdout


def test_apply_then_destroy_over_existing_things_leaves_the_node_as_it_was(lab1: EdgeLab, tmp_path: Path) -> None:
    node = lab1.nodes[0]
    workdir = tmp_path / "work"
    workdir.mkdir()
    site = node.path("/srv/site")
    (site / "conf").mkdir(parents=True)
    (site / "conf" / "app.ini").write_text("port = 1\n")
    os.chmod(site / "conf" / "app.ini", 0o640)
    os.chown(site / "conf" / "app.ini", 1234, 2345)
    (site / "conf" / "notes.txt").write_text("mine\n")
    os.chmod(site / "conf", 0o700)
    before = snapshot(site)
    edge = {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "EdgeNode",
        "metadata": {"name": node.name},
        "spec": {"address": node.address, "sshKeyFile": str(lab1.client_key), "connectTimeoutSeconds": 5},
    }
    on_node = {"target": {"nodeName": node.name}}
    docs = [
        edge,
        {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "ini"},
         "spec": {"path": "/srv/site/conf/app.ini", "content": "port = 2\n", **on_node}},
        {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Directory", "metadata": {"name": "conf"},
         "spec": {"path": "/srv/site/conf", "mode": "0755", "owner": "root", "recursive": True, **on_node}},
        {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "new"},
         "spec": {"path": "/srv/site/made/by/clockwork.txt", "content": "new\n", **on_node}},
    ]  # fmt: skip
    code, applied = run(lab1, workdir, "apply", *docs)
    assert code == 0, applied
    assert (site / "conf" / "app.ini").read_text() == "port = 2\n"
    assert (site / "conf").stat().st_mode & 0o777 == 0o755
    # The records are on the node (its own /var/lib/clockwork), not here.
    assert list(node.path("/var/lib/clockwork/claims").iterdir())
    assert not (workdir / ".clockwork" / "node").exists()
    code, destroyed = run(lab1, workdir, "destroy", *docs)
    assert code == 0, destroyed
    assert snapshot(site) == before
    assert list(node.path("/var/lib/clockwork/claims").iterdir()) == []
