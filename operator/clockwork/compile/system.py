"""Directory, User and Package -> PyInfra operations. Pure."""

from __future__ import annotations

from pydantic import JsonValue

from clockwork.api.system import ResolvedDirectory, ResolvedPackage, ResolvedUser
from clockwork.api.types import normalise_mode
from clockwork.plan import Operation


def directory_apply(d: ResolvedDirectory) -> list[Operation]:
    if not d.present:
        return [
            Operation(
                id="directory.absent",
                op="files.directory",
                args={"path": d.path, "present": False},
                description=f"remove directory {d.path}",
            )
        ]
    args: dict[str, JsonValue] = {
        "path": d.path,
        "present": True,
        "mode": normalise_mode(d.mode),
        "recursive": d.recursive,
    }
    if d.owner is not None:
        args["user"] = d.owner
    if d.group is not None:
        args["group"] = d.group
    return [
        Operation(id="directory", op="files.directory", args=args, description=f"directory {d.path} ({args['mode']})")
    ]


def directory_destroy(d: ResolvedDirectory) -> list[Operation]:
    if not d.present:
        return []
    return [
        Operation(
            id="directory.remove",
            op="files.directory",
            args={"path": d.path, "present": False},
            description=f"remove directory {d.path}",
        )
    ]


def user_apply(u: ResolvedUser) -> list[Operation]:
    if not u.present:
        return [
            Operation(
                id="user.absent",
                op="server.user",
                args={"user": u.name, "present": False},
                description=f"remove user {u.name}",
            )
        ]
    args: dict[str, JsonValue] = {"user": u.name, "present": True, "system": u.system}
    # A system account gets a home only when one is named.
    args["ensure_home"] = not u.system or u.home is not None
    for key, value in (("home", u.home), ("shell", u.shell), ("group", u.group)):
        if value is not None:
            args[key] = value
    if u.groups:
        args["groups"] = list(u.groups)
    return [Operation(id="user", op="server.user", args=args, description=f"user {u.name}")]


def user_destroy(u: ResolvedUser) -> list[Operation]:
    if not u.present:
        return []
    return [
        Operation(
            id="user.remove",
            op="server.user",
            args={"user": u.name, "present": False},
            description=f"remove user {u.name}",
        )
    ]


def _package_op(p: ResolvedPackage, present: bool, op_id: str) -> Operation:
    names: list[JsonValue] = list(p.names)
    if p.manager == "auto":
        args: dict[str, JsonValue] = {"packages": names, "present": present}
        op = "server.packages"
    else:
        args = {"packages": names, "present": present}
        if p.update and present:
            args["update"] = True
        op = f"{p.manager}.packages"
    verb = "install" if present else "remove"
    return Operation(id=op_id, op=op, args=args, description=f"{verb} {', '.join(p.names)} ({p.manager})")  # type: ignore[arg-type]


def package_apply(p: ResolvedPackage) -> list[Operation]:
    ops = []
    if p.update and p.present and p.manager == "auto":
        # server.packages cannot refresh the index itself.
        ops.append(
            Operation(
                id="package.update",
                op="clockwork.package_index_update",
                args={},
                description="refresh the package index",
            )
        )
    return [*ops, _package_op(p, p.present, "package" if p.present else "package.absent")]


def package_destroy(p: ResolvedPackage) -> list[Operation]:
    return [_package_op(p, False, "package.remove")] if p.present else []
