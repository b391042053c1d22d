"""What applying would change on a node, for ``plan``: a resource's operations compared
with what the node has now (the claims read with ``detail``: content, mode and owner,
packages, a container's configuration, a checkout's revision). Pure.

Kind-independent: it reads the operations compile/ produced, so a new kind whose
operations are of these types gets a diff for free. Env values are never shown (a
Workload's unit lines ``Environment=`` and a container's ``-e`` values are hidden;
that one changed is said).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
from typing import Any, Literal

from pydantic import Field, JsonValue

from clockwork import claims
from clockwork.compile.workload import UNIT_DIR
from clockwork.model import CWModel
from clockwork.plan import Operation

MAX_DIFF_LINES = 200
HIDDEN = "<hidden>"
Action = Literal["create", "update", "remove", "unchanged", "unknown"]


class FieldChange(CWModel):
    field: str = Field(description="The spec field (or what on the node) that differs, e.g. mode, env.PORT.")
    before: str | None = Field(default=None, description="What the node has now; null when it has none.")
    after: str | None = Field(default=None, description="What applying makes it; null when it goes.")
    source: str = Field(default="user", description="Who chose the new value: user, default, offline or ai.")


class Change(CWModel):
    node: str
    target: str = Field(description="What on the node, e.g. 'file /srv/app/config.ini'.")
    action: Action
    fields: list[FieldChange] = Field(default_factory=list)
    diff: str | None = Field(default=None, description="A file's content as a unified diff (bounded).")


def changes(
    node: str,
    operations: list[Operation],
    targets: list[claims.ClaimTarget],
    state: claims.NodeState,
    sources: dict[str, str] | None = None,
) -> list[Change]:
    """One Change per thing the operations touch that the claims read looked at."""
    by_key: dict[tuple[str, str], claims.Facts] = {(t.type, t.key): state.facts(t) for t in targets}
    source = _Sources(sources or {})
    found: list[Change] = []
    for op in operations:
        for change in _for_operation(node, op, by_key, source):
            found.append(change)
    return found


class _Sources:
    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def __call__(self, field: str) -> str:
        top = field.split(".", 1)[0]
        return self.sources.get(field) or self.sources.get(top) or "user"


def _for_operation(
    node: str, op: Operation, facts: dict[tuple[str, str], claims.Facts], source: _Sources
) -> list[Change]:
    a = op.args
    if op.op == "files.put":
        return _file(node, str(a.get("dest")), a, facts, source, "content")
    if op.op == "clockwork.systemd_unit":
        return _file(node, f"{UNIT_DIR}/{a.get('unit')}", {**a, "mode": "0644"}, facts, source, "unit")
    if op.op in ("files.directory", "files.file"):
        path = str(a.get("path"))
        kind = "directory" if op.op == "files.directory" else "file"
        f = facts.get((kind, path)) or facts.get(("checkout", path))
        if f is None:
            return []
        if a.get("present") is False:
            action: Action = "remove" if f.get("kind") not in (None, "absent") else "unchanged"
            return [Change(node=node, target=f"{kind} {path}", action=action)]
        return [_attributes(node, f"{kind} {path}", a, f, source)]
    if op.op in ("git.repo", "clockwork.git_checkout"):
        dest = str(a.get("dest"))
        f = facts.get(("checkout", dest))
        return [] if f is None else [_checkout(node, dest, a, f, source)]
    if op.op == "server.user":
        f = facts.get(("user", str(a.get("user"))))
        return [] if f is None else [_user(node, a, f, source)]
    if op.op in ("apt.packages", "server.packages", "dnf.packages", "apk.packages"):
        return _packages(node, a, facts, source)
    if op.op == "clockwork.container":
        f = facts.get(("container", str(a.get("container"))))
        return [] if f is None else [_container(node, a, f, source)]
    return []


# --- files and directories ---------------------------------------------------------------


def _file(
    node: str,
    path: str,
    a: dict[str, JsonValue],
    facts: dict[tuple[str, str], claims.Facts],
    source: _Sources,
    content_field: str,
) -> list[Change]:
    f = facts.get(("file", path))
    if f is None:
        return []
    what = f"file {path}"
    want = str(a.get("content") or "")
    kind = f.get("kind")
    if kind in (None, "absent"):
        fields = [FieldChange(field=content_field, after=f"{len(want.encode())} bytes", source=source("content"))]
        fields += [c for c in _attribute_fields(a, {}, source) if c.after is not None]
        return [Change(node=node, target=what, action="create", fields=fields, diff=_unified(path, "", want, node))]
    change = _attributes(node, what, a, f, source)
    if kind != "file":
        change.fields.insert(0, FieldChange(field="type", before=_kind_word(kind), after="file"))
    else:
        before = f.text("content")
        size = f"{len(want.encode())} bytes"
        content = FieldChange(field=content_field, after=size, source=source("content"))
        if before is None:  # too big to read: by hash
            if hashlib.sha256(want.encode()).hexdigest() != f.get("sha"):
                change.fields.insert(0, content.model_copy(update={"before": f"{f.get('size')} bytes"}))
        elif before != want:
            masked = content_field == "unit"
            shown_before, shown_after = (_mask_env(before), _mask_env(want)) if masked else (before, want)
            change.diff = _unified(path, shown_before, shown_after, node) or None
            if shown_before == shown_after:
                change.fields.insert(0, FieldChange(field="env", before=HIDDEN, after=HIDDEN, source=source("env")))
            else:
                change.fields.insert(0, content.model_copy(update={"before": f"{len(before.encode())} bytes"}))
    change.action = "update" if change.fields else "unchanged"
    return [change]


def _kind_word(kind: str | None) -> str:
    return {"dir": "directory", "link": "symlink", "file": "file"}.get(kind or "", kind or "nothing")


def _attributes(node: str, what: str, a: dict[str, JsonValue], f: claims.Facts, source: _Sources) -> Change:
    if f.get("kind") in (None, "absent"):
        fields = [c for c in _attribute_fields(a, {}, source) if c.after is not None]
        return Change(node=node, target=what, action="create", fields=fields)
    stat = (f.get("stat") or "").split()
    names = (f.get("names") or "").split()
    now = {
        "mode": stat[0] if stat else None,
        "owner": names[0] if names else None,
        "group": names[1] if len(names) > 1 else None,
    }
    fields = [c for c in _attribute_fields(a, now, source) if c.after is not None and c.after != c.before]
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def _attribute_fields(a: dict[str, JsonValue], now: dict[str, str | None], source: _Sources) -> list[FieldChange]:
    mode = a.get("mode")
    return [
        FieldChange(field="mode", before=_octal(now.get("mode")), after=_octal(mode), source=source("mode")),
        FieldChange(field="owner", before=now.get("owner"), after=_str(a.get("user")), source=source("owner")),
        FieldChange(field="group", before=now.get("group"), after=_str(a.get("group")), source=source("group")),
    ]


def _octal(mode: Any) -> str | None:
    if mode is None:
        return None
    text = str(mode).lstrip("0") or "0"
    return text.rjust(4, "0")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


_ENV_LINE = re.compile(r"^(\s*Environment=)(.*)$", re.MULTILINE)


def _mask_env(text: str) -> str:
    """A unit's Environment= values hidden, names kept: ``Environment="A=<hidden>"``."""

    def hide(found: re.Match[str]) -> str:
        try:
            words = shlex.split(found.group(2))
        except ValueError:
            return found.group(1) + HIDDEN
        return found.group(1) + " ".join(f'"{w.split("=", 1)[0]}={HIDDEN}"' for w in words)

    return _ENV_LINE.sub(hide, text)


def _unified(path: str, before: str, after: str, node: str) -> str:
    if "\0" in before or "\0" in after:
        return "binary content differs"
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{node}:{path} (now)",
            tofile=f"{node}:{path} (after apply)",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


# --- checkouts, accounts, packages ------------------------------------------------------------


def _checkout(node: str, dest: str, a: dict[str, JsonValue], f: claims.Facts, source: _Sources) -> Change:
    what = f"checkout {dest}"
    want_ref = _str(a.get("commit") or a.get("branch") or a.get("ref"))
    if f.get("kind") in (None, "absent"):
        fields = [
            FieldChange(field="url", after=_str(a.get("src")), source=source("url")),
            FieldChange(field="ref", after=want_ref, source=source("ref")),
        ]
        return Change(node=node, target=what, action="create", fields=[c for c in fields if c.after])
    fields = []
    origin, rev = f.text("origin"), f.get("rev")
    if a.get("src") is not None and origin is not None and origin.strip() != a.get("src"):
        fields.append(FieldChange(field="url", before=origin.strip(), after=_str(a.get("src")), source=source("url")))
    commit = _str(a.get("commit"))
    if commit and rev and not rev.startswith(commit):
        fields.append(FieldChange(field="ref", before=rev, after=commit, source=source("ref")))
    elif not commit and want_ref:  # a branch or tag: where it points is the remote's to say
        fields.append(FieldChange(field="ref", before=rev, after=f"{want_ref} (fetched)", source=source("ref")))
    if rev is None:
        fields.insert(0, FieldChange(field="type", before=_kind_word(f.get("kind")), after="git checkout"))
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def _user(node: str, a: dict[str, JsonValue], f: claims.Facts, source: _Sources) -> Change:
    name = str(a.get("user"))
    what = f"account {name}"
    passwd = f.text("passwd")
    if a.get("present") is False:
        return Change(node=node, target=what, action="remove" if passwd else "unchanged")
    groups = a.get("groups")
    want_groups = sorted(str(g) for g in groups) if isinstance(groups, list) else []
    if not passwd:
        fields = [
            FieldChange(field="home", after=_str(a.get("home")), source=source("home")),
            FieldChange(field="shell", after=_str(a.get("shell")), source=source("shell")),
            FieldChange(field="groups", after=", ".join(want_groups) or None, source=source("groups")),
        ]
        return Change(node=node, target=what, action="create", fields=[c for c in fields if c.after])
    parts = passwd.split(":")
    now = {"home": parts[5] if len(parts) > 6 else None, "shell": parts[6] if len(parts) > 6 else None}
    fields = [
        FieldChange(field=k, before=now[k], after=_str(a.get(k)), source=source(k))
        for k in ("home", "shell")
        if a.get(k) is not None and _str(a.get(k)) != now[k]
    ]
    have = set((f.text("groups") or "").split())
    missing = [g for g in want_groups if g not in have]
    if missing:
        fields.append(
            FieldChange(
                field="groups", before=", ".join(sorted(have)), after=f"+ {', '.join(missing)}", source=source("groups")
            )
        )
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def _packages(
    node: str, a: dict[str, JsonValue], facts: dict[tuple[str, str], claims.Facts], source: _Sources
) -> list[Change]:
    found = []
    names = a.get("packages")
    for name in names if isinstance(names, list) else []:
        f = facts.get(("package", str(name)))
        if f is None:
            continue
        installed = f.get("installed")
        what = f"package {name}"
        if installed == "?":
            found.append(Change(node=node, target=what, action="unknown"))
        elif a.get("present") is False:
            found.append(Change(node=node, target=what, action="remove" if installed == "1" else "unchanged"))
        elif installed == "1":
            found.append(Change(node=node, target=what, action="unchanged"))
        else:
            install = FieldChange(field="names", after=f"install {name}", source=source("names"))
            found.append(Change(node=node, target=what, action="create", fields=[install]))
    return found


# --- containers ------------------------------------------------------------------------------------


def _container(node: str, a: dict[str, JsonValue], f: claims.Facts, source: _Sources) -> Change:
    name = str(a.get("container"))
    what = f"container {name}"
    inspected = _json(f.text("inspect"))
    if a.get("present") is False:
        return Change(node=node, target=what, action="remove" if inspected else "unchanged")
    label, _, running = (f.text("container") or "|").partition("|")
    if label and label == a.get("spec_hash"):  # made by Clockwork from this very spec
        fields = (
            []
            if a.get("running") is False or running == "true"
            else [FieldChange(field="running", before="false", after="true")]
        )
        return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)
    want = _wanted_container(a)
    if not isinstance(inspected, dict):
        fields = [FieldChange(field="image", after=want["image"], source=source("image"))]
        fields += [
            FieldChange(field=k, after=", ".join(v), source=source(k))
            for k in ("ports", "networks", "volumes")
            if (v := want[k])
        ]
        if want["env"]:
            fields.append(
                FieldChange(
                    field="env", after=", ".join(f"{k}={HIDDEN}" for k in sorted(want["env"])), source=source("env")
                )
            )
        return Change(node=node, target=what, action="create", fields=fields)
    have = _current_container(inspected, _json(f.text("imageenv")))
    fields = []
    for key in ("image", "restartPolicy", "command"):
        if want[key] is not None and want[key] != have[key]:
            fields.append(FieldChange(field=key, before=have[key], after=want[key], source=source(key)))
    for key in ("ports", "volumes", "networks"):
        if sorted(want[key]) != sorted(have[key]):
            fields.append(
                FieldChange(
                    field=key,
                    before=", ".join(sorted(have[key])) or None,
                    after=", ".join(sorted(want[key])) or None,
                    source=source(key),
                )
            )
    env_now, env_want = have["env"], want["env"]
    for key in sorted(set(env_now) | set(env_want)):
        if env_now.get(key) != env_want.get(key):
            was, will = (HIDDEN if key in env_now else None), (HIDDEN if key in env_want else None)
            fields.append(FieldChange(field=f"env.{key}", before=was, after=will, source=source(f"env.{key}")))
    if fields:
        fields.insert(0, FieldChange(field="container", before="as it is", after="re-created"))
    elif a.get("running") is not False and not have["running"]:
        fields.append(FieldChange(field="running", before="false", after="true"))
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _wanted_container(a: dict[str, JsonValue]) -> dict[str, Any]:
    given = a.get("create_args")
    args = [str(x) for x in given] if isinstance(given, list) else []
    flags: dict[str, list[str]] = {}
    for flag, value in zip(args, [*args[1:], ""], strict=True):
        if flag.startswith("--") or flag in ("-p", "-v", "-e"):
            flags.setdefault(flag, []).append(value)
    env = dict(e.split("=", 1) for e in flags.get("-e", []) if "=" in e)
    command = a.get("command")
    return {
        "image": _str(a.get("image")),
        "restartPolicy": next(iter(flags.get("--restart", [])), None),
        "command": " ".join(shlex.split(command)) if isinstance(command, str) and command else None,
        "ports": [_port(p) for p in flags.get("-p", [])],
        "volumes": flags.get("-v", []),
        "networks": flags.get("--network", []),
        "env": env,
    }


def _port(text: str) -> str:
    """``[ip:]host:container[/proto]`` as ``ip:host->container/proto``."""
    spec, _, proto = text.partition("/")
    parts = spec.split(":")
    ip = parts[0] if len(parts) == 3 else "0.0.0.0"
    return f"{ip}:{parts[-2]}->{parts[-1]}/{proto or 'tcp'}"


def _current_container(inspected: dict[str, Any], image_env: Any) -> dict[str, Any]:
    config, host = inspected.get("Config") or {}, inspected.get("HostConfig") or {}
    ports = []
    for inner, binds in (host.get("PortBindings") or {}).items():
        port, _, proto = str(inner).partition("/")
        for b in binds or []:
            ports.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{port}/{proto or 'tcp'}")
    defaults = {str(e) for e in image_env} if isinstance(image_env, list) else set()
    env = dict(str(e).split("=", 1) for e in config.get("Env") or [] if "=" in str(e) and str(e) not in defaults)
    networks = list(((inspected.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    mode = host.get("NetworkMode")
    if mode in ("default", "bridge") and networks == ["bridge"]:
        networks = []
    cmd = config.get("Cmd")
    return {
        "image": config.get("Image"),
        "restartPolicy": (host.get("RestartPolicy") or {}).get("Name") or None,
        "command": " ".join(cmd) if isinstance(cmd, list) and cmd else None,
        "ports": ports,
        "volumes": list(host.get("Binds") or []),
        "networks": networks,
        "env": env,
        "running": bool((inspected.get("State") or {}).get("Running")),
    }
