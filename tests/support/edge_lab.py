"""Real sshd edge nodes for tests: one network namespace and one filesystem view each.

Layout: a *control* namespace holds a bridge; each node namespace is
linked to it by a veth pair; nothing touches the root namespace, so no packet
leaves the lab. Every node has a holder process (``sleep``) that owns a private
mount namespace with tmpfs over ``/srv``, ``/opt`` and ``/tmp`` — what is deployed
to one node is invisible to the others, survives an sshd restart, and can be read
from the host through ``/proc/<holder>/root``. sshd runs inside both namespaces
with key-only root login and its own host key.

The worker must run in the control namespace: ``lab.worker_prefix`` is the command
prefix for that (``CW_WORKER_PREFIX``), ``lab.control(argv)`` wraps any command.

Fault injection: ``stop_sshd``/``start_sshd`` (refused at once), ``drop_packets``/
``restore_packets`` (nft in the node's namespace: connects time out),
``change_host_key``. Teardown kills every process by PID and deletes the
namespaces, even when a test failed; a leftover lab of a dead test run (its owner
PID gone) is removed at the next start.

Where network namespaces cannot be made, the lab falls back to ``mode="loopback"``:
sshd on 127.0.x.y addresses of the host, no private filesystems (``isolated`` is
False and the tests that need isolation skip), packet drops by address in the host's
nft. ``EdgeLab.available()`` says when not even that can run, and why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
# /var/lib/clockwork too: each node keeps its own claims and backups there.
PRIVATE_DIRS = ("/srv", "/opt", "/tmp", "/var/lib/clockwork")
LAB_ROOT = Path("/var/tmp/clockwork-edge-lab")  # not under /tmp: nodes mount over /tmp


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=30)


@dataclass
class EdgeNode:
    name: str
    namespace: str
    address: str
    lab: EdgeLab
    host_key: Path
    holder: subprocess.Popen[bytes] | None = None
    sshd: subprocess.Popen[bytes] | None = None
    dropping: bool = False

    @property
    def config(self) -> Path:
        return self.lab.dir / self.name / "sshd_config"

    def path(self, node_path: str) -> Path:
        """Where a path on the node lives, seen from the host."""
        if self.holder is None:  # loopback mode: the host's own filesystem
            return Path(node_path)
        return Path(f"/proc/{self.holder.pid}/root") / node_path.lstrip("/")

    def start_holder(self) -> None:
        if self.lab.mode == "loopback":
            return
        for folder in PRIVATE_DIRS:
            Path(folder).mkdir(parents=True, exist_ok=True)  # a mount point (empty on the host)
        mounts = "; ".join(f"mount -t tmpfs -o mode=0755 tmpfs {d}" for d in PRIVATE_DIRS)
        self.holder = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.namespace,
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"{mounts}; exec sleep 86400",
            ],
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.path("/srv").exists() and _is_mountpoint(self.holder.pid, "/srv"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: the filesystem holder did not come up")

    def start_sshd(self) -> None:
        argv = [SSHD, "-D", "-e", "-f", str(self.config)]
        if self.holder is not None:
            argv = ["nsenter", "-t", str(self.holder.pid), "-m", "-n", *argv]
        with (self.lab.dir / self.name / "sshd.log").open("ab") as log:
            self.sshd = subprocess.Popen(argv, stderr=log)
        self.lab.wait_port(self.address, 22, up=True)

    def stop_sshd(self) -> None:
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.send_signal(signal.SIGTERM)
            try:
                self.sshd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait()
        self.sshd = None

    @property
    def _drop_table(self) -> str:
        return "cwdrop" if self.lab.mode == "netns" else f"cwdrop{self.lab.id}x{self.name[-1]}"

    def drop_packets(self) -> None:
        nft = ["ip", "netns", "exec", self.namespace, "nft"] if self.lab.mode == "netns" else ["nft"]
        table = self._drop_table
        _run(*nft, f"add table inet {table}")
        if self.lab.mode == "netns":
            _run(*nft, f"add chain inet {table} input {{ type filter hook input priority 0; policy drop; }}")
        else:  # only this node's address on the shared host
            _run(*nft, f"add chain inet {table} input {{ type filter hook input priority 0; }}")
            _run(*nft, f"add rule inet {table} input ip daddr {self.address} tcp dport 22 drop")
        self.dropping = True

    def restore_packets(self) -> None:
        if self.dropping:
            nft = ["ip", "netns", "exec", self.namespace, "nft"] if self.lab.mode == "netns" else ["nft"]
            _run(*nft, f"delete table inet {self._drop_table}", check=False)
            self.dropping = False

    def change_host_key(self) -> None:
        self.stop_sshd()
        self.host_key.unlink()
        self.host_key.with_suffix(".pub").unlink()
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key))
        self.start_sshd()

    def public_host_key(self) -> str:
        """``type key`` of the node's host key (a bare known_hosts entry)."""
        key_type, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{key_type} {key}"

    def known_hosts_line(self) -> str:
        return f"{self.address} {self.public_host_key()}"

    def stop(self) -> None:
        self.restore_packets()
        self.stop_sshd()
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()


@dataclass
class EdgeLab:
    size: int
    # "netns": namespaces and private filesystems; "loopback": sshd on 127.0.x.y of the host.
    mode: str = "netns"
    id: str = field(default_factory=lambda: f"{os.getpid() % 100000}{int(time.time() * 1000) % 1000:03d}")
    nodes: list[EdgeNode] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    @property
    def control_ns(self) -> str:
        return f"cwc{self.id}"

    @property
    def dir(self) -> Path:
        return LAB_ROOT / self.id

    @property
    def subnet(self) -> str:
        if self.mode == "loopback":
            return f"127.{10 + int(self.id) % 200}.{int(self.id) % 250}"
        return f"10.{77 + int(self.id) % 100}.{int(self.id) % 250}"

    @property
    def isolated(self) -> bool:
        """Nodes have their own filesystems (not in loopback mode)."""
        return self.mode == "netns"

    @property
    def client_key(self) -> Path:
        return self.dir / "client_ed25519"

    @property
    def worker_prefix(self) -> str:
        return f"ip netns exec {self.control_ns}" if self.mode == "netns" else ""

    def control(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.control_ns, *argv] if self.mode == "netns" else list(argv)

    @staticmethod
    def available() -> str | None:
        """None when a lab can be built here (in some mode), else the reason it cannot."""
        if os.geteuid() != 0:
            return "edge lab needs root (sshd on port 22, nft)"
        for tool in ("ssh-keygen", "nft"):
            if shutil.which(tool) is None:
                return f"edge lab needs {tool} on PATH"
        if not Path(SSHD).exists():
            return f"edge lab needs {SSHD} (apt-get install openssh-server)"
        return None

    @staticmethod
    def best_mode() -> str:
        """netns when namespaces can be made here, else loopback (CW_EDGE_LAB_MODE forces one)."""
        forced = os.environ.get("CW_EDGE_LAB_MODE")
        if forced in ("netns", "loopback"):
            return forced
        if not all(shutil.which(t) for t in ("ip", "unshare", "nsenter")):
            return "loopback"
        probe = f"cwprobe{os.getpid()}"
        if _run("ip", "netns", "add", probe, check=False).returncode != 0:
            return "loopback"
        _run("ip", "netns", "del", probe, check=False)
        return "netns"

    def start(self) -> EdgeLab:
        _clean_leftovers()
        self.dir.mkdir(parents=True, mode=0o700)
        (self.dir / "owner").write_text(str(os.getpid()))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "clockwork-lab", "-f", str(self.client_key))
        (self.dir / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        if self.mode == "loopback":
            for index in range(self.size):
                self._add_node(index)
            return self
        _run("ip", "netns", "add", self.control_ns)
        self.namespaces.append(self.control_ns)
        ctl = ["ip", "netns", "exec", self.control_ns]
        _run(*ctl, "ip", "link", "set", "lo", "up")
        _run(*ctl, "ip", "link", "add", "br0", "type", "bridge")
        _run(*ctl, "ip", "addr", "add", f"{self.subnet}.1/24", "dev", "br0")
        _run(*ctl, "ip", "link", "set", "br0", "up")
        for index in range(self.size):
            self._add_node(index)
        return self

    def _add_node(self, index: int) -> EdgeNode:
        name = f"node-{index}"
        ns = f"cwn{self.id}x{index}"
        address = f"{self.subnet}.{10 + index}"
        node_dir = self.dir / name
        node_dir.mkdir()
        host_key = node_dir / "ssh_host_ed25519_key"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
        if self.mode == "loopback":
            self._write_config(node_dir, address, host_key)
            node = EdgeNode(name, "", address, self, host_key)
            self.nodes.append(node)
            node.start_sshd()
            return node
        _run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        outside, inside = f"v{self.id}x{index}a"[:15], f"v{self.id}x{index}b"[:15]
        _run(
            "ip",
            "netns",
            "exec",
            self.control_ns,
            "ip",
            "link",
            "add",
            outside,
            "type",
            "veth",
            "peer",
            "name",
            inside,
            "netns",
            ns,
        )
        _run("ip", "netns", "exec", self.control_ns, "ip", "link", "set", outside, "master", "br0", "up")
        inn = ["ip", "netns", "exec", ns]
        _run(*inn, "ip", "link", "set", "lo", "up")
        _run(*inn, "ip", "addr", "add", f"{address}/24", "dev", inside)
        _run(*inn, "ip", "link", "set", inside, "up")
        self._write_config(node_dir, address, host_key)
        node = EdgeNode(name, ns, address, self, host_key)
        self.nodes.append(node)
        node.start_holder()
        node.start_sshd()
        return node

    def _write_config(self, node_dir: Path, address: str, host_key: Path) -> None:
        (node_dir / "sshd_config").write_text(
            "\n".join(
                [
                    f"ListenAddress {address}",
                    "Port 22",
                    f"HostKey {host_key}",
                    f"PidFile {node_dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    # A fleet's fan-out opens tens of connections at once (sshd's default drops some past 10).
                    "MaxStartups 200",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )

    def wait_port(self, address: str, port: int, up: bool, timeout: float = 10) -> None:
        """Wait (bounded) until the port answers from the control namespace, or stops answering."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered = _run(*self.control(["bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"]), check=False)
            if (answered.returncode == 0) == up:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{address}:{port} did not {'open' if up else 'close'} within {timeout}s")

    def ssh(self, node: EdgeNode, command: str, timeout: int = 5) -> subprocess.CompletedProcess[str]:
        known = self.dir / "known_hosts"
        known.write_text("".join(n.known_hosts_line() + "\n" for n in self.nodes))
        argv = [
            "ssh",
            "-i",
            str(self.client_key),
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"ConnectTimeout={timeout}",
            f"root@{node.address}",
            command,
        ]
        return subprocess.run(self.control(argv), capture_output=True, text=True, timeout=timeout + 10)

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        for ns in reversed(self.namespaces):
            _run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def _is_mountpoint(pid: int, path: str) -> bool:
    try:
        mounts = Path(f"/proc/{pid}/mounts").read_text()
    except OSError:
        return False
    return any(line.split()[1] == path for line in mounts.splitlines() if len(line.split()) > 1)


def _clean_leftovers() -> None:
    """Remove labs whose owning test process is gone (a killed run cannot clean up)."""
    if not LAB_ROOT.exists():
        return
    for lab_dir in LAB_ROOT.iterdir():
        try:
            owner = int((lab_dir / "owner").read_text())
        except (OSError, ValueError):
            owner = 0
        if owner and Path(f"/proc/{owner}").exists():
            continue
        for line in _run("ip", "netns", "list", check=False).stdout.splitlines():
            ns = line.split()[0] if line.split() else ""
            if ns in (f"cwc{lab_dir.name}",) or ns.startswith(f"cwn{lab_dir.name}x"):
                for pid in _run("ip", "netns", "pids", ns, check=False).stdout.split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                _run("ip", "netns", "del", ns, check=False)
        for table in _run("nft", "list", "tables", check=False).stdout.split():
            if table.startswith(f"cwdrop{lab_dir.name}x"):
                _run("nft", "delete", "table", "inet", table, check=False)
        shutil.rmtree(lab_dir, ignore_errors=True)


@contextlib.contextmanager
def edge_lab(size: int, mode: str | None = None) -> Iterator[EdgeLab]:
    lab = EdgeLab(size, mode=mode or EdgeLab.best_mode())
    try:
        yield lab.start()
    finally:
        lab.stop()


@contextlib.contextmanager
def isolated_lab(size: int) -> Iterator[EdgeLab]:
    """A lab whose nodes have their own file systems, or the test is skipped saying why not."""
    import pytest

    reason = EdgeLab.available()
    if reason:
        pytest.skip(reason)
    with edge_lab(size) as lab:
        if not lab.isolated:
            pytest.skip("nodes share the host's filesystem here (no network namespaces): per-node files cannot differ")
        yield lab
