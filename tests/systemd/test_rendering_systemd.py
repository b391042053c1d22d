"""Clockwork's systemd renderer against a real systemd: what a unit says is what systemd reads.

Covers: batches of hypothesis-generated environment values (control characters,
quotes, backslashes, '%' specifiers, line breaks, the issue's ExecStartPre=/User=
injection) rendered by clockwork.text into Environment= lines of a real unit; systemd
runs it and the service's own environment (env -0) is compared byte for byte with
the values. A value the type refuses never reaches a unit.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwork import text
from tests.systemd.conftest import SystemdNode

pytestmark = pytest.mark.integration

VALUES = st.lists(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(list(" \"\\%\n\t$'=;#[]{}`*?~")), st.characters(codec="utf-8", exclude_categories=["Cs"])
        ),
        max_size=40,
    ),
    min_size=5,
    max_size=25,
)


def accepted(value: str) -> bool:
    try:
        text.env_value(value)
    except ValueError:
        return False
    return True


def round_trip(node: SystemdNode, values: list[str]) -> dict[str, str]:
    unit = f"cw-render-{uuid.uuid4().hex[:8]}"
    out = f"/tmp/{unit}.env"
    lines = ["[Unit]", "Description=rendering test", "", "[Service]", "Type=oneshot",
             f"ExecStart=/bin/sh -c 'exec /usr/bin/env -0 > {out}'"]  # fmt: skip
    lines += [f"Environment={text.systemd_quoted(f'V{i}={v}')}" for i, v in enumerate(values)]
    content = "\n".join(lines) + "\n"
    path = f"/etc/systemd/system/{unit}.service"
    written = node.sh(f"cat > {path} <<'CLOCKWORK_EOF'\n{content}CLOCKWORK_EOF\n")
    assert written.returncode == 0, written.stderr
    try:
        started = node.sh(f"systemctl daemon-reload && systemctl start {unit}.service", timeout=60)
        assert started.returncode == 0, started.stderr + node.sh(f"journalctl -u {unit} -n 20").stdout
        raw = node.sh(f"cat {out} | base64 -w0").stdout
    finally:
        node.sh(f"rm -f {path} {out}; systemctl daemon-reload")
    import base64

    environ = base64.b64decode(raw).decode()
    found = dict(item.split("=", 1) for item in environ.split("\0") if item.startswith("V"))
    return found


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES)
def test_systemd_reads_every_accepted_value_exactly(systemd_node: SystemdNode, values: list[str]) -> None:
    values = [v for v in values if accepted(v)] + ["x\nExecStartPre=/bin/touch /tmp/p\nUser=root\nX=", "100%", ""]
    found = round_trip(systemd_node, values)
    assert found == {f"V{i}": v for i, v in enumerate(values)}
    assert systemd_node.sh("test -e /tmp/p").returncode != 0
