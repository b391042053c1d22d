"""The worker's hosts: PyInfra inventory entries, their key files, and why one cannot be reached.

Imported by the worker only, after gevent has patched the standard library.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from typing import Any

from pyinfra.api.host import Host
from pyinfra.api.state import BaseStateCallback, State

from clockwork import plan
from clockwork.plan import HostSpec


class Recorder(BaseStateCallback):
    """Keeps what PyInfra only logs: why a host could not be reached."""

    def __init__(self) -> None:
        self.connect_errors: dict[str, str] = {}

    def host_connect_error(self, state: State, host: Host, error: Any) -> None:  # type: ignore[override]
        self.connect_errors[host.name] = str(error) or type(error).__name__


class Secrets:
    """A private folder for keys and known_hosts files, removed whatever happens."""

    def __init__(self) -> None:
        # The runner makes the folder and removes it even if this process is killed.
        given = os.environ.get("CW_WORKER_SECRETS_DIR")
        self.path = given if given and os.path.isdir(given) else tempfile.mkdtemp(prefix="clockwork-worker-")
        self.known_hosts: dict[str, str] = {}
        self.keys: list[str] = []

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.path, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def forget_keys(self) -> None:
        """Keys are read when connecting; after that they need not be on disk."""
        for key in self.keys:
            with contextlib.suppress(OSError):
                os.unlink(key)

    def remove(self) -> None:
        self.forget_keys()
        if os.environ.get("CW_WORKER_SECRETS_DIR") != self.path:
            shutil.rmtree(self.path, ignore_errors=True)


def inventory_entry(spec: HostSpec, index: int, secrets: Secrets) -> tuple[str, dict[str, Any]]:
    common = {"clockwork_name": spec.name, "clockwork_state_dir": spec.state_dir}
    if spec.connector == "local":
        return ("@local", common)
    if spec.connector == "docker":
        if not spec.container:
            raise ValueError(f"host {spec.name}: the docker connector needs a container")
        return (f"@docker/{spec.container}", common)
    if not spec.address:
        raise ValueError(f"host {spec.name}: the ssh connector needs an address")
    data: dict[str, Any] = {
        **common,
        "ssh_hostname": spec.address,
        "ssh_port": spec.port,
        "ssh_user": spec.user,
        # Only what the plan says: no ~/.ssh/config, no agent, no keys lying around.
        "ssh_config_file": os.devnull,
        "ssh_look_for_keys": False,
        "ssh_allow_agent": False,
        "ssh_strict_host_key_checking": "yes" if spec.host_key_policy == "strict" else "accept-new",
    }
    if spec.private_key is not None:
        data["ssh_key"] = secrets.write(f"key-{index}", spec.private_key.get_secret_value().rstrip() + "\n")
        secrets.keys.append(data["ssh_key"])
    elif spec.key_file:
        data["ssh_key"] = spec.key_file
    lines = plan.known_hosts_lines(spec)
    known = secrets.write(f"known_hosts-{index}", "".join(line + "\n" for line in lines))
    secrets.known_hosts[spec.name] = known
    data["ssh_known_hosts_file"] = known
    return (spec.name, data)


def docker_problem(spec: HostSpec) -> str | None:
    """Why a docker host cannot be used; PyInfra would build an image from a missing container."""
    if spec.connector != "docker" or not spec.container:
        return None
    try:
        found = subprocess.run(["docker", "container", "inspect", "-f", "{{.State.Running}}", spec.container],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker is not usable here: {exc}"
    if found.returncode != 0:
        return f"container {spec.container} does not exist"
    if found.stdout.strip() != "true":
        return f"container {spec.container} is not running"
    return None


def learned(spec: HostSpec, secrets: Secrets) -> list[str]:
    path = secrets.known_hosts.get(spec.name)
    if path is None or spec.host_key_policy != "accept-new":
        return []
    try:
        with open(path) as handle:
            now = [line.strip() for line in handle if line.strip()]
    except OSError:
        return []
    before = set(plan.known_hosts_lines(spec))
    return [line for line in now if line not in before]
