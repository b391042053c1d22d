"""A stand-in scheduler and kubelet for the real control plane (tests/support/controlplane.py).

The control plane has no scheduler and no kubelet: a Job's Pod, created by the real Job
controller, would stay Pending. ``StandinKubelet`` does their part for the Pods of one
namespace, through the API as they would:

* registers a Node (Ready, InternalIP 127.0.0.1, ``status.daemonEndpoints.kubeletEndpoint.Port``
  the port of its own HTTPS server) and keeps its heartbeat fresh;
* binds each new Pod of the namespace to that Node (``pods/binding``, the scheduler's call);
* runs the Pod's container command as a local process: ``python`` is this interpreter, every
  ConfigMap and Secret volume is written to a scratch folder and its mount path in the command is
  mapped there;
* reports the Pod's status (``pods/status``): Running, then Succeeded or Failed with the container's
  ``terminated.exitCode``;
* serves the container's output at ``/containerLogs/{namespace}/{pod}/{container}``, which
  kube-apiserver proxies ``pods/log`` to (it does not verify a kubelet's serving certificate
  unless given ``--kubelet-certificate-authority``);
* deletes a Pod that is being deleted with grace period 0 once its process is stopped, as a
  kubelet confirms a deletion.

``hold=True`` binds Pods but never starts them (to test deadlines). ``before_run(job_name)`` is
called before a Pod of that Job is started (to break its plan, say). ``seen`` holds the Jobs whose
Pods it was given, as ``FakeKubelet.seen`` does.
"""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.controlplane import CertificateAuthority
from tests.support.kubeapi import ApiStatus, Kube

HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 0.1
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class _Container:
    pod: str
    uid: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: str = ""
    reported: str = ""  # the phase last reported


class StandinKubelet:
    def __init__(
        self,
        kube: Kube,
        workdir: Path,
        hold: bool = False,
        before_run: Callable[[str], None] | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = kube.namespace
        self.node = f"standin-{kube.namespace}"
        self.workdir = workdir
        self.hold = hold
        self.before_run = before_run
        self.seen: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._containers: dict[str, _Container] = {}
        # (namespace, pod, container) -> the file the container's output goes to
        self._logs: dict[tuple[str, str, str], Path] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="standin-kubelet")
        self._server: ThreadingHTTPServer | None = None
        self._heartbeat = 0.0

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> StandinKubelet:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._serve_logs()
        self._register_node()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)
        for container in self._containers.values():
            self._kill(container)
        # What is bound here goes with the stand-in (no kubelet would confirm its deletion later).
        for pod in self._pods():
            if pod["spec"].get("nodeName") == self.node:
                self._delete_now(pod)
        self._quietly(lambda: self.kube.request("DELETE", f"/api/v1/nodes/{self.node}"))
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the Node and its HTTPS endpoint -------------------------------------------------------

    def _serve_logs(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        pair = CertificateAuthority(pki).issue("kubelet", self.node, server_ips=("127.0.0.1",))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pair.cert), str(pair.key))
        logs = self._logs

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                path = logs.get(tuple(parts[1:4])) if len(parts) == 4 and parts[0] == "containerLogs" else None  # type: ignore[arg-type]
                if path is None:
                    body, code = f"container {'/'.join(parts[1:])} is waiting to start\n".encode(), 400
                else:
                    lines = path.read_bytes().splitlines(keepends=True)
                    tail = parse_qs(url.query).get("tailLines")
                    body, code = b"".join(lines[-int(tail[0]) :] if tail else lines), 200
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="standin-kubelet-https").start()

    def _node_status(self) -> dict[str, Any]:
        assert self._server is not None
        now = _now()
        return {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "the stand-in kubelet is ready", "lastHeartbeatTime": now,
                            "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self._server.server_address[1]}},
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        }  # fmt: skip

    def _register_node(self) -> None:
        self.kube.request("POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node}},
        })  # fmt: skip
        self._beat()

    def _beat(self) -> None:
        self.kube.request("PATCH", f"/api/v1/nodes/{self.node}/status", {"status": self._node_status()},
                          "application/merge-patch+json")  # fmt: skip
        self._heartbeat = time.monotonic()

    # --- Pods ----------------------------------------------------------------------------------

    def _pods(self) -> list[dict[str, Any]]:
        try:
            return self.kube.list("pods", self.namespace, group="", version="v1")
        except ApiStatus:
            return []

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._heartbeat > HEARTBEAT_SECONDS:
                    self._beat()
                for pod in self._pods():
                    self._sync(pod)
            except Exception as exc:  # a test reads these; the loop goes on
                self.errors.append(repr(exc))
            self._stop.wait(POLL_SECONDS)

    def _sync(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        node = pod["spec"].get("nodeName")
        container = self._containers.get(meta["uid"])
        if meta.get("deletionTimestamp"):
            if node == self.node:
                if container is not None:
                    self._kill(container)
                self._delete_now(pod)
            return
        if not node:
            self._bind(pod)
            return
        if node != self.node:
            return
        if container is None:
            container = self._containers[meta["uid"]] = _Container(meta["name"], meta["uid"],
                                                                   self.workdir / f"{meta['uid']}.log")  # fmt: skip
            self._record_job(pod)
            if not self.hold:
                self._start(pod, container)
        if container.proc is not None and container.reported == "Running":
            code = container.proc.poll()
            if code is not None:
                self._report(pod, container, "Succeeded" if code == 0 else "Failed", code)

    def _bind(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": self.node}}  # fmt: skip
        self.kube.request("POST", f"/api/v1/namespaces/{self.namespace}/pods/{name}/binding", binding)

    def _record_job(self, pod: dict[str, Any]) -> None:
        job = (pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL)
        if job:
            found = self.kube.find("jobs", job, self.namespace, group="batch", version="v1")
            if found is not None:
                self.seen.append(found)

    def _start(self, pod: dict[str, Any], container: _Container) -> None:
        job = (pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL)
        if job and self.before_run is not None:
            self.before_run(job)
        [spec] = pod["spec"]["containers"]
        root = Path(tempfile.mkdtemp(prefix=f"{container.pod}-", dir=self.workdir))
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        mapped: list[tuple[str, str]] = []
        for mount in spec.get("volumeMounts", []):
            folder = root / mount["name"]
            self._write_volume(volumes[mount["name"]], folder)
            mapped.append((mount["mountPath"], str(folder)))

        def local(arg: str) -> str:
            for mount_path, folder in mapped:
                if arg == mount_path or arg.startswith(mount_path + "/"):
                    return folder + arg[len(mount_path) :]
            return arg

        argv = [local(a) for a in [*spec.get("command", []), *spec.get("args", [])]]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        env = {**os.environ, **{e["name"]: e.get("value", "") for e in spec.get("env", [])}}
        with container.log.open("wb") as out:
            container.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              cwd=root, env=env, start_new_session=True)  # fmt: skip
        container.started_at = _now()
        self._logs[(self.namespace, container.pod, spec["name"])] = container.log
        self._report(pod, container, "Running", None)

    def _write_volume(self, volume: dict[str, Any], folder: Path) -> None:
        folder.mkdir(parents=True)
        if "configMap" in volume:
            found = self.kube.get("configmaps", volume["configMap"]["name"], self.namespace, group="", version="v1")
            for key, value in (found.get("data") or {}).items():
                (folder / key).write_text(value)
        elif "secret" in volume:
            source = volume["secret"]
            found = self.kube.get("secrets", source["secretName"], self.namespace, group="", version="v1")
            data = found.get("data") or {}
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                path = folder / item["path"]
                path.write_bytes(base64.b64decode(data[item["key"]]))
                path.chmod(item.get("mode", source.get("defaultMode", 0o644)))

    def _report(self, pod: dict[str, Any], container: _Container, phase: str, code: int | None) -> None:
        [spec] = pod["spec"]["containers"]
        now = _now()
        if phase == "Running":
            state: dict[str, Any] = {"running": {"startedAt": container.started_at}}
        else:
            state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                    "startedAt": container.started_at, "finishedAt": now}}  # fmt: skip
        running = phase == "Running"
        conditions = [
            {"type": t, "status": "True" if (running or t == "PodScheduled") else "False", "lastTransitionTime": now}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        status = {
            "phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": container.started_at,
            "conditions": conditions,
            "containerStatuses": [{"name": spec["name"], "image": spec["image"], "imageID": "", "ready": running,
                                   "restartCount": 0, "started": running, "state": state}],
        }  # fmt: skip
        self.kube.request("PATCH", f"/api/v1/namespaces/{self.namespace}/pods/{container.pod}/status",
                          {"status": status}, "application/merge-patch+json")  # fmt: skip
        container.reported = phase

    def _kill(self, container: _Container) -> None:
        if container.proc is not None and container.proc.poll() is None:
            os.killpg(container.proc.pid, signal.SIGKILL)
            container.proc.wait(10)

    def _delete_now(self, pod: dict[str, Any]) -> None:
        """A kubelet's confirmation of a deletion: grace period 0, for this Pod (its uid) only."""
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta["uid"]}}  # fmt: skip
        self._quietly(
            lambda: self.kube.request("DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{meta['name']}", body)
        )

    @staticmethod
    def _quietly(call: Callable[[], Any]) -> None:
        try:
            call()
        except ApiStatus as exc:
            if exc.code not in (404, 409):
                raise
