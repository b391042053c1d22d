"""Diff of a container: the configuration applying would run it with against what runs now."""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import JsonValue

from clockwork import claims
from clockwork.diff.change import HIDDEN, Change, FieldChange, Sources, json_of, text_of


def container_change(node: str, a: dict[str, JsonValue], f: claims.Facts, source: Sources) -> Change:
    name = str(a.get("container"))
    what = f"container {name}"
    inspected = json_of(f.text("inspect"))
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
    have = _current_container(inspected, json_of(f.text("imageenv")))
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
        "image": text_of(a.get("image")),
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
