"""Nothing a user had is lost on a real node: /etc/passwd, accounts and packages that were
there before Clockwork are exactly as they were after apply and destroy.

On the systemd node (a container with its own /etc, reached over SSH like any
EdgeNode). Covers: a File at /etc/passwd refused by default (the story of the issue),
and with onExisting: backup replaced and put back byte for byte; an existing
account changed (shell, groups) and restored with its password hash; an account
removed with present: false and recreated by destroy with the same uid, groups and
hash; an account Clockwork made removed again; a package that was installed stays
installed, one Clockwork installed is removed, one it removed comes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources
from tests.systemd.conftest import SystemdNode

pytestmark = pytest.mark.integration
ON_NODE = {"target": {"nodeName": "pi"}}


def facts(node: SystemdNode, *commands: str) -> list[str]:
    return [node.sh(c).stdout for c in commands]


def passwd_file(node: SystemdNode) -> list[str]:
    return facts(node, "sha256sum /etc/passwd", "stat -c '%a %u %g' /etc/passwd")


def account(node: SystemdNode, name: str) -> list[str]:
    return facts(node, f"getent passwd {name}", f"id -Gn {name}", f"getent shadow {name}")


def run(cli: CliRunner, command: str, manifest: Path) -> Any:
    return cli(command, "-f", str(manifest), "-o", "json", timeout=600)


def test_a_file_at_etc_passwd(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    before = passwd_file(systemd_node)
    original = systemd_node.sh("cat /etc/passwd").stdout
    pwned = resource("File", "passwd", path="/etc/passwd", content="pwned\n", **ON_NODE)
    manifest = write_resources(workdir / "pw.yaml", systemd_node.edge_node(), pwned)
    refused = run(cli, "apply", manifest)
    assert refused.code == 1
    message = next(o for o in refused.json() if o["resource"] == "File/default/passwd")["message"]
    assert "spec.path: /etc/passwd already exists as a file (mode 644, uid 0) on pi and Clockwork did not create it" \
        in message  # fmt: skip
    assert passwd_file(systemd_node) == before
    # Said on purpose: replaced, and destroy puts the original back byte for byte.
    mine = original + "extra:x:4242:4242::/nonexistent:/usr/sbin/nologin\n"
    manifest = write_resources(workdir / "pw.yaml", systemd_node.edge_node(),
                               resource("File", "passwd", path="/etc/passwd", content=mine, onExisting="backup",
                                        **ON_NODE))  # fmt: skip
    assert run(cli, "apply", manifest).code == 0
    assert "extra:x:4242" in systemd_node.sh("cat /etc/passwd").stdout
    assert run(cli, "destroy", manifest).code == 0
    assert passwd_file(systemd_node) == before


def test_accounts_that_were_there_come_back(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    sh = systemd_node.sh
    try:
        _accounts(cli, workdir, systemd_node)
    finally:  # the node is shared by the session: leave no accounts (nor used uids) behind
        sh("for u in olduser keeper fresh; do userdel -r $u; done 2>/dev/null; true")


def _accounts(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    sh = systemd_node.sh
    assert sh("useradd -m -u 1501 -s /bin/sh keeper && usermod -aG adm keeper && echo keeper:s3cret | chpasswd"
              " && useradd -m -u 1502 -s /bin/sh olduser && echo olduser:0ld | chpasswd").returncode == 0  # fmt: skip
    keeper, old = account(systemd_node, "keeper"), account(systemd_node, "olduser")
    manifest = write_resources(
        workdir / "users.yaml", systemd_node.edge_node(),
        resource("User", "keeper", shell="/bin/bash", groups=["audio"], **ON_NODE),
        resource("User", "olduser", present=False, **ON_NODE),
        resource("User", "fresh", home="/home/fresh", shell="/bin/sh", **ON_NODE),
    )  # fmt: skip
    applied = run(cli, "apply", manifest)
    assert applied.code == 0, applied.stdout[-3000:]
    assert sh("getent passwd keeper").stdout.strip().endswith(":/bin/bash")
    assert sh("getent passwd olduser").returncode != 0
    assert sh("getent passwd fresh").returncode == 0
    destroyed = run(cli, "destroy", manifest)
    assert destroyed.code == 0, [(o["resource"], o["message"]) for o in destroyed.json()]
    assert account(systemd_node, "keeper") == keeper
    assert account(systemd_node, "olduser") == old
    assert sh("getent passwd fresh").returncode != 0 and sh("test -e /home/fresh").returncode != 0


def test_packages_that_were_there_stay(cli: CliRunner, workdir: Path, systemd_node: SystemdNode) -> None:
    sh = systemd_node.sh
    installed = "dpkg-query -W -f='${Status}' %s 2>/dev/null | grep -q 'install ok installed'"
    assert sh(installed % "curl").returncode == 0  # in the image
    sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq tree jq >/dev/null 2>&1; true")
    keep = write_resources(workdir / "keep.yaml", systemd_node.edge_node(),
                           resource("Package", "curl", names=["curl"], **ON_NODE),
                           resource("Package", "tree", names=["tree"], update=True, **ON_NODE))  # fmt: skip
    applied = run(cli, "apply", keep)
    assert applied.code == 0, applied.stdout[-3000:]
    assert sh(installed % "tree").returncode == 0
    assert run(cli, "destroy", keep).code == 0
    assert sh(installed % "curl").returncode == 0, "a package that was there before stays"
    assert sh(installed % "tree").returncode != 0, "a package Clockwork installed goes"
    # A removal is undone by destroy.
    assert sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tree >/dev/null").returncode == 0
    gone = write_resources(workdir / "gone.yaml", systemd_node.edge_node(),
                           resource("Package", "no-tree", names=["tree"], present=False, **ON_NODE))  # fmt: skip
    assert run(cli, "apply", gone).code == 0
    assert sh(installed % "tree").returncode != 0
    assert run(cli, "destroy", gone).code == 0
    assert sh(installed % "tree").returncode == 0
