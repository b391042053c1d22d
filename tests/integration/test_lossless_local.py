"""Nothing a user had is lost: apply then destroy over what was already there, on this
machine's real file system, through the real `clockwork` command.

Covers: a file replaced (backup) comes back with its content, mode and owner; one
outside the allowed roots is refused until onExisting says backup; present: false
keeps the removed file aside and destroy brings it back; a directory's modes and
owners (recursively) are put back; a directory Clockwork made that someone filled
is kept aside, not deleted; parent folders apply made are removed again; a symlink at
the path is replaced, its target untouched, and put back; an existing checkout is
moved aside and returned; two resources cannot claim one file; plan says beforehand
what apply will do.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, snapshot, write_resources

pytestmark = pytest.mark.integration


def apply(cli: CliRunner, manifest: Path, env: dict[str, str] | None = None) -> Any:
    result = cli("apply", "-f", str(manifest), "-o", "json", env=env)
    return result


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder that was there before Clockwork: files with their own modes and owners."""
    root = tmp_path / "site"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.ini").write_text("[app]\nport = 1\n")
    os.chmod(root / "conf" / "app.ini", 0o600)
    os.chown(root / "conf" / "app.ini", 1234, 2345)
    (root / "conf" / "extra.txt").write_text("keep me\n")
    os.chmod(root / "conf", 0o750)
    os.chown(root / "conf", 1234, 2345)
    (root / "shared.txt").write_text("the real thing\n")
    (root / "link.txt").symlink_to(root / "shared.txt")
    return root


def test_a_replaced_file_comes_back_exactly(cli: CliRunner, workdir: Path, site: Path) -> None:
    before = snapshot(site)
    manifest = write_resources(workdir / "f.yaml", resource("File", "ini", path=str(site / "conf" / "app.ini"),
                                                            content="[app]\nport = 2\n"))  # fmt: skip
    planned = cli("plan", "-f", str(manifest))
    assert "replaces the existing file" in planned.stdout and "destroy puts it back" in planned.stdout
    applied = apply(cli, manifest)
    assert applied.code == 0, applied.stdout[-2000:]
    assert (site / "conf" / "app.ini").read_text() == "[app]\nport = 2\n"
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert snapshot(site) == before


def test_a_file_outside_the_allowed_roots_is_refused_until_the_spec_says(
    cli: CliRunner, workdir: Path, site: Path
) -> None:
    before = snapshot(site)
    env = {"CW_ALLOWED_ROOTS": "/srv/elsewhere"}  # the site is outside: like /etc/passwd
    path = str(site / "shared.txt")
    manifest = write_resources(workdir / "f.yaml", resource("File", "sys", path=path, content="pwned\n"))
    refused = apply(cli, manifest, env)
    assert refused.code == 1
    message = refused.json()[0]["message"]
    assert f"spec.path: {path} already exists as a file" in message
    assert "Clockwork did not create it; nothing was changed. Set spec.onExisting: backup" in message
    assert snapshot(site) == before
    manifest = write_resources(workdir / "f.yaml", resource("File", "sys", path=path, content="ours\n",
                                                            onExisting="backup"))  # fmt: skip
    assert apply(cli, manifest, env).code == 0
    assert (site / "shared.txt").read_text() == "ours\n"
    assert cli("destroy", "-f", str(manifest), env=env).code == 0
    assert snapshot(site) == before


def test_a_removed_file_is_kept_aside_and_destroy_brings_it_back(cli: CliRunner, workdir: Path, site: Path) -> None:
    before = snapshot(site)
    manifest = write_resources(workdir / "f.yaml", resource("File", "gone", path=str(site / "conf" / "app.ini"),
                                                            present=False))  # fmt: skip
    assert apply(cli, manifest).code == 0
    assert not (site / "conf" / "app.ini").exists()
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert snapshot(site) == before


def test_directory_modes_and_owners_come_back_recursively(cli: CliRunner, workdir: Path, site: Path) -> None:
    before = snapshot(site)
    conf = resource("Directory", "conf", path=str(site / "conf"), mode="0755", owner="root", group="root",
                    recursive=True)  # fmt: skip
    manifest = write_resources(workdir / "d.yaml", conf)
    assert apply(cli, manifest).code == 0
    assert (site / "conf" / "app.ini").stat().st_uid == 0
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert snapshot(site) == before


def test_what_someone_put_in_a_directory_clockwork_made_is_kept(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    made = tmp_path / "made"
    manifest = write_resources(workdir / "d.yaml", resource("Directory", "made", path=str(made)))
    assert apply(cli, manifest).code == 0
    (made / "notes.txt").write_text("mine\n")
    destroyed = cli("destroy", "-f", str(manifest), "-o", "json")
    assert destroyed.code == 0
    assert not made.exists()
    kept = list((workdir / ".clockwork" / "node" / "kept").glob("*/notes.txt"))
    assert [p.read_text() for p in kept] == ["mine\n"]
    events = [e for o in destroyed.json() for e in o["events"]]
    assert any(e["reason"] == "Kept" and str(made) in e["message"] for e in events)


def test_parent_folders_apply_made_go_with_destroy(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c.txt"
    manifest = write_resources(workdir / "f.yaml", resource("File", "deep", path=str(deep), content="x\n"))
    assert apply(cli, manifest).code == 0 and deep.read_text() == "x\n"
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert not (tmp_path / "a").exists()


def test_a_symlink_at_the_path_is_replaced_not_written_through(cli: CliRunner, workdir: Path, site: Path) -> None:
    before = snapshot(site)
    manifest = write_resources(workdir / "f.yaml", resource("File", "l", path=str(site / "link.txt"), content="new\n"))
    assert apply(cli, manifest).code == 0
    assert not (site / "link.txt").is_symlink() and (site / "link.txt").read_text() == "new\n"
    assert (site / "shared.txt").read_text() == "the real thing\n"
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert snapshot(site) == before


def test_an_existing_checkout_is_moved_aside_and_returned(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    subprocess.run(["git", "init", "-q", "-b", "main", str(upstream)], check=True)
    (upstream / "README").write_text("upstream\n")
    git = ["git", "-C", str(upstream), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "local.txt").write_text("a user's work\n")
    before = snapshot(dest)
    manifest = write_resources(workdir / "g.yaml", resource("GitRepo", "app", url=f"file://{upstream}",
                                                            dest=str(dest)))  # fmt: skip
    assert apply(cli, manifest).code == 0
    assert (dest / "README").read_text() == "upstream\n" and not (dest / "local.txt").exists()
    assert cli("destroy", "-f", str(manifest)).code == 0
    assert snapshot(dest) == before


def test_two_resources_cannot_own_one_file(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "one.txt")
    first = write_resources(workdir / "a.yaml", resource("File", "first", path=path, content="1\n"))
    second = write_resources(workdir / "b.yaml", resource("File", "second", path=path, content="2\n"))
    assert apply(cli, first).code == 0
    clash = apply(cli, second)
    assert clash.code == 1
    assert "is already managed by File/default/first" in clash.json()[0]["message"]
    assert Path(path).read_text() == "1\n"


def test_the_read_command_sees_paths_as_this_node_resolves_them(tmp_path: Path) -> None:
    from clockwork import claims

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    target = claims.ClaimTarget(type="file", key=str(tmp_path / "link" / "new" / "f.txt"), guard=True)
    roots = [str(tmp_path / "link"), "/"]
    output = subprocess.run(["sh", "-c", claims.read_command([target], str(tmp_path / "state"), roots)],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    state = claims.parse(output)
    assert state.state_dir == str(tmp_path / "state")
    assert state.roots == [str(tmp_path / "real"), "/"]
    assert state.facts(target).get("kind") == "absent"
    assert state.facts(target).text("real") == str(tmp_path / "real" / "new" / "f.txt")
    assert state.facts(target).text("missing") == str(tmp_path / "link" / "new")
