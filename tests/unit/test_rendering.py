"""The escaping layer: a value rendered into another program's format means exactly
itself there, or it is refused.

Covers, property-based (hypothesis): every string either is refused by the type or
round-trips through a parser of systemd's rules for Environment= (specifiers, then
words unquoted and C-unescaped, systemd.syntax(7)) and for settings taken to the end
of the line (Description=, WorkingDirectory=); a known_hosts entry is one line or is
refused. The issue's injection (an env value carrying ExecStartPre= and User=) gives a
unit with one Environment= line and no other directive. The same renderer against a
real systemd is in tests/systemd/test_rendering_systemd.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clockwork import text
from clockwork.api.edgenode import EdgeNodeSpec
from clockwork.api.workload import ResolvedWorkload, WorkloadSpec
from clockwork.compile import workload as compile_workload

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
TRICKY = st.text(alphabet=st.sampled_from(list("ab \"\\%\n\t\r\x00\x1b\x7f\u2028$'=;#[]")), max_size=30)


_C_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f",
              "r": "\r", "v": "\v", "s": " "}  # fmt: skip


def systemd_specifiers(value: str) -> str:
    """systemd's specifier pass: '%%' is '%'; any other specifier would be replaced (refused here)."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "%":
            if value[i + 1 : i + 2] != "%":
                raise AssertionError(f"unescaped specifier in {value!r}")
            out.append("%")
            i += 2
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def systemd_words(value: str) -> list[str]:
    """extract_first_word(EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE), repeated: systemd's word splitting."""
    words: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in " \t\n\r":
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        quote: str | None = None
        while i < n:
            ch = value[i]
            if ch == "\\":
                nxt = value[i + 1 : i + 2]
                if nxt not in _C_ESCAPES:
                    raise AssertionError(f"invalid escape \\{nxt} in {value!r}")
                word.append(_C_ESCAPES[nxt])
                i += 2
                continue
            if quote:
                if ch == quote:
                    quote = None
                else:
                    word.append(ch)
            elif ch in "\"'":
                quote = ch
            elif ch in " \t\n\r":
                break
            else:
                word.append(ch)
            i += 1
        if quote:
            raise AssertionError(f"unbalanced quote in {value!r}")
        words.append("".join(word))


def refused(fn: Any, value: str) -> bool:
    try:
        fn(value)
    except ValueError:
        return True
    return False


@settings(max_examples=300)
@given(st.one_of(ANY_TEXT, TRICKY))
def test_environment_values_round_trip_or_are_refused(value: str) -> None:
    if refused(text.env_value, value):
        assert any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in value)
        return
    line = f"Environment={text.systemd_quoted(f'A={value}')}"
    assert "\n" not in line
    assert systemd_words(systemd_specifiers(line.removeprefix("Environment="))) == [f"A={value}"]


@settings(max_examples=300)
@given(st.one_of(ANY_TEXT, TRICKY))
def test_rest_of_line_settings_round_trip_or_are_refused(value: str) -> None:
    try:
        rendered = text.systemd_text(value)
    except ValueError:
        return
    assert "\n" not in rendered and "\r" not in rendered
    assert rendered.strip() == rendered
    assert systemd_specifiers(rendered) == value


@settings(max_examples=200)
@given(st.one_of(ANY_TEXT, TRICKY))
def test_known_hosts_entries_are_one_line_or_refused(value: str) -> None:
    line = f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample {value}"
    try:
        EdgeNodeSpec.model_validate({"address": "n1", "hostKey": {"knownHosts": [line]}})
    except ValidationError:
        return
    assert len(line.strip().splitlines()) == 1


def workload(**spec: Any) -> ResolvedWorkload:
    base = {
        "name": "app", "type": "service", "command": "sleep 1", "runMode": "forever", "restartDelaySeconds": 5,
        "present": True, "target": {"local": True}, "runner": "pyinfra", "health": {},
        "remediation": {"enabled": True, "maxAttempts": 3, "backoffSeconds": 10},
        "completion": {"mode": "auto", "approval": "auto"},
    }  # fmt: skip
    return ResolvedWorkload.model_validate({**base, **spec})


def test_the_env_injection_of_the_issue_stays_one_value() -> None:
    hostile = "x\nExecStartPre=/bin/touch /tmp/p\nUser=root\nX="
    unit = compile_workload.service_unit(workload(env={"A": hostile}), "app")
    lines = unit.splitlines()
    assert [line for line in lines if line.startswith("Environment=")] == [
        'Environment="A=x\\nExecStartPre=/bin/touch /tmp/p\\nUser=root\\nX="'
    ]
    assert not any(line.startswith(("ExecStartPre=", "User=")) for line in lines)
    value = next(line for line in lines if line.startswith("Environment=")).removeprefix("Environment=")
    assert systemd_words(systemd_specifiers(value)) == [f"A={hostile}"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("env", {"A": "x\rExecStartPre=/bin/true"}),
        ("env", {"A": "bell\x07"}),
        ("env", {"A": "nul\x00"}),
        ("workingDirectory", "/srv/app\nUser=root"),
        ("workingDirectory", "/srv/app\x1b[2J"),
        ("schedule", "@daily\nOnCalendar=minutely"),
    ],
)
def test_control_characters_are_refused_at_the_type(field: str, value: Any) -> None:
    spec: dict[str, Any] = {"command": "true", field: value}
    if field == "schedule":
        spec["runMode"] = "schedule"
    with pytest.raises(ValidationError) as caught:
        WorkloadSpec.model_validate(spec)
    assert "must not contain" in str(caught.value)


def test_percent_signs_are_specifiers_to_systemd_and_are_doubled() -> None:
    unit = compile_workload.service_unit(workload(env={"RATE": "100%"}, workingDirectory="/srv/%h"), "app")
    assert 'Environment="RATE=100%%"' in unit
    assert "WorkingDirectory=/srv/%%h" in unit
