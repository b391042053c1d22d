"""Fan-out: the same work on N sshd edge nodes, Clockwork's PyInfra runner vs ansible-playbook.

The work: a directory, a file, a templated config and a shell command, on every node
of a network-namespace lab (tests/support/edge_lab.py), both tools run from the lab's
control namespace with the same key. Cold = the nodes are cleaned first; idempotent =
the same run again. Each configuration runs --runs times in this one process,
alternating the tools, and reports median and spread. ansible-core comes from PyPI
into bench/.venv-ansible (made on first use).

    .venv/bin/python bench/fanout_vs_ansible.py [--nodes 5 10 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.edge_lab import EdgeLab, edge_lab

from bench.common import summary, write
from clockwork import compile as compiler
from clockwork import kinds
from clockwork.api.registry import KINDS
from clockwork.completion.pipeline import with_defaults
from clockwork.plan import HostSpec, Operation, RunRequest
from clockwork.runners.pyinfra import PyinfraRunner

HERE = Path(__file__).resolve().parent
ANSIBLE_VENV = HERE / ".venv-ansible"
TEMPLATE = "[server]\nname = {{ name }}\nport = {{ port }}\n"
PLAYBOOK = """- hosts: all
  gather_facts: false
  tasks:
    - file: {path: /srv/bench/data, state: directory, mode: "0755"}
    - copy: {dest: /srv/bench/motd, content: "hello from the bench\\n", mode: "0644"}
    - template: {src: app.conf.j2, dest: /srv/bench/app.conf, mode: "0644"}
      vars: {name: bench, port: 8080}
    - shell: test -f /srv/bench/marker || touch /srv/bench/marker
      args: {creates: /srv/bench/marker}
"""


def ansible() -> Path:
    binary = ANSIBLE_VENV / "bin" / "ansible-playbook"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True)
    return binary


def operations() -> list[Operation]:
    def compiled(kind: str, spec: dict[str, object]) -> list[Operation]:
        info = KINDS[kind]
        resolved = info.resolved_model.model_validate(with_defaults(info, spec).completed)
        return compiler.compile_apply(kinds.KINDS[kind].compiler, resolved)

    return [
        *compiled("Directory", {"path": "/srv/bench/data"}),
        *compiled("File", {"path": "/srv/bench/motd", "content": "hello from the bench\n"}),
        *compiled(
            "File", {"path": "/srv/bench/app.conf", "template": TEMPLATE, "variables": {"name": "bench", "port": 8080}}
        ),
        Operation(
            id="marker", op="server.shell", args={"commands": ["test -f /srv/bench/marker || touch /srv/bench/marker"]}
        ),
    ]


def clockwork_run(lab: EdgeLab, ops: list[Operation]) -> float:
    hosts = [
        HostSpec.model_validate(
            {
                "name": n.name,
                "connector": "ssh",
                "address": n.address,
                "key_file": str(lab.client_key),
                "known_hosts": [n.public_host_key()],
            }
        )
        for n in lab.nodes
    ]
    runner = PyinfraRunner(prefix=lab.control([]))
    started = time.perf_counter()
    result = asyncio.run(runner.run(RunRequest(hosts=hosts, operations=ops, parallel=len(hosts))))
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"clockwork run failed: {[h.error for h in result.hosts if h.error]}")
    return seconds


def ansible_run(lab: EdgeLab, binary: Path, work: Path) -> float:
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[all]\n"
        + "".join(f"{n.name} ansible_host={n.address}\n" for n in lab.nodes)
        + f"[all:vars]\nansible_user=root\nansible_ssh_private_key_file={lab.client_key}\n"
        "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    (work / "site.yml").write_text(PLAYBOOK)
    (work / "app.conf.j2").write_text(TEMPLATE)
    env = [
        "env",
        f"ANSIBLE_FORKS={len(lab.nodes)}",
        "ANSIBLE_HOST_KEY_CHECKING=False",
        "ANSIBLE_PIPELINING=True",
        f"ANSIBLE_LOCAL_TEMP={work}/tmp",
        "ANSIBLE_STDOUT_CALLBACK=minimal",
    ]
    started = time.perf_counter()
    proc = subprocess.run(
        lab.control([*env, str(binary), "-i", str(inventory), str(work / "site.yml")]),
        capture_output=True,
        text=True,
        cwd=work,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def clean(lab: EdgeLab) -> None:
    for node in lab.nodes:
        subprocess.run(["rm", "-rf", str(node.path("/srv/bench"))], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = EdgeLab.available()
    if reason:
        raise SystemExit(f"the edge lab cannot run here: {reason}")
    binary = ansible()
    ops = operations()
    data: dict[str, dict[str, object]] = {}
    rows: list[tuple[str, ...]] = [("nodes", "run", "Clockwork median (min–max)", "Ansible median (min–max)", "ratio")]
    for size in args.nodes:
        with edge_lab(size) as lab, tempfile.TemporaryDirectory() as tmp:
            if not lab.isolated:
                raise SystemExit("the benchmark needs network namespaces (private /srv per node)")
            times: dict[str, list[float]] = {
                "clockwork cold": [],
                "ansible cold": [],
                "clockwork idem": [],
                "ansible idem": [],
            }
            for _ in range(args.runs):
                clean(lab)
                times["clockwork cold"].append(clockwork_run(lab, ops))
                times["clockwork idem"].append(clockwork_run(lab, ops))
                clean(lab)
                times["ansible cold"].append(ansible_run(lab, binary, Path(tmp)))
                times["ansible idem"].append(ansible_run(lab, binary, Path(tmp)))
            assert lab.nodes[0].path("/srv/bench/app.conf").read_text() == "[server]\nname = bench\nport = 8080\n"
            data[str(size)] = {k: summary(v) | {"values": v} for k, v in times.items()}
            for run in ("cold", "idem"):
                cw, an = summary(times[f"clockwork {run}"]), summary(times[f"ansible {run}"])
                rows.append(
                    (
                        str(size),
                        "cold" if run == "cold" else "idempotent",
                        f"{cw['median']:.2f} s ({cw['min']:.2f}–{cw['max']:.2f})",
                        f"{an['median']:.2f} s ({an['min']:.2f}–{an['max']:.2f})",
                        f"{cw['median'] / an['median']:.2f}×",
                    )
                )
    nodes = " ".join(map(str, args.nodes))
    write(
        "fanout_vs_ansible",
        f".venv/bin/python bench/fanout_vs_ansible.py --nodes {nodes} --runs {args.runs}",
        {"nodes": args.nodes, "runs": args.runs, "results": data},
        rows,
        notes="Same work both sides: directory, file, template, shell command. Ratio = Clockwork / Ansible "
        "(target ≤ 0.5× at 20 nodes). Both run from the lab's control namespace, all nodes in parallel.",
    )


if __name__ == "__main__":
    main()
