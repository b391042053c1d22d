"""known_hosts entries through OpenSSH's own parser: one accepted entry is one key, never more.

Property-based (hypothesis): an EdgeNode's hostKey entry with any trailing text is
either refused by the model, or — written as the worker writes it — read back by
`ssh-keygen -l -f` as exactly one key for that host (a line break cannot smuggle in a
second entry such as `@cert-authority *`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clockwork.api.edgenode import EdgeNodeSpec
from clockwork.plan import HostSpec, known_hosts_lines

pytestmark = pytest.mark.integration

TEXT = st.text(alphabet=st.one_of(st.sampled_from(list("\n\r\t @*#,")), st.characters(codec="utf-8")), max_size=40)


@pytest.fixture(scope="module")
def host_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("hostkey")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "k")], check=True)
    return " ".join((folder / "k.pub").read_text().split()[:2])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT)
def test_an_accepted_entry_is_exactly_one_key(host_key: str, tmp_path: Path, tail: str) -> None:
    line = f"{host_key} {tail}"
    try:
        spec = EdgeNodeSpec.model_validate({"address": "10.0.0.7", "hostKey": {"knownHosts": [line]}})
    except ValidationError:
        return
    known = spec.host_key.known_hosts if spec.host_key and spec.host_key.known_hosts else []
    written = "".join(entry + "\n" for entry in known_hosts_lines(HostSpec(name="n", address="10.0.0.7",
                                                                           known_hosts=known)))  # fmt: skip
    path = tmp_path / "known_hosts"
    path.write_text(written)
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, check=True)
    assert len(listed.stdout.strip().splitlines()) == 1, (line, listed.stdout)
    found = subprocess.run(["ssh-keygen", "-F", "10.0.0.7", "-f", str(path)], capture_output=True, text=True)
    assert found.returncode == 0
