"""Hostile files through the real `clockwork` command: exit 2, the file, line and limit named,
no traceback, nothing applied.

Covers the loader's limits (nesting, aliases, integers, duplicate keys, size cap),
strict booleans and template limits, each with `plan`, `apply` and `-o json`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner

pytestmark = pytest.mark.integration

FILE = """apiVersion: clockwork.dev/v1alpha1
kind: File
metadata: {{name: f}}
spec:
  path: {path}
{extra}
"""

CASES = [
    ("deep", "  variables: " + "[" * 3000 + "]" * 3000 + "\n  template: x",
     "deep.yaml:6: nested deeper than 64 levels"),
    ("laughs",
     "  template: '{{ a }}'\n  variables:\n    a: &a [l, l, l, l, l, l, l, l, l, l]\n"
     + "".join(f"    {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)),
     "expands to more than 100000 values"),
    ("digits", "  content: x\n  mode: '0644'\n  health: {intervalSeconds: " + "9" * 5000 + "}",
     "an integer of 5000 digits is longer than 24"),
    ("duplicate", "  content: a\n  content: b", "duplicate key 'content' (first at line 6)"),
    ("string-no", "  content: x\n  present: 'no'", "spec.present: Input should be a valid boolean"),
    ("template", "  template: \"{{ 'x' * 10**10 }}\"", "repeating 1 characters or items 10000000000 times"),
    ("loops", "  template: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'",
     "more than 1000000 steps"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hostile_file_exits_2_naming_the_limit(cli: CliRunner, workdir: Path, name: str, extra: str,
                                               expected: str) -> None:  # fmt: skip
    target = workdir / "out.txt"
    source = workdir / f"{name}.yaml"
    source.write_text(FILE.format(path=target, extra=extra))
    for command in (("plan",), ("apply",), ("apply", "-o", "json")):
        result = cli(*command, "-f", str(source), timeout=60)
        assert result.code == 2, (command, result.stdout[-500:], result.stderr[-500:])
        shown = result.stdout + result.stderr
        assert expected in shown, shown[-1500:]
        assert "Traceback" not in shown
        assert str(source) in shown or name == "string-no"
    assert not target.exists()


def test_file_size_cap(cli: CliRunner, workdir: Path) -> None:
    source = workdir / "big.yaml"
    source.write_text(FILE.format(path=workdir / "out.txt", extra="  content: " + "x" * 4000))
    result = cli("plan", "-f", str(source), env={"CW_MAX_INPUT_BYTES": "2048"})
    assert result.code == 2
    assert f"{source}: " in result.stderr and "bytes is larger than the 2048 bytes allowed" in result.stderr
