"""What a claim is about (a target), what it leaves on the node (a record), and what was read there."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, JsonValue, ValidationError

from clockwork.model import CWModel

OnExisting = Literal["refuse", "backup", "adopt"]


ClaimType = Literal["file", "directory", "checkout", "user", "package", "container"]


ClaimState = Literal["created", "backup", "adopted", "absent"]


PATH_TYPES = ("file", "directory", "checkout")


# What a release says for people starts its output lines with this (Events, CLI).
NOTE = "clockwork: "


LOGIN_SHELLS_WITHOUT_LOGIN = ("nologin", "false")


class ClaimTarget(CWModel):
    """One thing a plan touches, as compile/ names it."""

    type: ClaimType
    key: str = Field(min_length=1, max_length=4096, description="Path, account, package or container name.")
    field: str = Field(default="", description="The spec field it comes from, for messages (spec.path).")
    present: bool = True
    on_existing: OnExisting = "backup"
    # A completer chose this path: the node-side path rules apply.
    guard: bool = False
    recursive: bool = False
    home: str | None = None
    shell: str | None = None
    manager: str | None = None
    runtime: str | None = None
    # A container's named volumes: its data, which destroy leaves in place (and says so).
    volumes: list[str] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.type}\0{self.key}".encode()).hexdigest()[:24]

    @property
    def what(self) -> str:
        return f"{self.type} {self.key}"

    def where(self) -> str:
        return f"{self.field}: " if self.field else ""


class Record(CWModel):
    """What a claim left on the node (``record.json``)."""

    owners: list[str] = Field(min_length=1)
    type: ClaimType
    key: str
    # The whole target as it was claimed, so that a release needs nothing but the owner.
    target: ClaimTarget | None = None
    state: ClaimState
    before: dict[str, JsonValue] = Field(default_factory=dict)
    created_parents: list[str] = Field(default_factory=list)


@dataclass
class Facts:
    """What the read command found for one target."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def text(self, key: str) -> str | None:
        raw = self.values.get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw).decode(errors="surrogateescape") if raw else ""
        except ValueError:
            return None

    @property
    def record(self) -> Record | None:
        raw = self.text("record")
        if not raw:
            return None
        try:
            return Record.model_validate_json(raw)
        except ValidationError:
            return None


@dataclass
class NodeState:
    state_dir: str
    roots: list[str]
    targets: dict[str, Facts]

    def facts(self, target: ClaimTarget) -> Facts:
        return self.targets.get(target.id, Facts())


class Refused(Exception):
    """A claim that must not go ahead; the message names the field, the thing and what to do."""


@dataclass
class Plan:
    """Commands for the node, in order; empty when nothing needs recording or restoring."""

    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def record_command(target: ClaimTarget, record: Record) -> str:
    data = base64.b64encode(record.model_dump_json(by_alias=True).encode()).decode()
    folder = f'"$S/claims/{target.id}"'
    temp = f"{folder}/record.json.tmp"
    return f"printf %s {data} | base64 -d > {temp} && mv -f {temp} {folder}/record.json"
