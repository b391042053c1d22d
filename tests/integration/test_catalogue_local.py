"""Catalogue kinds in local mode through the real `clockwork` command on @local.

Directory (mode drift caught and fixed), GitRepo against real repositories made
here (clone, a moved branch caught by health and followed by apply, a pinned
commit, a wrong revision detected, destroy), and dependsOn (apply order across
files, a cycle refused with its name, destroy in reverse, a dependency that is
still needed is not destroyed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources

pytestmark = pytest.mark.integration


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def commit(work: Path, name: str, text: str) -> str:
    (work / name).write_text(text)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", f"{name}: {text}", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def test_directory_mode_drift_is_caught_and_fixed(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    target = tmp_path / "data" / "cache"
    manifest = write_resources(workdir / "d.yaml", resource("Directory", "cache", path=str(target), mode="0750"))
    assert cli("apply", "-f", str(manifest)).code == 0
    assert target.is_dir() and oct(target.stat().st_mode & 0o777) == "0o750"
    assert cli("assert", "-f", str(manifest)).code == 0
    target.chmod(0o777)
    drifted = cli("assert", "-f", str(manifest), "-o", "json")
    assert drifted.code == 1 and "mode is 0777, want 0750" in drifted.json()[0]["message"]
    assert cli("apply", "-f", str(manifest)).code == 0
    assert oct(target.stat().st_mode & 0o777) == "0o750"
    (target / "inside.txt").write_text("content goes with it")
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert not target.exists()


def test_gitrepo_follows_a_branch_pins_a_commit_and_sees_a_wrong_revision(
    cli: CliRunner, workdir: Path, tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    work = tmp_path / "work-copy"
    git("clone", "-q", str(origin), str(work), cwd=tmp_path)
    first = commit(work, "VERSION", "1\n")
    dest = tmp_path / "srv" / "app"
    manifest = write_resources(
        workdir / "g.yaml", resource("GitRepo", "app", url=f"file://{origin}", ref="main", dest=str(dest))
    )

    applied = cli("apply", "-f", str(manifest))
    assert applied.code == 0, applied.stdout + applied.stderr
    assert (dest / "VERSION").read_text() == "1\n"
    assert cli("assert", "-f", str(manifest)).code == 0

    second = commit(work, "VERSION", "2\n")  # the branch moves on the remote
    behind = cli("assert", "-f", str(manifest), "-o", "json")
    assert behind.code == 1 and f"at {first}, want main ({second})" in behind.json()[0]["message"]
    assert cli("apply", "-f", str(manifest)).code == 0
    assert (dest / "VERSION").read_text() == "2\n"
    assert cli("assert", "-f", str(manifest)).code == 0

    pinned = write_resources(
        workdir / "g.yaml", resource("GitRepo", "app", url=f"file://{origin}", ref=first, dest=str(dest))
    )
    assert cli("apply", "-f", str(pinned)).code == 0
    assert git("rev-parse", "HEAD", cwd=dest) == first and (dest / "VERSION").read_text() == "1\n"
    git("checkout", "-q", second, cwd=dest)  # someone moved it by hand
    wrong = cli("assert", "-f", str(pinned), "-o", "json")
    assert wrong.code == 1 and f"at {second}, want {first}" in wrong.json()[0]["message"]

    assert cli("destroy", "-f", str(pinned)).code == 0
    assert not dest.exists()


def test_depends_on_orders_apply_and_destroy(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    config = folder / "app.conf"
    # The File comes first in the file but needs the Directory (mode 0700, so the
    # File's own parent-creation could not stand in for it).
    write_resources(
        workdir / "app.yaml",
        resource("File", "conf", path=str(config), content="x=1\n",
                 dependsOn=[{"kind": "Directory", "name": "app"}]),
        resource("Directory", "app", path=str(folder), mode="0700"),
    )  # fmt: skip
    applied = cli("apply", "-f", str(workdir / "app.yaml"), "-o", "json")
    assert applied.code == 0, applied.stdout
    assert [o["resource"] for o in applied.json()] == ["Directory/default/app", "File/default/conf"]
    assert config.read_text() == "x=1\n" and oct(folder.stat().st_mode & 0o777) == "0o700"

    only_dir = write_resources(workdir / "dir.yaml", resource("Directory", "app", path=str(folder), mode="0700"))
    refused = cli("destroy", "-f", str(only_dir), "-o", "json")
    assert refused.code != 0 and "still needed by File/conf" in refused.json()[0]["message"]
    assert folder.exists()

    destroyed = cli("destroy", "-f", str(workdir / "app.yaml"), "-o", "json")
    assert destroyed.code == 0
    assert [o["resource"] for o in destroyed.json()] == ["File/default/conf", "Directory/default/app"]
    assert not folder.exists()


def test_a_dependency_that_fails_holds_back_its_dependents(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    manifest = write_resources(
        workdir / "m.yaml",
        resource("Directory", "base", path=str(blocker / "sub")),
        resource("File", "inside", path=str(tmp_path / "other.txt"), content="x",
                 dependsOn=[{"kind": "Directory", "name": "base"}]),
    )  # fmt: skip
    result = cli("apply", "-f", str(manifest), "-o", "json")
    assert result.code == 1
    base, inside = result.json()
    assert not base["ok"] and not inside["ok"]
    assert "waiting for dependencies (not Ready yet: Directory/base)" in inside["message"]
    assert not (tmp_path / "other.txt").exists()


def test_a_dependency_cycle_is_refused_before_anything_runs(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    manifest = write_resources(
        workdir / "m.yaml",
        resource("File", "a", path=str(tmp_path / "a"), content="a", dependsOn=[{"kind": "File", "name": "b"}]),
        resource("File", "b", path=str(tmp_path / "b"), content="b", dependsOn=[{"kind": "File", "name": "a"}]),
    )
    result = cli("apply", "-f", str(manifest))
    assert result.code == 2
    assert "dependsOn has a cycle: File/default/a -> File/default/b -> File/default/a" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
