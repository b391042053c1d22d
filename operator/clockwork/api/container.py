"""The Container kind: one container on the target node, through Docker or Podman."""

from __future__ import annotations

import shlex
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, StrictBool, model_validator

from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus
from clockwork.api.types import AbsolutePath, EnvMap, Guarded, Tier
from clockwork.cel import CelRule
from clockwork.errors import pattern_rule
from clockwork.model import CWModel

ImageRef = Annotated[
    str,
    Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"),
    Guarded.IMAGE,
]
ContainerName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"), Guarded.NAME]
HostPort = Annotated[int, Field(ge=1, le=65535), Guarded.PORT]
InnerPath = Annotated[
    str,
    Field(
        pattern=pattern_rule(r"^/[^\x00\n:]*$", "must be an absolute path without ':', line breaks or NUL"),
        max_length=4096,
    ),
]
Runtime = Literal["docker", "podman"]
RestartPolicy = Literal["no", "always", "unless-stopped", "on-failure"]


class PortMapping(CWModel):
    host: HostPort = Field(description="Port on the node.")
    container: int = Field(ge=1, le=65535, description="Port inside the container.")
    protocol: Literal["tcp", "udp"] | None = Field(default=None, description="tcp (default) or udp.")
    host_ip: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F.:]+$", max_length=45, description="Node address to bind (all)."
    )


ONE_VOLUME_SOURCE = CelRule(
    rule="has(self.hostPath) != has(self.volume)", message="set exactly one of hostPath or volume"
)


class VolumeMount(CWModel):
    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_VOLUME_SOURCE,)

    path: InnerPath = Field(description="Where it appears inside the container.")
    host_path: Annotated[AbsolutePath, Guarded.HOST_PATH] | None = Field(
        default=None, description="A directory of the node (bind mount)."
    )
    volume: ContainerName | None = Field(default=None, description="A named volume.")
    read_only: StrictBool | None = Field(default=None, description="Mount it read-only.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        ONE_VOLUME_SOURCE.check((self.host_path is None) == (self.volume is None))
        return self


class HttpCheck(CWModel):
    path: str | None = Field(
        default=None,
        pattern=pattern_rule(
            r"^/[^\s'\"`$;|&<>]*$", "must be a URL path starting with '/', without spaces, quotes or shell characters"
        ),
        max_length=1024,
        description="(/)",
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="Host port to ask (the first mapped).")
    expect_status: int | None = Field(default=None, ge=100, le=599, description="(200)")


def _words(command: str) -> str:
    try:
        shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"command cannot be split into words: {exc}") from None
    return command


class ContainerSpec(DeployableSpec):
    """A container: image, ports, volumes, environment; kept running and checked every 30 s."""

    image: Annotated[ImageRef, Tier.REVIEW] | None = Field(
        default=None, description="Image reference, e.g. nginx:1.27-alpine."
    )
    name: ContainerName | None = Field(default=None, description="Container name (the resource's name).")
    ports: Annotated[list[PortMapping], Tier.SAFE] | None = Field(
        default=None, max_length=64, description="Ports of the node mapped into the container."
    )
    volumes: Annotated[list[VolumeMount], Tier.SAFE] | None = Field(
        default=None, max_length=64, description="Folders and volumes mounted into the container."
    )
    env: Annotated[EnvMap, Tier.SAFE] | None = Field(default=None, description="Environment variables.")
    networks: Annotated[list[ContainerName], Guarded.NETWORK, Tier.SAFE] | None = Field(
        default=None, max_length=16, description="Networks to join (a completer may only choose clockwork)."
    )
    command: Annotated[str, AfterValidator(_words), Guarded.COMMAND, Tier.REVIEW] | None = Field(
        default=None, max_length=4096, description="Command and arguments, split like a shell would (the image's)."
    )
    restart_policy: Annotated[RestartPolicy, Tier.SAFE] | None = Field(default=None, description="(unless-stopped)")
    memory_limit_mb: int | None = Field(default=None, ge=4, le=1048576, description="Memory cap in megabytes (no cap).")
    privileged: Annotated[StrictBool, Guarded.PRIVILEGED] | None = Field(default=None, description="(false)")
    http_check: Annotated[HttpCheck, Tier.SAFE] | None = Field(
        default=None, description="Also check an HTTP answer on a mapped port."
    )
    present: StrictBool | None = Field(default=None, description="true: exists; false: removed (true).")
    running: StrictBool | None = Field(default=None, description="true: started; false: created but stopped (true).")
    runtime: Runtime | None = Field(default=None, description="docker (default) or podman.")


class Container(Resource):
    kind: Literal["Container"] = "Container"
    spec: ContainerSpec
    status: ResourceStatus[ContainerSpec] | None = None


class ResolvedContainer(ResolvedCommon):
    image: ImageRef
    name: ContainerName
    ports: list[PortMapping] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    env: EnvMap = Field(default_factory=dict)
    networks: list[ContainerName] = Field(default_factory=list)
    command: str | None = None
    restart_policy: RestartPolicy
    memory_limit_mb: int | None = None
    privileged: bool = False
    http_check: HttpCheck | None = None
    present: bool
    running: bool
    runtime: Runtime
