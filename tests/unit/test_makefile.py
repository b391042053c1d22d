"""The Makefile's two front doors: `make demo` installs the runtime package only, `make test`
(through `venv`) adds the dev extras on top, whichever ran first. Dry runs, nothing installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO


def dry_run(target: str, venv: Path) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", "-C", str(REPO), target, f"VENV={venv}", "PYTHON=python3"],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return [line for line in done.stdout.splitlines() if "venv-install.sh" in line]


def test_demo_installs_the_runtime_package_only(tmp_path: Path) -> None:
    assert dry_run("demo", tmp_path / "venv") == [f"./scripts/venv-install.sh {tmp_path / 'venv'} python3 ."]


def test_the_dev_venv_is_the_runtime_one_plus_the_dev_extras(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert dry_run("venv", venv) == [
        f"./scripts/venv-install.sh {venv} python3 .",
        f"./scripts/venv-install.sh {venv} python3 '.[dev]'",
    ]


def test_after_demo_the_tests_add_only_the_dev_extras(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".runtime-stamp").touch()  # as make demo leaves it (newer than pyproject.toml here)
    assert dry_run("demo", venv) == []
    assert dry_run("venv", venv) == [f"./scripts/venv-install.sh {venv} python3 '.[dev]'"]
