"""Directory, User and Package -> PyInfra operations. Pure."""

from __future__ import annotations

from pydantic import JsonValue

from clockwork.api.system import ResolvedDirectory, ResolvedPackage, ResolvedUser
from clockwork.api.types import normalise_mode
from clockwork.claims import ClaimTarget
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
    return []  # the release: a directory Clockwork made goes (kept aside when not empty)


def directory_claims(d: ResolvedDirectory) -> list[ClaimTarget]:
    return [ClaimTarget(type="directory", key=d.path, field="spec.path", present=d.present, recursive=d.recursive)]


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
    return []  # the release: an account Clockwork made goes, one it changed gets its fields back


def user_claims(u: ResolvedUser) -> list[ClaimTarget]:
    # pyinfra gives a new account /home/NAME when it names no home (and makes it theirs).
    home = u.home or (None if u.system else f"/home/{u.name}")
    return [ClaimTarget(type="user", key=u.name, field="spec.name", present=u.present, home=home, shell=u.shell)]


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
    return []  # the release: packages Clockwork installed go, packages it removed come back


def package_claims(p: ResolvedPackage) -> list[ClaimTarget]:
    return [
        ClaimTarget(type="package", key=name, field="spec.names", present=p.present, manager=p.manager)
        for name in p.names
    ]
