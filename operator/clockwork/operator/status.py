"""The operator's status bookkeeping: what a body's status is ours, the patch that makes it
so, and what the health loop keeps of a body."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from clockwork.api.common import ResourceStatus
from clockwork.api.registry import KindInfo, status_model

if TYPE_CHECKING:
    from clockwork.operator.driver import ObjectState

log = logging.getLogger("clockwork.operator")


def snapshot(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the health loop needs of a body: identity, metadata and spec (not status,
    which this process keeps itself, nor managedFields)."""
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": copy.deepcopy({k: v for k, v in meta.items() if k != "managedFields"}),
        "spec": copy.deepcopy(dict(body.get("spec") or {})),
    }


def without_check_time(wire: dict[str, Any]) -> dict[str, Any]:
    if "health" not in wire:
        return wire
    return {**wire, "health": {k: v for k, v in wire["health"].items() if k != "lastCheckTime"}}


def remember(state: ObjectState, patch: dict[str, Any]) -> None:
    """The status as this process last wrote (or would have written) it."""
    state.status = {k: v for k, v in patch.items() if v is not None}


def object_key(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata", {})
    return f"{body.get('kind')}/{meta.get('namespace')}/{meta.get('name')}"


def read_status(info: KindInfo, raw: dict[str, Any]) -> ResourceStatus[Any]:
    """Our part of a body's status; anything unreadable starts afresh rather than failing."""
    model = status_model(info)
    known = {f.alias or n for n, f in model.model_fields.items()}
    try:
        return model.model_validate({k: v for k, v in raw.items() if k in known})
    except ValidationError:
        log.warning("status of a %s could not be read; starting from an empty status", info.kind)
        return model()


def status_patch(status: ResourceStatus[Any], previous: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that makes the status ours: our fields, and nulls for what we dropped."""
    wire = status.wire()
    known = {f.alias or n for n, f in type(status).model_fields.items()}
    for key in previous:
        if key in known and key not in wire:
            wire[key] = None
    return wire
