"""Shared fixtures: the real ``clockwork`` command in a scratch working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLOCKWORK = str(Path(sys.executable).with_name("clockwork"))
REPO = Path(__file__).resolve().parents[1]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


CliRunner = Callable[..., CliResult]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--e2e", action="store_true", default=False, help="run the kind end-to-end tests")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def cli(workdir: Path) -> CliRunner:
    """Run the installed ``clockwork`` command as a separate process in ``workdir``."""

    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> CliResult:
        proc = subprocess.run(
            [CLOCKWORK, *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(autouse=True, scope="session")
def _no_real_model_requests() -> None:
    """No test may reach a real model provider by accident (pydantic-ai's own switch)."""
    import pydantic_ai.models

    pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
