"""A model with every guarded kind of value, for the guard's tests and remediation's."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from clockwork.api.types import AbsolutePath, FileMode, Guarded, Tier
from clockwork.model import CWModel


class Port(CWModel):
    # Inside the container any port is fine; the host side is what the guard watches.
    container: int
    host: Annotated[int, Guarded.PORT] | None = None


class Volume(CWModel):
    host_path: Annotated[str, Guarded.HOST_PATH] | None = None
    path: str  # inside the container: not a path on the node


class ServiceSpec(CWModel):
    """Stands for the container-like kinds: every guarded kind of value in one model,
    each completable (tier safe) so that every rule can be reached."""

    name: Annotated[str, Guarded.NAME, Tier.SAFE] | None = None
    image: Annotated[str, Guarded.IMAGE, Tier.SAFE] | None = None
    ports: Annotated[list[Port], Tier.SAFE] | None = None
    volumes: Annotated[list[Volume], Tier.SAFE] | None = None
    privileged: Annotated[bool, Guarded.PRIVILEGED, Tier.SAFE] | None = None
    data: Annotated[AbsolutePath, Tier.SAFE] | None = None
    mode: Annotated[FileMode, Tier.SAFE] | None = None
    content: Annotated[str, Guarded.CONTENT, Field(max_length=10**7), Tier.SAFE] | None = None
    owner: str | None = None  # no tier: never a completer's
