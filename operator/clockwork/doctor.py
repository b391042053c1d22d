"""`clockwork doctor`: which runners and connectors this machine can use, and why not.

Each check tries the real thing, briefly and bounded: spawn the PyInfra worker,
find the SSH library, ask the Docker/Podman engine, reach the Kubernetes API and
the model endpoint (GET /models with the configured key, which is never shown).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from clockwork import __version__
from clockwork.completion import embedded, endpoint
from clockwork.config import Settings
from clockwork.plan import CommandProbe, HostSpec, RunRequest
from clockwork.runners.pyinfra import PyinfraRunner

TIMEOUT = 10


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = False


def _worker() -> Check:
    started = time.monotonic()
    request = RunRequest(hosts=[HostSpec(name="@local")], probes=[CommandProbe(id="echo", command="echo ok")],
                         timeout_seconds=TIMEOUT)  # fmt: skip
    result = asyncio.run(PyinfraRunner().run(request))
    probe = result.hosts[0].probe("echo") if result.hosts else None
    ok = probe is not None and probe.exit_code == 0
    detail = f"worker answered in {time.monotonic() - started:.2f}s" if ok else (result.error or "no answer")
    return Check("runner", "pyinfra (worker process)", ok, detail, "reinstall clockwork" if not ok else "", True)


def _engine(binary: str, area_name: str) -> Check:
    path = shutil.which(binary)
    if path is None:
        return Check("connector", area_name, False, f"no {binary} client on PATH", f"install {binary}")
    try:
        # Each engine names its version in its own template field.
        template = "{{.Version.Version}}" if binary == "podman" else "{{.ServerVersion}}"
        info = subprocess.run([binary, "info", "--format", template], capture_output=True, text=True,
                              timeout=TIMEOUT)  # fmt: skip
    except subprocess.TimeoutExpired:
        return Check("connector", area_name, False, f"{binary} info did not answer in {TIMEOUT}s", "")
    if info.returncode != 0:
        why = (info.stderr.strip().splitlines() or ["no engine answered"])[-1]
        return Check("connector", area_name, False, why[:200], f"start the {binary} engine or check its socket")
    return Check("connector", area_name, True, f"engine {info.stdout.strip()} via {path}")


def _kubernetes() -> Check:
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not in_cluster and not Path(kubeconfig.split(os.pathsep)[0]).exists():
        return Check("runner", "job (Kubernetes Job)", False, "no in-cluster service account and no kubeconfig",
                     "set KUBECONFIG, or run inside a cluster; local mode does not need it")  # fmt: skip
    try:
        from kubernetes import client, config

        if in_cluster:
            config.load_incluster_config()
            api = client.ApiClient()
        else:
            api = config.new_client_from_config(kubeconfig.split(os.pathsep)[0])
        with api:
            version = client.VersionApi(api).get_code(_request_timeout=TIMEOUT)
        where = "in-cluster" if in_cluster else kubeconfig
        return Check("runner", "job (Kubernetes Job)", True, f"API {version.git_version} ({where})")
    except Exception as exc:  # any failure to talk to the API is the answer
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return Check("runner", "job (Kubernetes Job)", False, f"API not reachable: {why}",
                     "check the kubeconfig context and network")  # fmt: skip


def _completer(settings: Settings) -> Check:
    """The configured completer; for a model, whether its endpoint answers GET /models with the key."""
    if not settings.model:
        return Check("completion", "completer", True, "offline (no CW_MODEL)")
    if settings.model == embedded.MODEL_NAME:
        try:
            found = embedded.model_file()
        except embedded.EmbeddedModelMissing as exc:
            return Check("completion", "completer", False, f"embedded model: {exc}",
                         "install the extra, or unset CW_MODEL to complete offline")  # fmt: skip
        return Check("completion", "completer", True, f"embedded model (CW_MODEL=local): {found}")
    reach = endpoint.probe(settings.base_url, settings.api_key, endpoint.PROBE_TIMEOUT)
    model = f"AI: {settings.model}"
    if reach.status is None:
        return Check("completion", "completer", False, f"{model}; unreachable: {reach.endpoint}: {reach.why}",
                     "start the model server or fix CW_BASE_URL; unset CW_MODEL to complete offline")  # fmt: skip
    answered = f"{reach.endpoint} answered HTTP {reach.status} to GET /models"
    if reach.status in (401, 403):
        return Check("completion", "completer", False, f"{model}; {answered}", "check CW_API_KEY or CW_API_KEY_FILE")
    if reach.status >= 500:
        return Check("completion", "completer", False, f"{model}; {answered}", "the model server reports an error")
    # Some OpenAI-compatible servers list no models (404): they still answered.
    return Check("completion", "completer", True, f"{model}; reachable: {answered}")


def run_checks(settings: Settings) -> list[Check]:
    checks = [Check("clockwork", "version", True, __version__)]
    checks.append(_worker())
    checks.append(Check("connector", "local (@local)", True, "always available"))
    paramiko = importlib.util.find_spec("paramiko") is not None
    checks.append(Check("connector", "ssh (@ssh)", paramiko, "paramiko present (no ssh binary needed)" if paramiko
                        else "paramiko missing", "" if paramiko else "reinstall clockwork"))  # fmt: skip
    checks.append(_engine("docker", "docker (@docker)"))
    checks.append(_engine("podman", "podman"))
    checks.append(_kubernetes())
    checks.append(_completer(settings))
    state = settings.state_dir.resolve()
    parent = state if state.exists() else state.parent
    writable = os.access(parent, os.W_OK)
    checks.append(Check("local mode", "state folder", writable, str(state),
                        "" if writable else "use --state-dir or CW_STATE_DIR", True))  # fmt: skip
    return checks
