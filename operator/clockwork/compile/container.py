"""Container -> PyInfra operations: Clockwork's own idempotent container operation
(Docker or Podman), and docker.network for user networks. Pure."""

from __future__ import annotations

import hashlib
import json

from pydantic import JsonValue

from clockwork.api.container import ResolvedContainer
from clockwork.claims import ClaimTarget
from clockwork.plan import Operation

BUILTIN_NETWORKS = {"bridge", "host", "none", "default"}


def _ports(c: ResolvedContainer) -> list[JsonValue]:
    found: list[JsonValue] = []
    for p in c.ports:
        bind = f"{p.host_ip}:{p.host}" if p.host_ip else str(p.host)
        found.append(f"{bind}:{p.container}" + (f"/{p.protocol}" if p.protocol == "udp" else ""))
    return found


def _volumes(c: ResolvedContainer) -> list[JsonValue]:
    return [f"{v.host_path or v.volume}:{v.path}" + (":ro" if v.read_only else "") for v in c.volumes]


def _env(c: ResolvedContainer) -> list[JsonValue]:
    return [f"{k}={v}" for k, v in sorted(c.env.items())]


def spec_hash(c: ResolvedContainer) -> str:
    """What decides whether a container must be re-created."""
    fields = {
        "image": c.image,
        "ports": _ports(c),
        "volumes": _volumes(c),
        "env": _env(c),
        "networks": c.networks,
        "command": c.command,
        "restart": c.restart_policy,
        "memory": c.memory_limit_mb,
        "privileged": c.privileged,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def apply(c: ResolvedContainer) -> list[Operation]:
    if not c.present:
        return [_container(c, present=False, op_id="container.absent")]
    ops = [
        Operation(
            id=f"network.{n}", op="docker.network", args={"network": n, "present": True}, description=f"network {n}"
        )
        for n in c.networks
        if n not in BUILTIN_NETWORKS and c.runtime == "docker"
    ]
    ops.append(_container(c, present=True))
    return ops


def destroy(c: ResolvedContainer) -> list[Operation]:
    return []  # the release removes the container Clockwork made and brings back one it set aside


def claims(c: ResolvedContainer) -> list[ClaimTarget]:
    named = [v.volume for v in c.volumes if v.volume and not v.host_path]
    return [ClaimTarget(type="container", key=c.name, field="spec.name", present=c.present, runtime=c.runtime,
                        volumes=named)]  # fmt: skip


def _container(c: ResolvedContainer, present: bool, op_id: str = "container") -> Operation:
    """Clockwork's own container operation (docker or podman, same CLI): pyinfra's
    docker.container never re-creates a container whose spec changed; this one does,
    by a spec hash kept in a label."""
    if not present:
        args: dict[str, JsonValue] = {"runtime": c.runtime, "container": c.name, "present": False}
        return Operation(id=op_id, op="clockwork.container", args=args, description=f"remove container {c.name}")
    create: list[JsonValue] = ["--restart", c.restart_policy]
    for port in _ports(c):
        create += ["-p", port]
    for volume in _volumes(c):
        create += ["-v", volume]
    for env in _env(c):
        create += ["-e", env]
    for network in c.networks:
        create += ["--network", network]
    if c.memory_limit_mb:
        create += ["--memory", f"{c.memory_limit_mb}m"]
    if c.privileged:
        create += ["--privileged"]
    args = {
        "runtime": c.runtime,
        "container": c.name,
        "image": c.image,
        "create_args": create,
        "command": c.command,
        "present": True,
        "running": c.running,
        "spec_hash": spec_hash(c),
    }
    return Operation(id=op_id, op="clockwork.container", args=args, description=f"container {c.name} ({c.image})")
