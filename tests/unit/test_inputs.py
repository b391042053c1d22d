"""Bounded input: hostile files and templates are refused by name, never crash or hang.

Covers: nesting depth, alias expansion (billion laughs) and self-referencing
aliases, over-long integers, duplicate keys, a file-size cap, non-UTF-8 bytes, YAML
syntax errors naming file and line; strict booleans (a string "no" is not false);
Jinja templates with limits on output, intermediate values, arguments, powers,
formats and work (steps and time). Property-based (hypothesis): any text or any
generated document either loads or is refused as bad input (InvalidResource),
never another exception; the guard answers any value with violations, never an
exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clockwork import inputs, templates
from clockwork.api.file import FileSpec
from clockwork.api.registry import KINDS, parse_resource
from clockwork.completion import guard
from clockwork.errors import InvalidResource
from clockwork.local import load

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [{', '.join(['*' + chr(ord('a') + i)] * 9)}]\n" for i in range(8)
)

HOSTILE: list[tuple[str, str]] = [
    ("a: " + "[" * 5000 + "]" * 5000, "bad.yaml:1: nested deeper than 64 levels"),
    ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)), "nested deeper than 64 levels"),
    (LAUGHS, "expands to more than 100000 values"),
    ("a: &x [*x]\n", "the alias *x refers to a value that contains it"),
    ("port: " + "9" * 5000 + "\n", "bad.yaml:1: not valid YAML: an integer of 5000 digits is longer than 24"),
    ("a: 1\nb: 2\na: 3\n", "bad.yaml:3: not valid YAML: duplicate key 'a' (first at line 1)"),
    ("spec:\n  path: /a\n  path: /b\n", "bad.yaml:3: not valid YAML: duplicate key 'path' (first at line 2)"),
    ("a: [1, 2\nb: c\n", "bad.yaml:2: not valid YAML"),
    ("a: !!python/object:os.system {}\n", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE, ids=[h[1][:40] for h in HOSTILE])
def test_hostile_yaml_is_refused_naming_file_line_and_limit(text: str, expected: str) -> None:
    with pytest.raises(inputs.InputError) as caught:
        inputs.parse_documents(text, "bad.yaml")
    assert expected in str(caught.value)
    assert "<unicode string>" not in str(caught.value)


def test_files_over_the_size_cap_and_not_utf8_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 5000 + "\n")
    with pytest.raises(inputs.InputError, match=r"big.yaml: \d+ bytes is larger than the 2048 bytes allowed"):
        inputs.read_documents(big, inputs.Limits(max_bytes=2048))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(inputs.InputError, match=r"bin\.yaml: not UTF-8 text"):
        inputs.read_documents(binary)


def test_merge_keys_and_ordinary_documents_still_load() -> None:
    docs = inputs.parse_documents("base: &b {x: 1}\nmine:\n  <<: *b\n  y: 2\n---\nz: 0x1f\n", "ok.yaml")
    assert docs == [{"base": {"x": 1}, "mine": {"x": 1, "y": 2}}, {"z": 31}]


def file_doc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "f"}, "spec": spec}


@pytest.mark.parametrize("value", ["no", "false", "0", 0, "off"])
def test_booleans_are_strict(value: Any) -> None:
    with pytest.raises(InvalidResource, match=r"spec.present: Input should be a valid boolean"):
        parse_resource(file_doc(path="/srv/a", content="x", present=value))


TEMPLATE_BOMBS = [
    ("{{ 'x' * 10**10 }}", "repeating 1 characters or items 10000000000 times is too large"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "more than 1000000 steps"),
    ("{{ range(1000000)|list }}", "is larger than 100000 allowed"),
    ("{{ '%099999999d'|format(1) }}", "field width above 99999"),
    ("{{ '{:>999999999}'.format(1) }}", "field width above 99999"),
    ("{{ 'x'|center(10**9) }}", "the argument 1000000000 is larger than 100000 allowed"),
    ("{{ 2 ** (10**9) }}", "is larger than 4096 bits"),
    ("{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
     "is larger than 1048576 allowed"),
    ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "the output is larger than 262144 characters"),
    ("{{ ().__class__.__base__.__subclasses__() }}", "unsafe"),
    ("{{ [1].append(2) }}", "unsafe"),
    ("{{ 1/0 }}", "ZeroDivisionError"),
    ("{{ missing }}", "'missing' is undefined"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "expected"), TEMPLATE_BOMBS, ids=[b[1][:40] for b in TEMPLATE_BOMBS])
def test_template_bombs_are_stopped_with_the_limit_named(template: str, expected: str) -> None:
    with pytest.raises(ValueError, match="template: ") as caught:
        templates.render(template, {})
    assert expected in str(caught.value)
    with pytest.raises(ValidationError) as invalid:
        FileSpec.model_validate({"path": "/srv/a", "template": template})
    assert expected in str(invalid.value)


def test_ordinary_templates_render() -> None:
    text = templates.render(
        "{% for h in hosts %}{{ h }} {{ port * 2 }}\n{% endfor %}", {"hosts": ["a", "b"], "port": 8}
    )
    assert text == "a 16\nb 16\n"
    assert templates.render("{{ '%-5s|'|format('ab') }}{{ '{:>3}'.format(1) }}", {}) == "ab   |  1"


# --- property-based ----------------------------------------------------------------------------

YAMLISH = st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`\n ,?0123456789.\t")), max_size=200)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
DOCUMENT = st.fixed_dictionaries(
    {"apiVersion": st.just("clockwork.dev/v1alpha1"), "kind": st.sampled_from([*sorted(KINDS), "Task", "Nope"]),
     "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "b-1", "Bad_Name", ""])}),
     "spec": st.dictionaries(st.sampled_from(["path", "content", "image", "names", "present", "env", "command",
                                              "template", "mode", "ports", "schedule", "url", "dest"]), JSON,
                             max_size=5)}
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(YAMLISH)
def test_any_text_loads_or_is_bad_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        load([path])
    except InvalidResource as exc:
        problems = exc.problems
        assert problems


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(DOCUMENT)
def test_any_document_loads_or_is_bad_input(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load([path])
    except InvalidResource as exc:
        problems = exc.problems
        assert all(str(p) for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.dictionaries(st.sampled_from(
    ["path", "directory", "name", "content", "mode", "image", "ports", "volumes", "env", "command", "names", "home",
     "shell", "url", "ref", "dest", "cpuNice", "present", "privileged", "target"]), JSON, max_size=6))  # fmt: skip
def test_the_guard_answers_any_value(kind: str, values: dict[str, Any]) -> None:
    model = KINDS[kind].spec_model
    found = guard.check(model, values, list(values), guard.GuardPolicy())
    assert all(v.field and v.rule and v.message for v in found)
    for item in guard.review(model, values, list(values), guard.GuardPolicy()):
        assert item.field and item.reason
