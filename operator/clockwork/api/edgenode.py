"""The EdgeNode kind: a machine Clockwork reaches over SSH.

Labels (``metadata.labels``) are what ``spec.target.nodeSelector`` of deployable
kinds matches. The private key comes from a Secret in the operator, or from a
file in local mode; it never appears in spec, status, logs or Events.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, StrictBool, model_validator

from clockwork.api.base import Condition, DNSSubdomain
from clockwork.api.common import Resource
from clockwork.api.types import AbsolutePath, Line, PosixName
from clockwork.cel import CelRule
from clockwork.model import CWModel
from clockwork.text import single_line

_ADDRESS = re.compile(
    r"^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|[0-9a-fA-F:]+)$"
)
_KNOWN_HOSTS_KEY = re.compile(
    r"^((\S+)\s+)?(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+[A-Za-z0-9+/=]+(\s.*)?$"
)


def _known_hosts_line(line: str) -> str:
    single_line(line.strip())  # one entry per line: a line break would smuggle in another
    if not _KNOWN_HOSTS_KEY.match(line.strip()):
        raise ValueError(
            f"{line[:60]!r} is not a known_hosts entry ('[host] ssh-ed25519 AAAA...'); "
            "get one with: ssh-keyscan -t ed25519 HOST"
        )
    return line.strip()


Capability = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9._/]*[a-z0-9])?$", max_length=63)]
KnownHostsLine = Annotated[str, Field(max_length=16384), AfterValidator(_known_hosts_line)]

EdgeNodePhase = Literal["Online", "Stale", "Offline", "Unknown"]


class SecretKeyRef(CWModel):
    name: DNSSubdomain = Field(description="Name of a Secret in the EdgeNode's namespace.")
    key: str | None = Field(
        default=None,
        max_length=253,
        description="Key in the Secret holding the private key (ssh-privatekey).",
    )


class HostKeySpec(CWModel):
    known_hosts: list[KnownHostsLine] | None = Field(
        default=None,
        max_length=16,
        description="Accepted host keys: known_hosts lines, or bare 'ssh-ed25519 AAAA...'. Other keys are refused.",
    )
    trust_on_first_use: StrictBool | None = Field(
        default=None,
        description="Without knownHosts: record the key seen first in status and refuse any other later (true).",
    )


ONE_KEY_SOURCE = CelRule(
    rule="!(has(self.sshKeySecret) && has(self.sshKeyFile))",
    message="set either sshKeySecret (operator) or sshKeyFile (local mode), not both",
)


class EdgeNodeSpec(CWModel):
    """A machine the operator reaches over SSH, and what it can do."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_KEY_SOURCE,)

    description: str | None = Field(
        default=None, max_length=4096, description="What it is for, in words (shown by kubectl explain and the docs)."
    )
    address: str = Field(max_length=253, pattern=_ADDRESS.pattern, description="Hostname or IP address.")
    port: int | None = Field(default=None, ge=1, le=65535, description="SSH port (22).")
    user: PosixName | None = Field(default=None, description="SSH user (root).")
    ssh_key_secret: SecretKeyRef | None = Field(default=None, description="Secret with the private key (operator).")
    ssh_key_file: AbsolutePath | None = Field(default=None, description="Private key file (local mode).")
    host_key: HostKeySpec | None = Field(default=None, description="How the node's SSH host key is verified.")
    capabilities: list[Capability] | None = Field(
        default=None, max_length=64, description="What the node can do, for Tasks (gpu, camera, arm64, ...)."
    )
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=64, description="Runs at once on this node (2).")
    heartbeat_seconds: int | None = Field(default=None, ge=5, le=3600, description="Seconds between probes (30).")
    offline_after: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Missed probes before the node is Offline (3); Stale after one.",
    )
    connect_timeout_seconds: int | None = Field(
        default=None, ge=1, le=60, description="Seconds to wait for SSH to answer (5)."
    )
    kubernetes_node_name: str | None = Field(
        default=None, max_length=253, description="The Kubernetes node this machine is, for the Job runner."
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        ONE_KEY_SOURCE.check(self.ssh_key_secret is not None and self.ssh_key_file is not None)
        return self

    # Defaults, in one place.
    @property
    def effective_port(self) -> int:
        return self.port or 22

    @property
    def effective_user(self) -> str:
        return self.user or "root"

    @property
    def effective_max_runs(self) -> int:
        return self.max_concurrent_runs or 2

    @property
    def effective_heartbeat(self) -> int:
        return self.heartbeat_seconds or 30

    @property
    def effective_offline_after(self) -> int:
        return self.offline_after or 3

    @property
    def effective_connect_timeout(self) -> int:
        return self.connect_timeout_seconds or 5

    @property
    def trusts_on_first_use(self) -> bool:
        host_key = self.host_key or HostKeySpec()
        if host_key.known_hosts:
            return False
        return host_key.trust_on_first_use is not False


class NodeFacts(CWModel):
    os: str | None = None
    distribution: str | None = None
    arch: str | None = None
    kernel: str | None = None
    hostname: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    disk_free_mb: int | None = None


class EdgeNodeStatus(CWModel):
    observed_generation: int | None = None
    phase: EdgeNodePhase | None = Field(default=None, description="Online, Stale, Offline or Unknown.")
    last_seen: datetime | None = Field(default=None, description="Last successful probe.")
    last_probe_time: datetime | None = None
    consecutive_failures: int = 0
    message: str = Field(default="", max_length=4096)
    facts: NodeFacts | None = None
    host_key: Line | None = Field(
        default=None, max_length=16384, description="The host key trusted on first use (known_hosts line)."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class EdgeNode(Resource):
    kind: Literal["EdgeNode"] = "EdgeNode"
    spec: EdgeNodeSpec
    status: EdgeNodeStatus | None = None
