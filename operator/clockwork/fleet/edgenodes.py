"""EdgeNodes: how to reach one, what its heartbeat means, and which nodes a target names.

Pure functions: the probe is a RunRequest any runner executes; its result becomes
the node's next status (phase Online/Stale/Offline, facts, trusted host key) and
the Events for phase changes. Target resolution turns ``spec.target`` into the
nodes to run on, and the ones to skip (Offline) with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from clockwork.api.base import ObjectMeta
from clockwork.api.common import Target
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus, NodeFacts
from clockwork.plan import CommandProbe, HostSpec, RunRequest, RunResult, SecretRef
from clockwork.reconcile import Event
from clockwork.reconcile import conditions as cond

REACHABLE = "Reachable"
HOST_KEY_TRUSTED = "HostKeyTrusted"

# One round trip that works on busybox as well as on a full distribution.
FACTS_COMMAND = (
    "uname -s; uname -m; uname -r; hostname; "
    "(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo); "
    "awk '/MemTotal/ {print $2}' /proc/meminfo; "
    "df -Pk / | awk 'NR==2 {print $4}'; "
    '( . /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" ) || echo'
)


def host_spec(
    node: EdgeNode,
    status: EdgeNodeStatus | None,
    *,
    private_key: str | None = None,
    key_file: str | None = None,
    key_secret: SecretRef | None = None,
) -> HostSpec:
    """How the worker reaches ``node``: its key, and the host keys it may accept."""
    spec = node.spec
    known = list((spec.host_key.known_hosts if spec.host_key else None) or [])
    recorded = status.host_key if status is not None else None
    if spec.trusts_on_first_use and recorded:
        known = [recorded]
    policy = "accept-new" if spec.trusts_on_first_use and not known else "strict"
    return HostSpec.model_validate(
        {
            "name": node.metadata.name,
            "connector": "ssh",
            "address": spec.address,
            "port": spec.effective_port,
            "user": spec.effective_user,
            "private_key": private_key,
            "key_file": key_file if private_key is None else None,
            "known_hosts": known,
            "host_key_policy": policy,
            "key_secret": key_secret.wire() if key_secret else None,
            "kubernetes_node": spec.kubernetes_node_name,
        }
    )


def probe_request(node: EdgeNode, host: HostSpec) -> RunRequest:
    timeout = node.spec.effective_connect_timeout
    return RunRequest(
        hosts=[host],
        probes=[CommandProbe(id="facts", command=FACTS_COMMAND, timeout_seconds=timeout + 10)],
        connect_timeout_seconds=timeout,
        timeout_seconds=timeout + 20,
    )


def parse_facts(output: str) -> NodeFacts:
    """The facts from ``FACTS_COMMAND`` output; a missing line is just unknown."""
    lines = [line.strip() for line in output.splitlines()]
    lines += [""] * (8 - len(lines))

    def number(text: str) -> int | None:
        return int(text) if text.isdigit() else None

    kib = number(lines[5])
    free_kib = number(lines[6])
    return NodeFacts(
        os=lines[0] or None,
        arch=lines[1] or None,
        kernel=lines[2] or None,
        hostname=lines[3] or None,
        cpus=number(lines[4]),
        memory_mb=kib // 1024 if kib is not None else None,
        disk_free_mb=free_kib // 1024 if free_kib is not None else None,
        distribution=lines[7] or None,
    )


def host_key_changed(error: str | None) -> bool:
    return bool(error) and "does not match" in (error or "")


@dataclass
class Heartbeat:
    status: EdgeNodeStatus
    events: list[Event] = field(default_factory=list)


def next_status(
    node: EdgeNode, status: EdgeNodeStatus | None, result: RunResult | None, now: datetime, error: str | None = None
) -> Heartbeat:
    """The node's status after a probe (``result``), or after failing to even start one (``error``)."""
    before = status or EdgeNodeStatus(phase="Unknown")
    after = before.model_copy(deep=True)
    after.observed_generation = node.metadata.generation
    after.last_probe_time = now
    events: list[Event] = []
    host = result.hosts[0] if result is not None and result.hosts else None
    probe = host.probe("facts") if host is not None else None
    reason = error or (host.error if host is not None else None) or (result.error if result is not None else None)

    def set_condition(type_: str, ok: bool, why: str, message: str) -> None:
        after.conditions = cond.set_condition(
            after.conditions, type_, "True" if ok else "False", why, message,
            generation=node.metadata.generation, now=now,
        )  # fmt: skip

    if host is not None and host.connected and probe is not None and probe.success and probe.exit_code == 0:
        after.phase = "Online"
        after.last_seen = now
        after.consecutive_failures = 0
        after.facts = parse_facts(probe.output_tail)
        after.message = f"reachable ({after.facts.distribution or after.facts.os or 'unknown OS'})"
        if host.learned_host_keys and node.spec.trusts_on_first_use and not before.host_key:
            after.host_key = host.learned_host_keys[0]
            events.append(Event("Normal", "HostKeyTrusted", f"trusted on first use: {_fingerprint(after.host_key)}"))
        set_condition(REACHABLE, True, "ProbeSucceeded", after.message)
        set_condition(HOST_KEY_TRUSTED, True, "HostKeyMatches", "the host key matches the trusted one")
    else:
        after.consecutive_failures = before.consecutive_failures + 1
        limit = node.spec.effective_offline_after
        after.phase = "Offline" if after.consecutive_failures >= limit else "Stale"
        if host_key_changed(reason):
            after.phase = "Offline"
            message = (
                f"the host key of {node.spec.address} changed and is refused: {reason}; if the change is "
                "expected, put the new key in spec.hostKey.knownHosts (ssh-keyscan) or re-create the EdgeNode"
            )
            set_condition(HOST_KEY_TRUSTED, False, "HostKeyChanged", message)
            if cond.get(before.conditions, HOST_KEY_TRUSTED) is None or cond.is_true(
                before.conditions, HOST_KEY_TRUSTED
            ):
                events.append(Event("Warning", "HostKeyChanged", message[:1000]))
        else:
            message = reason or "probe failed"
            if probe is not None and probe.exit_code not in (None, 0):
                message = f"probe command exited {probe.exit_code}: {probe.output_tail[-300:]}"
        after.message = message[:4000]
        set_condition(REACHABLE, False, "ProbeFailed",
                      f"{after.consecutive_failures} probe(s) failed: {message}"[:2000])  # fmt: skip
    if after.phase != before.phase:
        kind: str = "Normal" if after.phase == "Online" else "Warning"
        events.append(Event(kind, f"Node{after.phase}", after.message[:1000]))  # type: ignore[arg-type]
    return Heartbeat(after, events)


def _fingerprint(line: str) -> str:
    parts = line.split()
    return f"{parts[-2]} {parts[-1][:16]}…" if len(parts) >= 2 else line[:32]


@dataclass
class Resolution:
    """What a target names: nodes to run on, nodes skipped (with why), or an error."""

    targets: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    # The phase of every node the target named (None: never probed).
    phases: dict[str, str | None] = field(default_factory=dict)


def resolve_targets(
    target: Target, meta: ObjectMeta, nodes: list[tuple[EdgeNode, EdgeNodeStatus | None]]
) -> Resolution:
    """The EdgeNodes in the resource's namespace that its target names."""
    if target.local or not (target.node_name or target.node_selector):
        return Resolution(targets=["@local"])
    here = [(n, s) for n, s in nodes if n.metadata.namespace == meta.namespace]
    if target.node_name:
        chosen = [(n, s) for n, s in here if n.metadata.name == target.node_name]
        if not chosen:
            return Resolution(error=f"spec.target.nodeName: EdgeNode {target.node_name!r} not found in "
                                    f"namespace {meta.namespace!r}")  # fmt: skip
    else:
        selector = target.node_selector or {}
        chosen = [(n, s) for n, s in here if all(n.metadata.labels.get(k) == v for k, v in selector.items())]
        if not chosen:
            shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            return Resolution(error=f"spec.target.nodeSelector: no EdgeNode in namespace {meta.namespace!r} "
                                    f"has the labels {shown}")  # fmt: skip
    found = Resolution()
    for node, status in sorted(chosen, key=lambda pair: pair[0].metadata.name):
        phase = status.phase if status is not None else None
        found.phases[node.metadata.name] = phase
        if phase == "Offline":
            since = status.last_seen.isoformat() if status is not None and status.last_seen else "never seen"
            found.skipped[node.metadata.name] = (
                f"EdgeNode is Offline (last seen {since}): {status.message if status else ''}"
            )
        else:
            found.targets.append(node.metadata.name)
    return found
