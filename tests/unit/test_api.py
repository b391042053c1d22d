"""The API models reject bad input with a message naming the field and the rule.

Covers: File field rules (mode, path, names, owner), unknown fields, YAML's octal
trap, target exclusivity, metadata names, apiVersion/kind, and that Python field
names are not accepted as wire names.
"""

from __future__ import annotations

from typing import Any

import pytest

from clockwork.api import File, parse_resource
from clockwork.api.file import ResolvedFile
from clockwork.errors import InvalidResource
from tests.helpers import file_resource


def problems(doc: dict[str, Any]) -> str:
    with pytest.raises(InvalidResource) as info:
        parse_resource(doc)
    return str(info.value)


def test_valid_file_parses_with_wire_names() -> None:
    resource = parse_resource(
        file_resource(
            "motd",
            path="/etc/motd",
            content="hi\n",
            mode="0640",
            target={"local": True},
            health={"intervalSeconds": 0, "assertions": [{"type": "command", "command": "true"}]},
        )
    )
    assert isinstance(resource, File)
    assert resource.spec.mode == "0640"
    assert resource.metadata.namespace == "default"
    assert resource.spec.health is not None and resource.spec.health.assertions is not None
    assert resource.spec.health.assertions[0].command == "true"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"path": "/a", "mode": "999"}, "spec.mode: must be octal permission bits such as \"0644\" (got '999')"),
        ({"path": "/a", "mode": 420}, 'spec.mode: must be a quoted octal string such as "0644"'),
        ({"path": "relative/file"}, "spec.path: must be an absolute path (starting with '/') (got 'relative/file')"),
        ({"path": "/srv/../etc/passwd"}, "spec.path: '/srv/../etc/passwd' must not contain '..'"),
        ({"path": "/a", "colour": "red"}, "spec.colour: unknown field"),
        ({"path": "/a", "owner": "Root;rm"}, "spec.owner: must be a user or group name"),
        ({"directory": "/srv", "name": "a/b"}, "spec.name: 'a/b' is not a plain file name"),
        ({"path": "/a", "name": "b"}, "set either path, or directory and name, not both"),
        ({"path": "/a", "target": {"local": True, "nodeName": "pi-1"}}, "set only one of nodeName"),
        ({"path": "/a", "runner": "ansible"}, "spec.runner: Input should be 'pyinfra' or 'job'"),
        ({"path": "/a", "health": {"assertions": [{"type": "ping"}]}}, "spec.health.assertions.0"),
        (
            {"path": "/a", "health": {"assertions": [{"type": "command", "command": "x", "bad": 1}]}},
            "spec.health.assertions.0.bad: unknown field",
        ),
        (
            {"path": "/a", "content": "x" * (256 * 1024 + 1)},
            "spec.content: String should have at most 262144",
        ),
    ],
)
def test_invalid_file_names_field_and_rule(spec: dict[str, Any], expected: str) -> None:
    assert expected in problems(file_resource("bad", **spec))


def test_python_field_names_are_not_wire_names() -> None:
    assert "spec.health.interval_seconds: unknown field" in problems(
        file_resource("x", path="/a", health={"interval_seconds": 5})
    )


def test_metadata_name_must_be_dns_subdomain() -> None:
    assert "metadata.name: must be a lowercase RFC 1123 subdomain" in problems(file_resource("Not_Valid", path="/a"))


def test_api_version_and_kind_are_checked() -> None:
    doc = file_resource("x", path="/a")
    assert "apiVersion: must be 'clockwork.dev/v1alpha1'" in problems({**doc, "apiVersion": "v1"})
    served = "Container, Directory, EdgeNode, File, GitRepo, Package, Rollout, Task, User, Workflow, Workload"
    assert f"kind: unknown kind 'Nope'; Clockwork serves {served}" in problems({**doc, "kind": "Nope"})


def test_status_in_user_input_is_ignored() -> None:
    doc = {**file_resource("x", path="/a"), "status": {"anything": True}}
    assert parse_resource(doc).ref == "File/default/x"


def test_resolved_file_builds_path_from_directory_and_name() -> None:
    base = {
        "target": {"local": True},
        "runner": "pyinfra",
        "health": {"intervalSeconds": 0},
        "remediation": {"enabled": True, "maxAttempts": 3, "backoffSeconds": 1},
        "completion": {"mode": "auto", "approval": "auto"},
        "mode": "644",
        "present": True,
        "content": "x",
    }
    resolved = ResolvedFile.model_validate({**base, "directory": "/srv/", "name": "a.txt"})
    assert resolved.path == "/srv/a.txt"
    assert ResolvedFile.missing_fields({**base, "content": None, "directory": "/srv"}) == ["path", "content"]
    assert ResolvedFile.missing_fields({**base, "path": "/x", "present": False, "content": None}) == []
