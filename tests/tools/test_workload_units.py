"""Workload units and timers as systemd itself reads them (`systemd-analyze verify`).

Every Workload compile case is written into a throw-away root (with this machine's
own unit library, so targets resolve) and verified; any warning fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from clockwork import compile as compiler
from clockwork import kinds
from clockwork.api.registry import KINDS
from clockwork.completion.pipeline import with_defaults

CASES = sorted((Path(__file__).parents[1] / "unit" / "compile" / "cases" / "workload").glob("*.yaml"))
assert CASES, "the Workload compile cases moved"
SYSTEM_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)
pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or SYSTEM_UNITS is None,
    reason="systemd-analyze and a systemd unit library are needed (Debian: package systemd)",
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert SYSTEM_UNITS is not None
    root = tmp_path_factory.mktemp("systemd-lib")
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    return root


def _root(library: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(library, root, symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    return root


def _install(root: Path, spec: dict[str, Any]) -> list[str]:
    """Write what the compiled operations would put on a node; the unit names written."""
    info = KINDS["Workload"]
    resolved = info.resolved_model.model_validate(with_defaults(info, spec).completed)
    units = []
    for op in compiler.compile_apply(kinds.KINDS["Workload"].compiler, resolved):
        if op.op == "clockwork.put":
            path = root / str(op.args["dest"]).lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(op.args["content"]))
            path.chmod(0o755)
        elif op.op == "clockwork.systemd_unit":
            (root / "etc/systemd/system" / str(op.args["unit"])).write_text(str(op.args["content"]))
            units.append(str(op.args["unit"]))
    return units


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", unit], capture_output=True, text=True, timeout=60
    )


PRESENT = [c for c in CASES if yaml.safe_load(c.read_text())["spec"].get("present", True)]


@pytest.mark.parametrize("case", PRESENT, ids=lambda c: c.stem)
def test_units_verify_cleanly(case: Path, library: Path, tmp_path: Path) -> None:
    root = _root(library, tmp_path)
    units = _install(root, yaml.safe_load(case.read_text())["spec"])
    assert units, "a present Workload installs at least one unit"
    for unit in units:
        result = _verify(root, unit)
        assert result.returncode == 0 and not result.stderr.strip(), f"{unit}: {result.stderr}"
    wrapper = next(root.glob("usr/local/lib/clockwork/workloads/*/run.sh"))
    syntax = subprocess.run(["sh", "-n", str(wrapper)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_a_broken_unit_is_caught(library: Path, tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported."""
    root = _root(library, tmp_path)
    (unit,) = _install(root, {"name": "x", "command": "true"})
    path = root / "etc/systemd/system" / unit
    path.write_text(path.read_text().replace("RestartSec=", "RestartSecs="))
    assert "Unknown key" in _verify(root, unit).stderr
