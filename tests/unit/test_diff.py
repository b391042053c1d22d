"""clockwork.diff: operations compared with what a node has (pure; node states as the
claims read reports them)."""

from __future__ import annotations

import base64
import hashlib
import json

from clockwork import claims, diff
from clockwork.claims import ClaimTarget, Facts, NodeState
from clockwork.plan import Operation


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def state(*found: tuple[ClaimTarget, dict[str, str]]) -> NodeState:
    return NodeState(state_dir="/s", roots=[], targets={t.id: Facts(v) for t, v in found})


def test_a_new_file_is_created_with_its_whole_content() -> None:
    target = ClaimTarget(type="file", key="/srv/a.txt")
    op = Operation(id="p", op="clockwork.put", args={"dest": "/srv/a.txt", "content": "x\ny\n", "mode": "0644"})
    [change] = diff.changes("n1", [op], [target], state((target, {"kind": "absent"})), {"mode": "offline"})
    assert change.action == "create"
    assert {(f.field, f.after, f.source) for f in change.fields} == {
        ("content", "4 bytes", "user"), ("mode", "0644", "offline")}  # fmt: skip
    assert change.diff is not None and "+x\n+y\n" in change.diff


def test_an_unchanged_file_is_said_so() -> None:
    target = ClaimTarget(type="file", key="/srv/a.txt")
    op = Operation(
        id="p", op="clockwork.put", args={"dest": "/srv/a.txt", "content": "x\n", "mode": "0644", "user": "app"}
    )
    node = {"kind": "file", "stat": "644 1000 1000", "names": "app app", "content": b64("x\n")}
    [change] = diff.changes("n1", [op], [target], state((target, node)))
    assert change.action == "unchanged" and not change.fields and change.diff is None


def test_a_big_file_is_compared_by_hash() -> None:
    target = ClaimTarget(type="file", key="/srv/big")
    want = "z" * (claims.DIFF_CONTENT_MAX + 1)
    op = Operation(id="p", op="clockwork.put", args={"dest": "/srv/big", "content": want})
    same = {"kind": "file", "stat": "644 0 0", "size": str(len(want)), "sha": hashlib.sha256(want.encode()).hexdigest()}
    assert diff.changes("n", [op], [target], state((target, same)))[0].action == "unchanged"
    other = {**same, "sha": "0" * 64}
    [change] = diff.changes("n", [op], [target], state((target, other)))
    assert change.action == "update" and change.fields[0].field == "content" and change.diff is None


def test_a_directory_where_the_file_goes_is_named() -> None:
    target = ClaimTarget(type="file", key="/srv/a")
    op = Operation(id="p", op="clockwork.put", args={"dest": "/srv/a", "content": "x"})
    [change] = diff.changes("n", [op], [target], state((target, {"kind": "dir", "stat": "755 0 0"})))
    assert (change.fields[0].field, change.fields[0].before, change.fields[0].after) == ("type", "directory", "file")


def test_unit_env_values_are_never_shown_but_a_change_is_said() -> None:
    path = "/etc/systemd/system/clockwork-a.service"
    target = ClaimTarget(type="file", key=path)
    unit = '[Service]\nExecStart=/run.sh\nEnvironment="TOKEN=s3cret-old" "MODE=edge"\n'
    op = Operation(id="u", op="clockwork.systemd_unit", args={"unit": "clockwork-a.service",
                   "content": unit.replace("s3cret-old", "s3cret-new")})  # fmt: skip
    node = {"kind": "file", "stat": "644 0 0", "names": "root root", "content": b64(unit)}
    [change] = diff.changes("n", [op], [target], state((target, node)), {"env": "ai (m)"})
    text = change.model_dump_json()
    assert "s3cret" not in text
    assert change.action == "update" and [(f.field, f.source) for f in change.fields] == [("env", "ai (m)")]
    changed = op.model_copy(update={"args": {**op.args, "content": unit.replace("MODE=edge", "LEVEL=2")}})
    [named] = diff.changes("n", [changed], [target], state((target, node)))
    assert named.diff is not None and '"LEVEL=<hidden>"' in named.diff and "s3cret" not in named.diff


def test_packages_to_install_and_to_leave() -> None:
    jq, curl = ClaimTarget(type="package", key="jq"), ClaimTarget(type="package", key="curl")
    op = Operation(id="p", op="apt.packages", args={"packages": ["jq", "curl"], "present": True})
    found = diff.changes("n", [op], [jq, curl], state((jq, {"installed": "0"}), (curl, {"installed": "1"})))
    assert [(c.target, c.action) for c in found] == [("package jq", "create"), ("package curl", "unchanged")]


def test_a_user_whose_shell_and_groups_differ() -> None:
    target = ClaimTarget(type="user", key="deploy")
    op = Operation(id="u", op="server.user", args={"user": "deploy", "present": True, "home": "/home/deploy",
                   "shell": "/bin/bash", "groups": ["adm", "docker"]})  # fmt: skip
    node = {"passwd": b64("deploy:x:1001:1001::/home/deploy:/bin/sh"), "groups": b64("deploy adm")}
    [change] = diff.changes("n", [op], [target], state((target, node)))
    assert [(f.field, f.before, f.after) for f in change.fields] == [
        ("shell", "/bin/sh", "/bin/bash"), ("groups", "adm, deploy", "+ docker")]  # fmt: skip


def container_op(env: dict[str, str], spec_hash: str = "new") -> Operation:
    create = ["--restart", "unless-stopped", "-p", "127.0.0.1:8080:80", "--network", "clockwork"]
    for k, v in env.items():
        create += ["-e", f"{k}={v}"]
    return Operation(id="c", op="clockwork.container", args={"container": "web", "image": "nginx:1.27-alpine",
                     "create_args": create, "present": True, "running": True, "spec_hash": spec_hash})  # fmt: skip


def inspected(env: list[str]) -> dict[str, str]:
    config = {
        "Config": {"Image": "nginx:1.27-alpine", "Env": ["PATH=/usr/bin", *env], "Cmd": ["nginx"]},
        "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                       "RestartPolicy": {"Name": "unless-stopped"}, "NetworkMode": "clockwork"},
        "NetworkSettings": {"Networks": {"clockwork": {}}},
        "State": {"Running": True},
    }  # fmt: skip
    return {"container": b64("old|true"), "inspect": b64(json.dumps(config)), "imageenv": b64('["PATH=/usr/bin"]')}


def test_a_container_whose_env_changed_is_recreated_and_its_values_stay_hidden() -> None:
    target = ClaimTarget(type="container", key="web")
    op = container_op({"A": "secret-2", "B": "secret-b"})
    [change] = diff.changes("n", [op], [target], state((target, inspected(["A=secret-1"]))), {"env": "offline"})
    assert change.action == "update"
    assert [(f.field, f.before, f.after) for f in change.fields] == [
        ("container", "as it is", "re-created"),
        ("env.A", "<hidden>", "<hidden>"),
        ("env.B", None, "<hidden>"),
    ]
    assert "secret" not in change.model_dump_json()
    assert change.fields[1].source == "offline"


def test_a_container_from_this_very_spec_is_unchanged() -> None:
    target = ClaimTarget(type="container", key="web")
    [change] = diff.changes("n", [container_op({}, "old")], [target], state((target, inspected([]))))
    assert change.action == "unchanged"


def test_a_container_with_the_same_config_but_another_label_is_unchanged() -> None:
    target = ClaimTarget(type="container", key="web")
    [change] = diff.changes("n", [container_op({"A": "1"})], [target], state((target, inspected(["A=1"]))))
    assert change.action == "unchanged", change.fields


def test_a_container_port_and_image_change() -> None:
    target = ClaimTarget(type="container", key="web")
    op = container_op({})
    op.args["image"] = "nginx:1.28-alpine"
    op.args["create_args"] = ["--restart", "unless-stopped", "-p", "9090:80", "--network", "clockwork"]
    [change] = diff.changes("n", [op], [target], state((target, inspected([]))))
    assert {(f.field, f.before, f.after) for f in change.fields} >= {
        ("image", "nginx:1.27-alpine", "nginx:1.28-alpine"),
        ("ports", "127.0.0.1:8080->80/tcp", "0.0.0.0:9090->80/tcp"),
    }


def test_a_new_container() -> None:
    target = ClaimTarget(type="container", key="web")
    [change] = diff.changes("n", [container_op({"K": "v"})], [target], state((target, {})))
    assert change.action == "create"
    assert ("env", "K=<hidden>") in {(f.field, f.after) for f in change.fields}


def test_removals() -> None:
    f = ClaimTarget(type="file", key="/srv/old", present=False)
    op = Operation(id="x", op="files.file", args={"path": "/srv/old", "present": False})
    assert diff.changes("n", [op], [f], state((f, {"kind": "file"})))[0].action == "remove"
    assert diff.changes("n", [op], [f], state((f, {"kind": "absent"})))[0].action == "unchanged"


def test_a_checkout_at_another_commit() -> None:
    target = ClaimTarget(type="checkout", key="/srv/app")
    op = Operation(id="g", op="clockwork.git_checkout", args={"dest": "/srv/app", "commit": "abc123"})
    node = {"kind": "dir", "rev": "ffff00", "origin": b64("https://example.com/app.git\n")}
    [change] = diff.changes("n", [op], [target], state((target, node)))
    assert [(f.field, f.before, f.after) for f in change.fields] == [("ref", "ffff00", "abc123")]
