"""A newcomer's first hour: every message names the thing it is about.

Covers: a missing -f path is named; an unknown kind names its file; a YAML syntax
error names file and line (never PyYAML's "<unicode string>"); a relative path says
it must be absolute (not the bare regular expression); a dependsOn naming a resource
that exists nowhere is bad input naming file, field and the missing kind/name (exit
2, nothing applied); the File incompletion advice is given once; tables keep names
whole at 80 columns (a name too long to fit folds, never cut).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import file_resource, write_resources

pytestmark = pytest.mark.integration


def test_a_missing_file_is_named(cli: CliRunner, workdir: Path) -> None:
    result = cli("plan", "-f", "nope.yaml")
    assert result.code == 2
    assert "nope.yaml: no such file or directory" in result.stderr
    assert "nope.yaml" in " ".join(cli("plan", "-f", "nope.yaml", "-o", "json").json()["problems"])


def test_an_unknown_kind_names_its_file(cli: CliRunner, workdir: Path) -> None:
    doc = {**file_resource("a", path="/srv/a", content="x"), "kind": "Fiel"}
    write_resources(workdir / "unknown.yaml", doc)
    result = cli("plan", "-f", "unknown.yaml")
    assert result.code == 2
    assert "unknown.yaml: Fiel/default/a: kind: unknown kind 'Fiel'" in result.stderr
    assert "File, GitRepo" in result.stderr


def test_a_yaml_syntax_error_names_file_and_line(cli: CliRunner, workdir: Path) -> None:
    (workdir / "broken.yaml").write_text("apiVersion: clockwork.dev/v1alpha1\nkind: File\nmetadata: {name: a\n")
    result = cli("apply", "-f", "broken.yaml")
    assert result.code == 2
    assert "broken.yaml:4: not valid YAML" in result.stderr
    assert "<unicode string>" not in result.stderr
    assert not (workdir / ".clockwork").exists()


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        ("File", {"path": "etc/motd", "content": "x"}, "spec.path"),
        ("Directory", {"path": "srv/data"}, "spec.path"),
        ("Container", {"image": "nginx", "volumes": [{"path": "data", "volume": "v"}]}, "spec.volumes.0.path"),
    ],
)
def test_a_relative_path_must_be_absolute(
    cli: CliRunner, workdir: Path, kind: str, spec: dict[str, object], field: str
) -> None:
    doc = {**file_resource("a", **spec), "kind": kind}
    write_resources(workdir / "rel.yaml", doc)
    result = cli("plan", "-f", "rel.yaml")
    assert result.code == 2
    assert f"{field}: must be an absolute path" in result.stderr
    assert "should match pattern" not in result.stderr


def test_a_pattern_rule_says_what_it_means(cli: CliRunner, workdir: Path) -> None:
    write_resources(workdir / "mode.yaml", file_resource("a", path="/srv/a", content="x", mode="rw-r--r--"))
    result = cli("plan", "-f", "mode.yaml")
    assert result.code == 2
    assert 'spec.mode: must be octal permission bits such as "0644"' in result.stderr
    assert "should match pattern" not in result.stderr


def test_a_dependency_that_exists_nowhere_is_bad_input(cli: CliRunner, workdir: Path) -> None:
    target = workdir / "a.txt"
    other = file_resource("b", path=str(workdir / "b.txt"), content="b")
    needs = [{"kind": "File", "name": "b"}, {"kind": "File", "name": "ghost"}]
    lonely = file_resource("a", path=str(target), content="a", dependsOn=needs)
    write_resources(workdir / "deps.yaml", lonely, other)
    for command in ("apply", "plan"):
        result = cli(command, "-f", "deps.yaml")
        assert result.code == 2, result.stdout + result.stderr
        assert "deps.yaml#1: File/default/a: spec.dependsOn[1]: File/ghost" in result.stderr
        assert "spec.dependsOn[0]" not in result.stderr
    assert not target.exists() and not (workdir / "b.txt").exists()
    assert not (workdir / ".clockwork" / "state.db").exists() or cli("status", "-o", "json").json() == []


def test_a_dependency_applied_earlier_is_found(cli: CliRunner, workdir: Path) -> None:
    write_resources(workdir / "b.yaml", file_resource("b", path=str(workdir / "b.txt"), content="b"))
    assert cli("apply", "-f", "b.yaml").code == 0
    dependent = file_resource("a", path=str(workdir / "a.txt"), content="a", dependsOn=[{"kind": "File", "name": "b"}])
    write_resources(workdir / "a.yaml", dependent)
    result = cli("apply", "-f", "a.yaml")
    assert result.code == 0, result.stdout + result.stderr
    assert (workdir / "a.txt").read_text() == "a"


def test_the_file_incompletion_advice_is_given_once(cli: CliRunner, workdir: Path) -> None:
    write_resources(workdir / "empty.yaml", file_resource("a"))
    result = cli("plan", "-f", "empty.yaml", "-o", "json")
    assert result.code == 1
    [outcome] = result.json()
    message = outcome["message"]
    assert "spec.content" in message and "does not write prose" in message
    assert message.count("CW_MODEL") == 1, message
    assert message.count("set spec.content") == 1, message


def _lines_with(text: str, output: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


def test_tables_keep_names_whole_at_80_columns(cli: CliRunner, workdir: Path) -> None:
    name = "reverse-proxy-conf"
    long = "a-resource-name-far-too-long-for-any-eighty-column-table-row"
    docs = [file_resource(n, path=str(workdir / "out" / f"{n}.conf"), content="x\n") for n in (name, long)]
    manifest = write_resources(workdir / "m.yaml", *docs)
    narrow = {"COLUMNS": "80"}
    outputs = {
        "apply": cli("apply", "-f", str(manifest), env=narrow).stdout,
        "assert": cli("assert", "-f", str(manifest), env=narrow).stdout,
        "status": cli("status", env=narrow).stdout,
        "destroy": cli("destroy", "-f", str(manifest), env=narrow).stdout,
    }
    for command, output in outputs.items():
        ref = f"default/{name}" if command == "status" else f"File/default/{name}"
        assert _lines_with(ref, output), f"{command}: {ref} broken across lines:\n{output}"
        assert all(len(line) <= 80 for line in output.splitlines()), output
        assert "…" not in output, f"{command}: a name too long to fit folds, it is never cut:\n{output}"
    assert _lines_with("healthy", outputs["apply"]) and _lines_with("applied", outputs["apply"])
