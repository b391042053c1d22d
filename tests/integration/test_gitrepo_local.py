"""GitRepo on this machine against real git repositories.

Covers: without ref, a checkout of a remote whose `git ls-remote origin HEAD` prints two
lines (a non-bare remote that has its own origin/HEAD) is healthy; a checkout that fell
behind the remote's branch is named in one line, not a pasted script.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources

pytestmark = pytest.mark.integration


def git(*args: str, cwd: Path | None = None) -> str:
    base = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "init.defaultBranch=main"]
    return subprocess.run([*base, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_a_remote_with_its_own_origin_head(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    git("init", "-q", str(first))
    (first / "README").write_text("one\n")
    git("add", ".", cwd=first)
    git("commit", "-q", "-m", "one", cwd=first)
    remote = tmp_path / "remote"
    git("clone", "-q", str(first), str(remote))  # non-bare, with refs/remotes/origin/HEAD
    lines = git("ls-remote", str(remote), "HEAD").strip().splitlines()
    assert len(lines) == 2, lines  # the case that made the check fail
    dest = workdir / "app"
    manifest = write_resources(workdir / "g.yaml", resource("GitRepo", "app", url=f"file://{remote}", dest=str(dest)))
    applied = cli("apply", "-f", str(manifest), "-o", "json")
    assert applied.code == 0, applied.stdout[-2000:]
    (remote / "README").write_text("two\n")
    git("commit", "-q", "-am", "two", cwd=remote)
    behind = cli("assert", "-f", str(manifest), "-o", "json")
    assert behind.code == 1
    message = behind.json()[0]["message"]
    assert "the revision check exited 1, want 0: at " in message and ", want the default branch (" in message
    assert len(message) < 400 and "ls-remote" not in message
