"""Settings read from the environment, each documented where it is declared."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clockwork import inputs
from clockwork.api.base import is_dns_subdomain
from clockwork.api.registry import KindInfo
from clockwork.completion.guard import DEFAULT_ALLOWED_ROOTS, GuardPolicy
from clockwork.errors import PermanentError


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PermanentError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise PermanentError(f"{name}={value} is out of range {low}..{high}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise PermanentError(f"{name}={raw!r} is not a boolean (true/false)")


def _roots(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if not raw:
        return default
    roots = tuple(r.rstrip("/") or "/" for r in raw.split(":") if r)
    bad = [r for r in roots if not r.startswith("/") or ".." in r.split("/")]
    if bad or not roots:
        raise PermanentError(f"{name}: every root must be an absolute path without '..' (got {raw!r})")
    return roots


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list (blanks dropped)."""
    return tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())


def _lines_file(env: Mapping[str, str], name: str) -> frozenset[str]:
    """The lines of the file NAME names (blank lines and # comments dropped)."""
    path = env.get(name)
    if not path:
        return frozenset()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PermanentError(f"{name}={path}: cannot read the file: {exc.strerror}") from None
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def _peering_name(env: Mapping[str, str], name: str) -> str | None:
    """A ClusterKopfPeering name (a DNS subdomain), or None when unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not is_dns_subdomain(raw):
        raise PermanentError(f"{name}={raw!r} is not a valid object name (lower-case DNS subdomain)")
    return raw


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret from NAME_FILE (a mounted Secret) or, failing that, NAME."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise PermanentError(f"{name}_FILE={path}: cannot read the file: {exc.strerror}") from None
    return env.get(name) or None


@dataclass(frozen=True)
class Settings:
    # CW_STATE_DIR: where local mode keeps its SQLite state (default ./.clockwork).
    state_dir: Path = Path(".clockwork")
    # CW_RUN_TIMEOUT: seconds one apply/check/destroy run may take on its hosts (600).
    run_timeout: int = 600
    # CW_CONNECT_TIMEOUT: seconds to wait for a node to accept a connection (10).
    connect_timeout: int = 10
    # CW_MODEL: model name for AI completion; unset means the offline completer.
    model: str | None = None
    # CW_BASE_URL: an OpenAI-compatible endpoint (OpenRouter, Ollama, LM Studio, vLLM, ...).
    base_url: str | None = None
    # CW_API_KEY_FILE (preferred: a mounted Secret) or CW_API_KEY. Never logged.
    api_key: str | None = field(default=None, repr=False)
    # CW_COMPLETION_MAX_RETRIES: times invalid model output goes back to the model (3).
    completion_max_retries: int = 3
    # CW_COMPLETION_TIMEOUT: seconds one model request may take (60).
    completion_timeout: int = 60
    # CW_ALLOWED_ROOTS: colon-separated roots completed paths must stay under.
    allowed_roots: tuple[str, ...] = DEFAULT_ALLOWED_ROOTS
    # CW_ALLOW_PRIVILEGED_PORTS: let completers choose ports below 1024 (false).
    allow_privileged_ports: bool = False
    # CW_MAX_COMPLETED_CONTENT: bytes of text a completer may write into one field (65536).
    max_completed_content: int = 64 * 1024
    # CW_DEFAULT_ROOT: where the offline completer puts files it names (/srv/clockwork).
    default_root: str = "/srv/clockwork"
    # CW_ALLOWED_REGISTRIES: comma-separated registries or repository prefixes
    # (docker.io/library, ghcr.io/acme) whose images a completer may choose without review.
    allowed_registries: tuple[str, ...] = ()
    # CW_ALLOWED_GIT_HOSTS: comma-separated hosts or host/path prefixes (github.com/acme)
    # whose repositories a completer may choose without review.
    allowed_git_hosts: tuple[str, ...] = ()
    # CW_ALLOWED_COMMANDS_FILE: a file of commands (one per line, exact) a completer may
    # choose without review.
    allowed_commands: frozenset[str] = frozenset()
    # CW_NODE_STATE_DIR: where @local (this machine, or the operator's pod) keeps the claims and
    # backups of what Clockwork changed (local mode: <CW_STATE_DIR>/node; operator: the node's
    # default, /var/lib/clockwork for root). EdgeNodes keep theirs in /var/lib/clockwork.
    node_state_dir: Path | None = None
    # CW_MAX_INPUT_BYTES: largest YAML/JSON file `clockwork -f` reads (4 MiB).
    max_input_bytes: int = inputs.DEFAULT_MAX_BYTES
    # CW_METRICS_FILE: local mode writes its metrics here (node_exporter textfile format).
    metrics_file: Path | None = None
    # CW_CHECK_INTERVAL_DEFAULT: seconds between health checks for resources that do not
    # set spec.health.intervalSeconds, for every kind; unset: each kind's own default.
    check_interval: int | None = None
    # CW_WARM_WORKERS: PyInfra workers started ahead of their runs (1; 0 starts each on demand).
    warm_workers: int = 1
    # --- operator only ---
    # CW_METRICS_ADDRESS / CW_METRICS_PORT: where /metrics is served (0.0.0.0:8080).
    metrics_address: str = "0.0.0.0"
    metrics_port: int = 8080
    # CW_HEALTH_PORT: kopf's liveness endpoint /healthz (8081).
    health_port: int = 8081
    # CW_WORKER_LIMIT: objects handled at once (kopf queueing.worker_limit; 20).
    worker_limit: int = 20
    # CW_WATCH_TIMEOUT: seconds a watch may be idle before it is re-established (300).
    watch_timeout: int = 300
    # CW_DAEMON_IDLE: longest time between two health passes of an object with nothing due (300).
    daemon_idle_seconds: int = 300
    # CW_HEALTH_CONCURRENCY: health passes (checks, remediation) running at once (100).
    health_concurrency: int = 100
    # CW_STATUS_REPORT_SECONDS: a check that changes nothing but its time is written to
    # status at most this often (300; 0 writes every check) — like the kubelet's node
    # status, so 10,000 objects checked every 30 s do not cost 333 writes a second.
    status_report_seconds: int = 300
    # CW_RETRY_SECONDS: when to try again after a temporary failure (a model endpoint down; 30).
    retry_seconds: int = 30
    # CW_JOB_IMAGE: the image Jobs run the worker in (runner: job); the operator's own image.
    job_image: str = "ghcr.io/clockwork-dev/clockwork:latest"
    # CW_JOB_SERVICE_ACCOUNT: the service account of worker Jobs (none: the namespace default).
    job_service_account: str | None = None
    # CW_JOB_TTL: seconds a finished Job is kept for inspection (600).
    job_ttl: int = 600
    # CW_PEERING: the name of the ClusterKopfPeering object the operator's replicas share
    # (docs/operator.md#high-availability): one of them works, the others wait. Unset: the
    # operator runs standalone and must be the only one.
    peering: str | None = None
    # CW_PEERING_PRIORITY: the replica with the highest priority works (unset: from the start
    # time, the longest-running replica first, so a new one never takes over from a live one).
    peering_priority: int | None = None
    # CW_PEERING_LIFETIME: seconds a replica's keep-alive counts; a killed active replica is
    # taken over this long after its last keep-alive at the latest (30).
    peering_lifetime: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        default_root = env.get("CW_DEFAULT_ROOT") or "/srv/clockwork"
        if not default_root.startswith("/"):
            raise PermanentError(f"CW_DEFAULT_ROOT={default_root!r} must be an absolute path")
        return cls(
            state_dir=Path(env.get("CW_STATE_DIR") or ".clockwork"),
            run_timeout=_int(env, "CW_RUN_TIMEOUT", 600, 1, 86400),
            connect_timeout=_int(env, "CW_CONNECT_TIMEOUT", 10, 1, 300),
            model=env.get("CW_MODEL") or None,
            base_url=env.get("CW_BASE_URL") or None,
            api_key=_secret(env, "CW_API_KEY"),
            completion_max_retries=_int(env, "CW_COMPLETION_MAX_RETRIES", 3, 0, 10),
            completion_timeout=_int(env, "CW_COMPLETION_TIMEOUT", 60, 1, 600),
            allowed_roots=_roots(env, "CW_ALLOWED_ROOTS", DEFAULT_ALLOWED_ROOTS),
            allow_privileged_ports=_bool(env, "CW_ALLOW_PRIVILEGED_PORTS", False),
            max_completed_content=_int(env, "CW_MAX_COMPLETED_CONTENT", 64 * 1024, 0, 256 * 1024),
            default_root=default_root.rstrip("/") or "/",
            allowed_registries=_list(env, "CW_ALLOWED_REGISTRIES"),
            allowed_git_hosts=_list(env, "CW_ALLOWED_GIT_HOSTS"),
            allowed_commands=_lines_file(env, "CW_ALLOWED_COMMANDS_FILE"),
            node_state_dir=Path(env["CW_NODE_STATE_DIR"]) if env.get("CW_NODE_STATE_DIR") else None,
            max_input_bytes=_int(env, "CW_MAX_INPUT_BYTES", inputs.DEFAULT_MAX_BYTES, 1024, 1024**3),
            metrics_file=Path(env["CW_METRICS_FILE"]) if env.get("CW_METRICS_FILE") else None,
            metrics_address=env.get("CW_METRICS_ADDRESS") or "0.0.0.0",
            metrics_port=_int(env, "CW_METRICS_PORT", 8080, 0, 65535),
            health_port=_int(env, "CW_HEALTH_PORT", 8081, 0, 65535),
            worker_limit=_int(env, "CW_WORKER_LIMIT", 20, 1, 1000),
            warm_workers=_int(env, "CW_WARM_WORKERS", 1, 0, 8),
            watch_timeout=_int(env, "CW_WATCH_TIMEOUT", 300, 10, 3600),
            daemon_idle_seconds=_int(env, "CW_DAEMON_IDLE", 300, 1, 86400),
            health_concurrency=_int(env, "CW_HEALTH_CONCURRENCY", 100, 1, 10000),
            status_report_seconds=_int(env, "CW_STATUS_REPORT_SECONDS", 300, 0, 86400),
            retry_seconds=_int(env, "CW_RETRY_SECONDS", 30, 1, 3600),
            job_image=env.get("CW_JOB_IMAGE") or "ghcr.io/clockwork-dev/clockwork:latest",
            job_service_account=env.get("CW_JOB_SERVICE_ACCOUNT") or None,
            job_ttl=_int(env, "CW_JOB_TTL", 600, 0, 86400 * 7),
            peering=_peering_name(env, "CW_PEERING"),
            peering_priority=_int(env, "CW_PEERING_PRIORITY", 0, -(2**62), 2**62)
            if env.get("CW_PEERING_PRIORITY")
            else None,
            peering_lifetime=_int(env, "CW_PEERING_LIFETIME", 30, 2, 3600),
            check_interval=(
                _int(env, "CW_CHECK_INTERVAL_DEFAULT", 0, 0, 86400) if env.get("CW_CHECK_INTERVAL_DEFAULT") else None
            ),
        )

    def check_interval_default(self, info: KindInfo) -> int:
        """Seconds between checks for a resource of this kind that does not say."""
        return self.check_interval if self.check_interval is not None else info.default_health_interval

    @property
    def input_limits(self) -> inputs.Limits:
        return inputs.Limits(max_bytes=self.max_input_bytes)

    @property
    def policy(self) -> GuardPolicy:
        return GuardPolicy(
            allowed_roots=self.allowed_roots,
            allow_privileged_ports=self.allow_privileged_ports,
            max_content_bytes=self.max_completed_content,
            allowed_registries=self.allowed_registries,
            allowed_git_hosts=self.allowed_git_hosts,
            allowed_commands=self.allowed_commands,
        )
