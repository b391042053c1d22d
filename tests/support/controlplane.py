"""A real Kubernetes control plane for the tests: etcd, kube-apiserver and kube-controller-manager.

The binaries come from ``scripts/controlplane/build.sh`` (built from Go modules at the versions in
``scripts/controlplane/versions.env``, cached outside the repository). Everything listens on
127.0.0.1 on free ports and keeps its state under one scratch folder: the certificates this module
generates (a CA, the API server's serving certificate, client certificates for the admin and the
controller manager), the service-account signing key, the kubeconfigs and etcd's data.

There is no kubelet and no scheduler: Pods are created and stay Pending, unless a test runs
tests/support/standin_kubelet.py, which binds them to a Node of its own and runs them. The API
server proxies ``pods/log`` to it without verifying its serving certificate (no
``--kubelet-certificate-authority`` here), at the Node's InternalIP (one of the default
``--kubelet-preferred-address-types``) and ``daemonEndpoints.kubeletEndpoint.Port``.
"""

from __future__ import annotations

import datetime
import ipaddress
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import REPO
from tests.helpers import free_port

BUILD_SCRIPT = REPO / "scripts" / "controlplane" / "build.sh"
VERSIONS_FILE = REPO / "scripts" / "controlplane" / "versions.env"
# A cold build compiles Kubernetes: minutes on a small machine (see README.md).
BUILD_TIMEOUT = 45 * 60
READY_TIMEOUT = 90.0
SERVICE_CIDR = "10.0.0.0/24"
FIRST_SERVICE_IP = "10.0.0.1"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or did not come up."""


def pinned_versions() -> dict[str, str]:
    """KUBE_VERSION and ETCD_VERSION from versions.env."""
    versions: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            versions[key.strip()] = value.strip()
    return versions


def build_binaries(timeout: float = BUILD_TIMEOUT) -> Path:
    """The folder holding the three binaries; builds them first unless cached."""
    try:
        proc = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ControlPlaneError(f"{BUILD_SCRIPT.name} took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        raise ControlPlaneError(f"{BUILD_SCRIPT.name} failed (exit {proc.returncode}):\n{tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


class CertificateAuthority:
    """A throw-away CA that signs the serving and client certificates of one control plane."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name("clockwork-test-ca"))
            .issuer_name(_name("clockwork-test-ca"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pair = KeyPair(folder / "ca.crt", folder / "ca.key")
        self.pair.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        _write_key(self.pair.key, self._key)

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        organization: str | None = None,
        server_names: tuple[str, ...] = (),
        server_ips: tuple[str, ...] = (),
    ) -> KeyPair:
        """A certificate for a server (when names or IPs are given) or a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        server = bool(server_names or server_ips)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organization))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if server:
            alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in server_names]
            alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        pair = KeyPair(self.folder / f"{stem}.crt", self.folder / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(pair.key, key)
        return pair


def write_service_account_keys(folder: Path) -> KeyPair:
    """The RSA key the API server signs service-account tokens with (cert = the public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pair = KeyPair(folder / "sa.pub", folder / "sa.key")
    pair.cert.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    _write_key(pair.key, key)
    return pair


def write_kubeconfig(path: Path, server: str, ca: Path, client: KeyPair, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "clockwork-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(client.cert), "client-key": str(client.key)}}],
        "contexts": [{"name": user, "context": {"cluster": "clockwork-test", "user": user}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# --- processes --------------------------------------------------------------------------------


@dataclass
class Component:
    """One control-plane process, its output in a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def logs(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL: the process is gone when this returns."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=grace)


def _start(name: str, argv: list[str], folder: Path) -> Component:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    return Component(name, proc, log)


@dataclass
class ControlPlane:
    """A running control plane; ``kubeconfig`` is the admin's (O=system:masters)."""

    folder: Path
    server: str
    ca: Path
    admin: KeyPair
    kubeconfig: Path
    versions: dict[str, str]
    components: list[Component] = field(default_factory=list)
    startup_seconds: dict[str, float] = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(
            f"--- {c.name} (pid {c.proc.pid}, exit {c.proc.poll()}) ---\n{c.logs()}" for c in self.components
        )

    def get(self, path: str, timeout: float = 5.0) -> requests.Response:
        """A GET as the admin, for the raw endpoints (/readyz, /version)."""
        return requests.get(
            self.server + path,
            cert=(str(self.admin.cert), str(self.admin.key)),
            verify=str(self.ca),
            timeout=timeout,
        )

    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` with the admin kubeconfig."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def stop(self) -> None:
        """Stops every process it started, by PID, the last started first."""
        for component in reversed(self.components):
            component.stop()


def _wait(what: str, check: Callable[[], bool], plane: ControlPlane, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for component in plane.components:
            if component.proc.poll() is not None:
                raise ControlPlaneError(f"{component.name} exited while waiting for {what}\n{plane.logs()}")
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.25)
    raise ControlPlaneError(f"{what} not within {timeout:.0f} s\n{plane.logs()}")


def start_control_plane(binaries: Path, folder: Path, ready_timeout: float = READY_TIMEOUT) -> ControlPlane:
    """Starts etcd, kube-apiserver and kube-controller-manager; stops them again if any fails to come up."""
    pki = folder / "pki"
    pki.mkdir(parents=True)
    started = time.monotonic()
    ca = CertificateAuthority(pki)
    serving = ca.issue(
        "apiserver",
        "kube-apiserver",
        server_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
        server_ips=("127.0.0.1", FIRST_SERVICE_IP),
    )
    admin = ca.issue("admin", "clockwork-admin", organization="system:masters")
    controller_manager = ca.issue("controller-manager", "system:kube-controller-manager")
    controller_manager_serving = ca.issue(
        "controller-manager-serving", "kube-controller-manager", server_names=("localhost",), server_ips=("127.0.0.1",)
    )
    service_accounts = write_service_account_keys(pki)

    etcd_port, etcd_peer_port, api_port, kcm_port = (free_port() for _ in range(4))
    server = f"https://127.0.0.1:{api_port}"
    admin_kubeconfig = write_kubeconfig(folder / "admin.kubeconfig", server, ca.pair.cert, admin, "admin")
    kcm_kubeconfig = write_kubeconfig(
        folder / "controller-manager.kubeconfig", server, ca.pair.cert, controller_manager, "controller-manager"
    )
    plane = ControlPlane(folder, server, ca.pair.cert, admin, admin_kubeconfig, pinned_versions())
    plane.startup_seconds["certificates"] = time.monotonic() - started

    try:
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{etcd_peer_port}"
        plane.components.append(
            _start(
                "etcd",
                [
                    str(binaries / "etcd"),
                    "--name=clockwork-test",
                    f"--data-dir={folder / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=clockwork-test={peer_url}",
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
                folder,
            )
        )
        mark = time.monotonic()
        _wait(
            "etcd /health",
            lambda: requests.get(f"{etcd_url}/health", timeout=2).json().get("health") == "true",
            plane,
            ready_timeout,
        )
        plane.startup_seconds["etcd"] = time.monotonic() - mark

        plane.components.append(
            _start(
                "kube-apiserver",
                [
                    str(binaries / "kube-apiserver"),
                    f"--etcd-servers={etcd_url}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    f"--cert-dir={folder / 'apiserver-certs'}",
                    f"--tls-cert-file={serving.cert}",
                    f"--tls-private-key-file={serving.key}",
                    f"--client-ca-file={ca.pair.cert}",
                    "--authorization-mode=RBAC",
                    # as on clusters that enforce it (OpenShift): setting blockOwnerDeletion on an
                    # ownerReference needs update on the owner's finalizers subresource
                    "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                    f"--service-account-issuer={server}",
                    f"--service-account-key-file={service_accounts.cert}",
                    f"--service-account-signing-key-file={service_accounts.key}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--endpoint-reconciler-type=none",
                    "--allow-privileged=true",
                    "--profiling=false",
                ],
                folder,
            )
        )
        mark = time.monotonic()
        _wait("kube-apiserver /readyz", lambda: plane.get("/readyz").status_code == 200, plane, ready_timeout)
        plane.startup_seconds["kube-apiserver"] = time.monotonic() - mark

        plane.components.append(
            _start(
                "kube-controller-manager",
                [
                    str(binaries / "kube-controller-manager"),
                    f"--kubeconfig={kcm_kubeconfig}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={service_accounts.key}",
                    f"--root-ca-file={ca.pair.cert}",
                    f"--cluster-signing-cert-file={ca.pair.cert}",
                    f"--cluster-signing-key-file={ca.pair.key}",
                    "--controllers=*",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={kcm_port}",
                    f"--tls-cert-file={controller_manager_serving.cert}",
                    f"--tls-private-key-file={controller_manager_serving.key}",
                    "--profiling=false",
                ],
                folder,
            )
        )
        mark = time.monotonic()
        # Its /healthz is open without credentials (--authorization-always-allow-paths).
        _wait(
            "kube-controller-manager /healthz",
            lambda: requests.get(f"https://127.0.0.1:{kcm_port}/healthz", verify=str(ca.pair.cert), timeout=2).ok,
            plane,
            ready_timeout,
        )
        # The service-account controller at work: the "default" ServiceAccount appears in "default".
        _wait(
            "the default ServiceAccount",
            lambda: plane.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200,
            plane,
            ready_timeout,
        )
        plane.startup_seconds["kube-controller-manager"] = time.monotonic() - mark
        plane.startup_seconds["total"] = time.monotonic() - started
    except BaseException:
        plane.stop()
        raise
    return plane
