"""`clockwork plan` shows what applying would change on the node, read from the node,
and changes nothing: a file that exists with other content, mode and owner (a unified
diff and the attribute changes, with who chose each value), and a package that is not
installed. The container case is in tests/docker/test_container.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources

pytestmark = pytest.mark.integration


def changes(result: Any) -> list[dict[str, Any]]:
    return [c for o in result.json() for c in o["changes"]]


def test_plan_diffs_a_file_that_is_there(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    path = tmp_path / "app.ini"
    path.write_text("a=1\nb=2\n")
    path.chmod(0o600)
    spec = {"path": str(path), "content": "a=1\nb=3\n", "owner": "nobody", "onExisting": "backup"}
    manifest = write_resources(workdir / "f.yaml", resource("File", "ini", **spec))
    shown = cli("plan", "-f", str(manifest), "-o", "json")
    assert shown.code == 0, shown.stdout + shown.stderr
    [change] = changes(shown)
    assert change["action"] == "update" and change["target"] == f"file {path}"
    fields = {f["field"]: (f["before"], f["after"], f["source"]) for f in change["fields"]}
    assert fields["mode"] == ("0600", "0644", "default")  # the default mode, and who chose it
    assert fields["owner"] == ("root" if os.geteuid() == 0 else path.owner(), "nobody", "user")
    assert "-b=2\n+b=3\n" in change["diff"]
    assert path.read_text() == "a=1\nb=2\n" and path.stat().st_mode & 0o777 == 0o600  # plan changed nothing

    table = cli("plan", "-f", str(manifest))
    assert "changes on the nodes:" in table.stdout and f"~ @local: file {path}" in table.stdout
    assert "mode: 0600 -> 0644  (default)" in table.stdout and "+b=3" in table.stdout


def test_plan_says_a_missing_package_would_be_installed(cli: CliRunner, workdir: Path) -> None:
    missing = "clockwork-test-no-such-package"
    manifest = write_resources(workdir / "p.yaml", resource("Package", "tools", names=[missing, "bash"]))
    shown = cli("plan", "-f", str(manifest), "-o", "json")
    assert shown.code == 0, shown.stdout + shown.stderr
    found = {c["target"]: c for c in changes(shown)}
    assert found[f"package {missing}"]["action"] == "create"
    assert found[f"package {missing}"]["fields"][0]["after"] == f"install {missing}"
    assert found["package bash"]["action"] == "unchanged"


def test_plan_of_a_file_not_there_yet_shows_its_content(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    path = tmp_path / "new" / "motd.txt"
    manifest = write_resources(workdir / "f.yaml", resource("File", "motd", path=str(path), content="hello\n"))
    [change] = changes(cli("plan", "-f", str(manifest), "-o", "json"))
    assert change["action"] == "create" and "+hello\n" in change["diff"]
    assert not path.parent.exists()
