"""File -> PyInfra operations. Pure: the same resolved File always gives the same plan."""

from __future__ import annotations

from pydantic import JsonValue

from clockwork.api.file import ResolvedFile
from clockwork.api.types import normalise_mode
from clockwork.claims import ClaimTarget
from clockwork.plan import Operation


def _remove(file: ResolvedFile, op_id: str) -> Operation:
    return Operation(
        id=op_id,
        op="files.file",
        args={"path": file.path, "present": False},
        description=f"remove {file.path}",
    )


def apply(file: ResolvedFile) -> list[Operation]:
    if not file.present:
        return [_remove(file, "file.absent")]
    mode = normalise_mode(file.mode)
    args: dict[str, JsonValue] = {
        "dest": file.path,
        "content": file.content or "",
        "mode": mode,
        "create_remote_dir": True,
    }
    if file.owner is not None:
        args["user"] = file.owner
    if file.group is not None:
        args["group"] = file.group
    return [Operation(id="file.put", op="clockwork.put", args=args, description=f"put {file.path} ({mode})")]


def destroy(file: ResolvedFile) -> list[Operation]:
    # The release that ends every destroy removes what apply made and restores what it replaced.
    return []


def claims(file: ResolvedFile) -> list[ClaimTarget]:
    return [ClaimTarget(type="file", key=file.path, field="spec.path", present=file.present)]
