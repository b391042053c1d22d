"""The contract between compile/, health/ and the runners: plans in, results out.

A :class:`RunRequest` is plain JSON: the hosts to reach, the PyInfra operations to
apply (by allow-listed name) and the probes to read back (facts and commands).
The PyInfra worker process executes it and answers with a :class:`RunResult`.
The same JSON is what a Kubernetes Job runner hands to the worker inside a pod.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import Field, JsonValue, SecretStr, SerializationInfo, field_serializer

from clockwork.model import CWModel
from clockwork.text import known_hosts_line

# Operations the worker will execute; anything else is refused before it runs.
OperationName = Literal[
    "clockwork.put",
    "files.file",
    "files.directory",
    "server.shell",
    "server.user",
    "server.packages",
    "apt.packages",
    "dnf.packages",
    "apk.packages",
    "git.repo",
    "docker.container",
    "docker.network",
    "clockwork.package_index_update",
    "clockwork.git_checkout",
    "clockwork.systemd_unit",
    "clockwork.container",
    "clockwork.systemd_unit_absent",
    "clockwork.claim",
    "clockwork.release",
]

# Facts a probe may read.
FactName = Literal[
    "files.File",
    "files.Directory",
    "files.Sha256File",
    "clockwork.Claims",
]

OUTPUT_TAIL_CHARS = 4000


class Operation(CWModel):
    id: str = Field(description="Stable id within the plan, e.g. file.put.")
    op: OperationName
    args: dict[str, JsonValue] = Field(default_factory=dict)
    description: str = ""


class FactProbe(CWModel):
    kind: Literal["fact"] = "fact"
    id: str
    fact: FactName
    args: dict[str, JsonValue] = Field(default_factory=dict)


class CommandProbe(CWModel):
    kind: Literal["command"] = "command"
    id: str
    command: str
    timeout_seconds: int = Field(default=30, ge=1, le=3600)


Probe = Annotated[FactProbe | CommandProbe, Field(discriminator="kind")]


HostKeyPolicy = Literal["strict", "accept-new"]


class SecretRef(CWModel):
    name: str
    key: str


class Origin(CWModel):
    """Which resource a run is for (a Job runner names and owns its objects by it)."""

    namespace: str
    kind: str
    name: str
    uid: str | None = None


class HostSpec(CWModel):
    """How to reach one host. ``@local`` is the machine the worker runs on.

    ``private_key`` travels only on the worker's stdin (never argv, never a
    ConfigMap): it is masked in every dump unless the runner asks to reveal it.
    """

    name: str
    connector: Literal["local", "ssh", "docker"] = "local"
    address: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    user: str = "root"
    private_key: SecretStr | None = None
    key_file: str | None = Field(default=None, description="Path of the private key where the worker runs.")
    # known_hosts lines for this host; "strict" refuses unknown and changed keys,
    # "accept-new" learns a key the first time (and still refuses a changed one).
    known_hosts: list[str] = Field(default_factory=list)
    host_key_policy: HostKeyPolicy = "strict"
    container: str | None = Field(default=None, description="Container name or id (docker connector).")
    # Where the key lives in the cluster, for runners that mount it instead (Job).
    key_secret: SecretRef | None = None
    # The Kubernetes node this machine is (a Job runs there when it names one).
    kubernetes_node: str | None = None
    # Where Clockwork keeps its claims and backups on this host (the node's default:
    # /var/lib/clockwork for root, ~/.local/state/clockwork otherwise).
    state_dir: str | None = None

    @field_serializer("private_key", when_used="always")
    def _key(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        if value is None:
            return None
        revealed = isinstance(info.context, dict) and info.context.get("reveal_secrets") is True
        return value.get_secret_value() if revealed else "**********"


def known_hosts_pattern(spec: HostSpec) -> str:
    """How known_hosts (and paramiko) name a host: ``addr``, or ``[addr]:port`` off port 22."""
    address = spec.address or spec.name
    return address if spec.port == 22 else f"[{address}]:{spec.port}"


def known_hosts_lines(spec: HostSpec) -> list[str]:
    """The spec's lines, each with the host pattern in front when it was given as a bare key."""
    lines = []
    for line in spec.known_hosts:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            known_hosts_line(line)
        except ValueError as exc:
            raise ValueError(f"host {spec.name}: a known_hosts entry {exc}") from None
        first = line.split()[0]
        if first.startswith(("ssh-", "ecdsa-", "sk-")):
            line = f"{known_hosts_pattern(spec)} {line}"
        lines.append(line)
    return lines


class RunRequest(CWModel):
    hosts: list[HostSpec]
    operations: list[Operation] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    connect_timeout_seconds: int = Field(default=10, ge=1, le=300)
    timeout_seconds: int = Field(default=600, ge=1, le=86400)
    # Hosts worked on at once by one worker (PyInfra greenlets).
    parallel: int = Field(default=20, ge=1, le=500)
    origin: Origin | None = None


class OperationResult(CWModel):
    id: str
    success: bool
    changed: bool
    stdout_tail: str = ""
    stderr_tail: str = ""
    error: str | None = None


class ProbeResult(CWModel):
    id: str
    success: bool
    value: JsonValue = None
    exit_code: int | None = None
    output_tail: str = ""
    error: str | None = None


HostOutcome = Literal["ok", "changed", "failed"]


class HostResult(CWModel):
    name: str
    connected: bool
    outcome: HostOutcome
    error: str | None = None
    # Host keys learned under "accept-new" (trust on first use), as known_hosts lines.
    learned_host_keys: list[str] = Field(default_factory=list)
    operations: list[OperationResult] = Field(default_factory=list)
    probes: list[ProbeResult] = Field(default_factory=list)
    duration_seconds: float = 0.0

    def probe(self, probe_id: str) -> ProbeResult | None:
        return next((p for p in self.probes if p.id == probe_id), None)

    @property
    def changed(self) -> bool:
        return any(op.changed for op in self.operations)


class RunResult(CWModel):
    hosts: list[HostResult] = Field(default_factory=list)
    duration_seconds: float = 0.0
    error: str | None = Field(default=None, description="A failure of the run as a whole.")

    def host(self, name: str) -> HostResult | None:
        return next((h for h in self.hosts if h.name == name), None)

    @property
    def ok(self) -> bool:
        return self.error is None and all(h.outcome != "failed" for h in self.hosts)

    def reached(self) -> RunResult:
        """The hosts whose operations all succeeded: where probes that rode along were read."""
        return self.model_copy(update={"hosts": [h for h in self.hosts if h.outcome != "failed"]})

    @classmethod
    def failed(cls, hosts: list[HostSpec], error: str, duration: float = 0.0) -> RunResult:
        """Every host failed for one reason (worker crash, timeout before any result)."""
        return cls(
            hosts=[HostResult(name=h.name, connected=False, outcome="failed", error=error) for h in hosts],
            duration_seconds=duration,
            error=error,
        )


# A worker that runs where only its log comes back (a Kubernetes Job) prints its result as one
# line with this prefix, among whatever else PyInfra printed (clockwork.runners.job reads it).
RESULT_MARKER = "CLOCKWORK-RESULT "


def result_line(result: RunResult) -> str:
    return RESULT_MARKER + result.model_dump_json()


def tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    """The end of an output, where the error usually is."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def plan_hash(operations: list[Operation]) -> str:
    """Stable hash of what a plan does (the applied hash kept per node)."""
    canonical = json.dumps([op.wire() for op in operations], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
