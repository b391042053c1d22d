"""What a plan says changes on a node (Change, FieldChange), and the small readers every diff uses."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from clockwork.model import CWModel

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


class Sources:
    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def __call__(self, field: str) -> str:
        top = field.split(".", 1)[0]
        return self.sources.get(field) or self.sources.get(top) or "user"


def octal(mode: Any) -> str | None:
    if mode is None:
        return None
    text = str(mode).lstrip("0") or "0"
    return text.rjust(4, "0")


def text_of(value: Any) -> str | None:
    return None if value is None else str(value)


def json_of(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
