"""Settings read from the environment, each declared once: variable, parser, default, rule, meaning.

``Settings.from_env`` reads every field from its declaration, and ``clockwork docs --page
settings`` renders the same declarations into docs/settings.md, so neither can drift.
"""

# Every Settings field is a `setting(...)`: a dataclasses.field that also carries its declaration.
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clockwork import inputs
from clockwork.api.base import is_dns_subdomain
from clockwork.api.registry import KindInfo
from clockwork.completion.guard import DEFAULT_ALLOWED_ROOTS, GuardPolicy
from clockwork.errors import PermanentError

# The concerns settings are grouped by, in the order the reference lists them.
LOCAL = "Local mode"
RUNS = "Runs and SSH"
COMPLETION = "Completion"
GUARD = "Guard"
HEALTH = "Health and remediation"
OPERATOR = "Operator and HA"
GROUPS = (LOCAL, RUNS, COMPLETION, GUARD, HEALTH, OPERATOR)


class Parse:
    """How one variable's text becomes a value; ``rule`` says what is allowed, for the docs."""

    rule = ""

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        return env.get(name) or default

    def show(self, value: Any) -> str:
        """A default (not None) as the docs write it."""
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, tuple | frozenset):
            return ",".join(sorted(value)) or "none"
        return str(value)


class Text(Parse):
    """Any text; empty means the default."""


@dataclass(frozen=True)
class Whole(Parse):
    low: int
    high: int
    rule_text: str = ""

    @property
    def rule(self) -> str:  # type: ignore[override]
        return self.rule_text or f"{self.low}..{self.high}"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise PermanentError(f"{name}={raw!r} is not a whole number") from None
        if not self.low <= value <= self.high:
            raise PermanentError(f"{name}={value} is out of range {self.low}..{self.high}")
        return value


class Flag(Parse):
    rule = "true/false"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        raw = (env.get(name) or "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise PermanentError(f"{name}={raw!r} is not a boolean (true/false)")


@dataclass(frozen=True)
class OneOf(Parse):
    """One of a few words."""

    choices: tuple[str, ...]

    @property
    def rule(self) -> str:  # type: ignore[override]
        return " / ".join(self.choices)

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        raw = (env.get(name) or "").strip().lower()
        if not raw:
            return default
        if raw not in self.choices:
            raise PermanentError(f"{name}={raw!r} is not one of {', '.join(self.choices)}")
        return raw


class FilePath(Parse):
    """A path; empty means the default."""

    rule = "path"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        return Path(env[name]) if env.get(name) else default


class AbsolutePath(Parse):
    """An absolute path, kept without its trailing slash."""

    rule = "absolute path"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        raw = env.get(name) or default
        if not raw.startswith("/"):
            raise PermanentError(f"{name}={raw!r} must be an absolute path")
        return raw.rstrip("/") or "/"


class Roots(Parse):
    rule = "colon-separated absolute paths, no `..`"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        raw = env.get(name)
        if not raw:
            return default
        roots = tuple(r.rstrip("/") or "/" for r in raw.split(":") if r)
        bad = [r for r in roots if not r.startswith("/") or ".." in r.split("/")]
        if bad or not roots:
            raise PermanentError(f"{name}: every root must be an absolute path without '..' (got {raw!r})")
        return roots

    def show(self, value: Any) -> str:
        return ":".join(value)


class CommaList(Parse):
    """A comma-separated list (blanks dropped)."""

    rule = "comma-separated"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        items = tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())
        return items or default


class LinesFile(Parse):
    """The lines of the file the variable names (blank lines and # comments dropped)."""

    rule = "path of a file, one entry a line"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        path = env.get(name)
        if not path:
            return default
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise PermanentError(f"{name}={path}: cannot read the file: {exc.strerror}") from None
        lines = (line.strip() for line in text.splitlines())
        return frozenset(line for line in lines if line and not line.startswith("#"))


class ObjectName(Parse):
    """A Kubernetes object name (a DNS subdomain)."""

    rule = "lower-case DNS subdomain"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        raw = (env.get(name) or "").strip()
        if not raw:
            return default
        if not is_dns_subdomain(raw):
            raise PermanentError(f"{name}={raw!r} is not a valid object name (lower-case DNS subdomain)")
        return raw


class Secret(Parse):
    """A secret from NAME_FILE (a mounted Secret) or, failing that, NAME; never shown."""

    rule = "`_FILE`: path of a file holding it"

    def __call__(self, env: Mapping[str, str], name: str, default: Any) -> Any:
        path = env.get(f"{name}_FILE")
        if path:
            try:
                return Path(path).read_text().strip() or default
            except OSError as exc:
                raise PermanentError(f"{name}_FILE={path}: cannot read the file: {exc.strerror}") from None
        return env.get(name) or default


@dataclass(frozen=True)
class Declared:
    """What a field's metadata says about where it comes from."""

    env: str
    group: str
    doc: str
    parse: Parse
    # An earlier name of the variable, still read when the current one is unset.
    formerly: str | None = None

    def read(self, env: Mapping[str, str], default: Any) -> Any:
        name = self.formerly if self.formerly and not env.get(self.env) and env.get(self.formerly) else self.env
        return self.parse(env, name, default)


def setting(
    env: str,
    group: str,
    doc: str,
    default: Any,
    parse: Parse | None = None,
    *,
    secret: bool = False,
    formerly: str | None = None,
) -> Any:
    """A Settings field read from ``env`` (``parse``: plain text when not given)."""
    meta = {"setting": Declared(env, group, doc, parse or Text(), formerly)}
    return field(default=default, repr=not secret, metadata=meta)


def declared(f: dataclasses.Field[Any]) -> Declared:
    """The declaration of one Settings field (for from_env and the generated reference)."""
    return f.metadata["setting"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Settings:
    state_dir: Path = setting("CW_STATE_DIR", LOCAL, "Where local mode keeps its SQLite state.",
                              Path(".clockwork"), FilePath())  # fmt: skip
    metrics_file: Path | None = setting("CW_METRICS_FILE", LOCAL,
                                        "Local mode writes its metrics here (node_exporter textfile format).",
                                        None, FilePath())  # fmt: skip
    node_state_dir: Path | None = setting(
        "CW_NODE_STATE_DIR", LOCAL,
        "Where `@local` (this machine, or the operator's pod) keeps the claims and backups of what Clockwork "
        "changed; unset: `<CW_STATE_DIR>/node` in local mode, the node's default (`/var/lib/clockwork` for root) "
        "in the operator.", None, FilePath())  # fmt: skip
    max_input_bytes: int = setting("CW_MAX_INPUT_BYTES", LOCAL, "Largest YAML/JSON file `clockwork -f` reads.",
                                   inputs.DEFAULT_MAX_BYTES, Whole(1024, 1024**3))  # fmt: skip
    run_timeout: int = setting("CW_RUN_TIMEOUT", RUNS, "Seconds one apply/check/destroy run may take on its hosts.",
                               600, Whole(1, 86400))  # fmt: skip
    connect_timeout: int = setting("CW_CONNECT_TIMEOUT", RUNS, "Seconds to wait for a node to accept a connection.",
                                   10, Whole(1, 300))  # fmt: skip
    warm_workers: int = setting("CW_WARM_WORKERS", RUNS,
                                "PyInfra workers started ahead of their runs, so a run does not wait for Python and "
                                "PyInfra to load (0: each starts on demand; a waiting worker holds ~60 MB).",
                                1, Whole(0, 8))  # fmt: skip
    job_image: str = setting("CW_JOB_IMAGE", RUNS,
                             "The image worker Jobs run in (`runner: job`); the chart sets the operator's own.",
                             "ghcr.io/clockwork-dev/clockwork:latest")  # fmt: skip
    job_service_account: str | None = setting("CW_JOB_SERVICE_ACCOUNT", RUNS,
                                              "The service account of worker Jobs; unset: the namespace default.",
                                              None)  # fmt: skip
    job_ttl: int = setting("CW_JOB_TTL", RUNS, "Seconds a finished worker Job is kept for inspection.",
                           600, Whole(0, 86400 * 7))  # fmt: skip
    model: str | None = setting("CW_MODEL", COMPLETION,
                                "Model name for AI completion; `local`: the embedded model (the `local-model` extra, "
                                "no server); unset: the offline completer.", None)  # fmt: skip
    base_url: str | None = setting("CW_BASE_URL", COMPLETION,
                                   "An OpenAI-compatible endpoint (OpenRouter, Ollama, LM Studio, vLLM, ...); "
                                   "unset: OpenAI's.",
                                   None)  # fmt: skip
    api_key: str | None = setting("CW_API_KEY", COMPLETION,
                                  "The endpoint's key: `CW_API_KEY_FILE` (preferred: a mounted Secret) or "
                                  "`CW_API_KEY`; never logged.", None, Secret(), secret=True)  # fmt: skip
    completion_max_retries: int = setting("CW_COMPLETION_MAX_RETRIES", COMPLETION,
                                          "Times invalid model output goes back to the model.",
                                          3, Whole(0, 10))  # fmt: skip
    completion_timeout: int = setting("CW_COMPLETION_TIMEOUT", COMPLETION, "Seconds one model request may take.",
                                      60, Whole(1, 600))  # fmt: skip
    completion_max_tokens: int = setting(
        "CW_COMPLETION_MAX_TOKENS", COMPLETION,
        "Most tokens one model answer may take (a bound on a model that does not stop; keep answer and retries "
        "within a small server's context).", 2048, Whole(16, 1_000_000))  # fmt: skip
    completion_output: str = setting(
        "CW_COMPLETION_OUTPUT", COMPLETION,
        "How the model hands its values back: `tool` (a forced call of one function), `native` (`response_format` "
        "with a JSON schema), `json-object` (llama.cpp's `json_object` with a schema), `prompted` (the schema in "
        "the prompt, JSON in the text); `auto`: `tool`, and the next of these where a server or model cannot do "
        "one (see docs/completion.md).",
        "auto", OneOf(("auto", "tool", "native", "json-object", "prompted")))  # fmt: skip
    completion_batch_size: int = setting(
        "CW_COMPLETION_BATCH_SIZE", COMPLETION,
        "Most resources one model request completes: those that arrive together, of one kind, with the same "
        "fields missing and no diagnostics or dependencies to fit (1: one request per resource).",
        10, Whole(1, 100))  # fmt: skip
    completion_batch_window_ms: int = setting(
        "CW_COMPLETION_BATCH_WINDOW_MS", COMPLETION,
        "How long a completion waits for others to share its request, in milliseconds.",
        200, Whole(1, 10_000))  # fmt: skip
    completion_context_tokens: int = setting(
        "CW_COMPLETION_CONTEXT_TOKENS", COMPLETION,
        "The model's context size in tokens; a batch's prompt takes at most a quarter of it.",
        8192, Whole(512, 10_000_000))  # fmt: skip
    local_model_threads: int = setting(
        "CW_LOCAL_MODEL_THREADS", COMPLETION,
        "CPU threads of the embedded model (`CW_MODEL=local`, the `local-model` extra).", 1, Whole(1, 256))  # fmt: skip
    completion_fallback: str = setting(
        "CW_COMPLETION_FALLBACK", COMPLETION,
        "Who fills the fields a model leaves open: `offline` (the offline rules, recorded as `source: offline` in "
        "`status.filled`), `none` (they stay unresolved).",
        "offline", OneOf(("offline", "none")))  # fmt: skip
    default_root: str = setting("CW_DEFAULT_ROOT", COMPLETION, "Where the offline completer puts files it names.",
                                "/srv/clockwork", AbsolutePath())  # fmt: skip
    allowed_roots: tuple[str, ...] = setting("CW_ALLOWED_ROOTS", GUARD, "Roots completed paths must stay under.",
                                             DEFAULT_ALLOWED_ROOTS, Roots())  # fmt: skip
    allow_privileged_ports: bool = setting("CW_ALLOW_PRIVILEGED_PORTS", GUARD,
                                           "Let completers choose ports below 1024.", False, Flag())  # fmt: skip
    max_completed_content: int = setting("CW_MAX_COMPLETED_CONTENT", GUARD,
                                         "Bytes of text a completer may write into one field.",
                                         64 * 1024, Whole(0, 256 * 1024))  # fmt: skip
    allowed_registries: tuple[str, ...] = setting(
        "CW_ALLOWED_REGISTRIES", GUARD,
        "Registries or repository prefixes (`docker.io/library`, `ghcr.io/acme`) whose images a completer may "
        "choose without review.", (), CommaList())  # fmt: skip
    allowed_git_hosts: tuple[str, ...] = setting(
        "CW_ALLOWED_GIT_HOSTS", GUARD,
        "Hosts or host/path prefixes (`github.com/acme`) whose repositories a completer may choose without review.",
        (), CommaList())  # fmt: skip
    allowed_commands: frozenset[str] = setting("CW_ALLOWED_COMMANDS_FILE", GUARD,
                                               "A file of commands (exact) a completer may choose without review.",
                                               frozenset(), LinesFile())  # fmt: skip
    check_interval: int | None = setting(
        "CW_CHECK_INTERVAL_DEFAULT", HEALTH,
        "Seconds between health checks for resources that do not set `spec.health.intervalSeconds`, for every "
        "kind; unset: each kind's own default.", None, Whole(0, 86400))  # fmt: skip
    health_idle_seconds: int = setting("CW_HEALTH_IDLE", HEALTH,
                                       "Longest time (seconds) between two health passes of an object with nothing "
                                       "due.", 300, Whole(1, 86400), formerly="CW_DAEMON_IDLE")  # fmt: skip
    health_concurrency: int = setting("CW_HEALTH_CONCURRENCY", HEALTH,
                                      "Health passes (checks, remediation) running at once.",
                                      100, Whole(1, 10000))  # fmt: skip
    status_report_seconds: int = setting(
        "CW_STATUS_REPORT_SECONDS", HEALTH,
        "A check that changes nothing but its time is written to status at most this often (any change at once; "
        "0 writes every check), so 10,000 objects checked every 30 s do not cost 333 writes a second.",
        300, Whole(0, 86400))  # fmt: skip
    metrics_address: str = setting("CW_METRICS_ADDRESS", OPERATOR, "The address Prometheus `/metrics` is served on.",
                                   "0.0.0.0")  # fmt: skip
    metrics_port: int = setting("CW_METRICS_PORT", OPERATOR, "The port of `/metrics` (0 disables it).",
                                8080, Whole(0, 65535))  # fmt: skip
    health_port: int = setting("CW_HEALTH_PORT", OPERATOR, "The port of kopf's liveness endpoint `/healthz` "
                               "(0 disables it).", 8081, Whole(0, 65535))  # fmt: skip
    worker_limit: int = setting("CW_WORKER_LIMIT", OPERATOR, "Objects handled at once (kopf's worker limit).",
                                20, Whole(1, 1000))  # fmt: skip
    watch_timeout: int = setting("CW_WATCH_TIMEOUT", OPERATOR,
                                 "Seconds a watch may be idle before it is re-established.",
                                 300, Whole(10, 3600))  # fmt: skip
    retry_seconds: int = setting("CW_RETRY_SECONDS", OPERATOR,
                                 "Seconds before trying again after a temporary failure (a model endpoint down).",
                                 30, Whole(1, 3600))  # fmt: skip
    peering: str | None = setting(
        "CW_PEERING", OPERATOR,
        "The ClusterKopfPeering the operator's replicas share ([high availability](operator.md#high-availability)): "
        "one works, the others wait; unset (the chart sets `<namespace>.<release>-clockwork`): standalone, the only "
        "operator.", None, ObjectName())  # fmt: skip
    peering_priority: int | None = setting(
        "CW_PEERING_PRIORITY", OPERATOR,
        "The live replica with the highest priority works; unset: minus the start time, so the longest-running "
        "replica keeps working and a new one never takes over from a live one.",
        None, Whole(-(2**62), 2**62, "any whole number"))  # fmt: skip
    peering_lifetime: int = setting("CW_PEERING_LIFETIME", OPERATOR,
                                    "Seconds a replica's keep-alive counts: a killed working replica is taken over "
                                    "within this.", 30, Whole(2, 3600))  # fmt: skip

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        values = {}
        for f in dataclasses.fields(cls):
            values[f.name] = declared(f).read(env, f.default)
        return cls(**values)

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
