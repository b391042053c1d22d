"""Completion evaluation: a description in, properties the completion must have out.

Each case is one resource as a user would write it (a description, a few fields) and
the properties its completion must have ("a shell script that prints the date" -> a
`.sh` name, mode 0755, content that calls `date`). Every case runs through the real
completion pipeline (completer, guard, defaults) and the kind's resolved model, once
per completer: the offline one always, and a model when one is given (--model and
--base-url, or --serve to start the model tier's llama.cpp server with SmolLM2-135M) —
alone (CW_COMPLETION_FALLBACK=none), with the offline rules for what it leaves open (the
default), and the same with every case at once so that cases of one kind share batched
requests (CW_COMPLETION_BATCH_SIZE=10).

Reported per case: pass/fail (all properties hold), valid (the completion resolves: no
field missing, every value within its schema and the guard), guard-rejected (the
completer's values were refused by the guard or the schema), model requests (retries =
requests - 1), latency. Results in bench/results/completion_eval.{json,md}.

    .venv/bin/python bench/completion_eval.py [--serve | --model local | --model M --base-url URL] [--embedded]
                                              [--only ID ...]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import ValidationError

from bench.common import write
from clockwork import kinds
from clockwork.api.registry import KINDS
from clockwork.completion import embedded, pipeline
from clockwork.completion.base import Completer, CompletionContext, Proposal
from clockwork.completion.guard import GuardPolicy
from clockwork.completion.layered import ModelThenRules

ROOT = "/srv/clockwork"
Check = tuple[str, Callable[[dict[str, Any]], bool]]


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    spec: dict[str, Any]
    checks: tuple[Check, ...]
    name: str = "thing"


# --- properties -------------------------------------------------------------------------------


def _file_name(c: dict[str, Any]) -> str:
    return str(c.get("path") or c.get("name") or "")


def ends(suffix: str) -> Check:
    return f"name ends {suffix}", lambda c: _file_name(c).endswith(suffix)


def under(root: str) -> Check:
    return f"under {root}", lambda c: str(c.get("path") or c.get("directory") or c.get("dest") or "").startswith(root)


def equals(field: str, value: Any) -> Check:
    return f"{field} = {value!r}", lambda c: c.get(field) == value


def mentions(field: str, *words: str) -> Check:
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    return f"{field} mentions {'/'.join(words)}", lambda c: bool(pattern.search(str(c.get(field) or "")))


def nonempty(field: str) -> Check:
    return f"{field} written", lambda c: bool(str(c.get(field) or "").strip())


def image(*names: str) -> Check:
    def ok(c: dict[str, Any]) -> bool:
        repository = str(c.get("image") or "").split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        return repository in names

    return f"image is {'/'.join(names)}", ok


def port(container: int, loopback: bool = True) -> Check:
    def ok(c: dict[str, Any]) -> bool:
        for mapping in c.get("ports") or []:
            if mapping.get("container") == container:
                return not loopback or mapping.get("hostIp") in (None, "127.0.0.1")
        return False

    return f"port {container}" + (" on loopback" if loopback else ""), ok


def has(field: str, value: Any) -> Check:
    return f"{field} has {value!r}", lambda c: value in (c.get(field) or [])


def schedule() -> Check:
    return "has a schedule", lambda c: bool(c.get("schedule")) and c.get("runMode") in (None, "schedule")


# --- the cases ----------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    Case("file-game-of-life", "File", {"description": "Write about Conway's Game of Life"},
         (under(ROOT), ends(".txt"), mentions("content", "life", "cell", "conway"), equals("mode", "0644")), "life"),
    Case("file-date-script", "File", {"description": "a shell script that prints the date"},
         (ends(".sh"), equals("mode", "0755"), mentions("content", "date")), "print-date"),
    Case("file-hello-script", "File", {"description": "a bash script that says hello"},
         (ends(".sh"), equals("mode", "0755"), mentions("content", "echo", "printf")), "hello"),
    Case("file-secret-token", "File", {"description": "a file holding the API token for the uplink",
                                       "content": "t0ken\n"}, (equals("mode", "0600"),), "uplink-token"),
    Case("file-password", "File", {"description": "the database password", "content": "pw\n"},
         (equals("mode", "0600"),), "db-password"),
    Case("file-json-config", "File", {"description": "a JSON config for the sensor reader"},
         (ends(".json"), nonempty("content")), "sensor"),
    Case("file-yaml", "File", {"description": "a YAML file listing the site's sensors"},
         (ends(".yaml"), nonempty("content")), "sensors"),
    Case("file-toml", "File", {"description": "a TOML settings file for the agent"},
         (ends(".toml"), nonempty("content")), "agent"),
    Case("file-ini", "File", {"description": "an ini file for the logger"},
         (ends(".ini"), nonempty("content")), "logger"),
    Case("file-env", "File", {"description": "an env file for the uplink", "content": "A=1\n"},
         (ends(".env"), equals("mode", "0600")), "uplink"),
    Case("file-conf", "File", {"description": "a configuration file for the relay", "content": "port=1\n"},
         (ends(".conf"), equals("mode", "0644")), "relay"),
    Case("file-readme", "File", {"description": "a README for the edge box"}, (ends(".md"), nonempty("content")),
         "readme"),
    Case("file-motd", "File", {"description": "a message of the day welcoming operators"},
         (nonempty("content"), equals("mode", "0644")), "motd"),
    Case("file-given-path", "File", {"path": "/srv/clockwork/notes.txt", "description": "notes about the site"},
         (equals("path", "/srv/clockwork/notes.txt"), nonempty("content")), "notes"),
    Case("file-entrypoint", "File", {"description": "an executable entrypoint that starts the collector"},
         (equals("mode", "0755"), nonempty("content")), "entrypoint"),
    Case("file-haiku", "File", {"description": "a haiku about the sea"}, (ends(".txt"), nonempty("content")), "haiku"),
    Case("dir-data", "Directory", {"description": "a directory for the collector's data"},
         (under(ROOT), equals("mode", "0755")), "data"),
    Case("dir-given", "Directory", {"path": "/srv/clockwork/cache"}, (equals("path", "/srv/clockwork/cache"),
                                                                     equals("mode", "0755")), "cache"),
    Case("dir-private", "Directory", {"description": "a private directory for secrets"}, (under(ROOT),), "vault"),
    Case("dir-logs", "Directory", {"description": "where the logs go"}, (under(ROOT),), "logs"),
    Case("container-redis", "Container", {"description": "a redis cache"}, (image("redis"), port(6379)), "cache"),
    Case("container-nginx", "Container", {"description": "an nginx web server"}, (image("nginx"), port(80)), "web"),
    Case("container-nginx-port", "Container", {"description": "an nginx on port 8081"},
         (image("nginx"), port(80)), "web2"),
    Case("container-postgres", "Container", {"description": "a postgres database"},
         (image("postgres"), port(5432)), "db"),
    Case("container-mariadb", "Container", {"description": "a mysql database"}, (image("mariadb", "mysql"), port(3306)),
         "mysql"),
    Case("container-mosquitto", "Container", {"description": "an MQTT broker"},
         (image("eclipse-mosquitto", "mosquitto"), port(1883)), "broker"),
    Case("container-grafana", "Container", {"description": "grafana dashboards"}, (image("grafana"), port(3000)),
         "grafana"),
    Case("container-prometheus", "Container", {"description": "a prometheus metrics server"},
         (image("prometheus"), port(9090)), "prom"),
    Case("container-node-exporter", "Container", {"description": "node exporter for host metrics"},
         (image("node-exporter"), port(9100)), "nodeexp"),
    Case("container-influx", "Container", {"description": "an influxdb time series store"},
         (image("influxdb"), port(8086)), "influx"),
    Case("container-caddy", "Container", {"description": "a caddy server"}, (image("caddy"), port(80)), "caddy"),
    Case("container-given-image", "Container", {"image": "redis:7.4-alpine"}, (image("redis"), port(6379)), "given"),
    Case("workload-collector", "Workload", {"description": "run the collector forever",
                                            "command": "/usr/local/bin/collector"},
         (equals("type", "service"), equals("runMode", "forever")), "collector"),
    Case("workload-nightly", "Workload", {"description": "back up the data every night at 2",
                                          "command": "/usr/local/bin/backup", "schedule": "0 2 * * *"},
         (schedule(),), "backup"),
    Case("workload-once", "Workload", {"description": "migrate the database once", "command": "/usr/bin/migrate"},
         (equals("runMode", "nTimes"), equals("maxRuns", 1)), "migrate"),
    Case("workload-given", "Workload", {"command": "/usr/bin/sleep 60"}, (nonempty("name"),), "sleeper"),
    Case("gitrepo-dest", "GitRepo", {"url": "https://github.com/acme/site.git", "description": "the site's pages"},
         (under(ROOT), equals("pull", True)), "site"),
    Case("gitrepo-ref", "GitRepo", {"url": "https://github.com/acme/tools.git", "ref": "v1.2.0"},
         (under(ROOT), equals("ref", "v1.2.0")), "tools"),
    Case("package-curl", "Package", {"names": ["curl"], "description": "curl for downloads"},
         (has("names", "curl"), equals("manager", "auto")), "curl"),
    Case("package-two", "Package", {"names": ["jq", "git"]}, (has("names", "jq"), equals("present", True)), "tools"),
    Case("user-svc", "User", {"description": "a system account for the collector"}, (nonempty("name"),), "collector"),
    Case("user-named", "User", {"name": "alice"}, (equals("name", "alice"),), "alice"),
)  # fmt: skip


# --- running ----------------------------------------------------------------------------------


class Counting:
    """A completer that keeps its last proposal (requests, errors) for the report."""

    def __init__(self, inner: Completer) -> None:
        self.inner = inner
        self.name, self.source, self.model = inner.name, inner.source, inner.model
        self.last: Proposal | None = None

    async def propose(self, info: Any, spec: dict[str, Any], missing: list[str], context: Any) -> Proposal:
        self.last = await self.inner.propose(info, spec, missing, context)
        return self.last


async def run_case(case: Case, completer: Counting) -> dict[str, Any]:
    info = KINDS[case.kind]
    completer.last = None
    started = time.perf_counter()
    completion = await pipeline.complete(info, dict(case.spec), CompletionContext(name=case.name), completer)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    completed = completion.completed
    problem = completion.error or completion.temporary_error
    try:
        info.resolved_model.model_validate(completed, by_alias=True, by_name=False)
        valid = problem is None and not completion.unresolved
    except ValidationError as exc:
        valid, problem = False, problem or f"does not resolve: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
    if not valid and problem is None:
        problem = "; ".join(f"{u.field}: {u.reason}" for u in completion.unresolved)
    failed = [label for label, check in case.checks if not _holds(check, completed)]
    proposal = completer.last
    return {
        "case": case.id,
        "kind": case.kind,
        "passed": valid and not failed,
        "valid": valid,
        "guard_rejected": bool(completion.error),
        "requests": proposal.requests if proposal else 0,
        "seconds": round(seconds, 3),
        "failed": failed,
        "problem": (problem or "")[:300],
    }


def _holds(check: Callable[[dict[str, Any]], bool], completed: dict[str, Any]) -> bool:
    try:
        return bool(check(completed))
    except (TypeError, ValueError, AttributeError):
        return False


def scores(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows) or 1
    asked = [r for r in rows if r["requests"]]
    return {
        "cases": len(rows),
        "passed": sum(r["passed"] for r in rows),
        "pass_rate": round(sum(r["passed"] for r in rows) / n, 3),
        "validity_rate": round(sum(r["valid"] for r in rows) / n, 3),
        "guard_rejection_rate": round(sum(r["guard_rejected"] for r in rows) / n, 3),
        "model_requests": sum(r["requests"] for r in rows),
        "retries": sum(max(0, r["requests"] - 1) for r in asked),
        "median_seconds": sorted(r["seconds"] for r in rows)[len(rows) // 2] if rows else 0,
    }


async def evaluate(completers: dict[str, Completer], cases: tuple[Case, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, completer in completers.items():
        if label.endswith(BATCHED):  # every case at once: those of one kind share requests
            rows = list(await asyncio.gather(*(run_case(case, Counting(completer)) for case in cases)))
        else:
            counting = Counting(completer)
            rows = [await run_case(case, counting) for case in cases]
        out[label] = {"scores": scores(rows), "cases": rows}
        print(f"{label}: {out[label]['scores']}", file=sys.stderr)
    return out


BATCHED = ", batched"


def _model_completer(model: str, base_url: str, output: str, max_tokens: int, batch_size: int = 1) -> Completer:
    from clockwork.completion.ai import AICompleter

    transport = None
    if model == embedded.MODEL_NAME:  # the embedded model, in this process (the local-model extra)
        base_url, transport = embedded.BASE_URL, embedded.transport(1, 8192)
    return AICompleter.openai_compatible(
        model, base_url=base_url, api_key=None, policy=GuardPolicy(allowed_roots=(ROOT, "/opt", "/etc", "/var/lib")),
        max_retries=2, timeout=120.0, output=output, max_tokens=max_tokens, batch_size=batch_size,
        transport=transport,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help="start the model tier's llama.cpp server (SmolLM2-135M)")
    parser.add_argument("--model")
    parser.add_argument("--base-url")
    parser.add_argument("--output", default="auto", help="CW_COMPLETION_OUTPUT for the model")
    parser.add_argument("--embedded", action="store_true", help="also the embedded model (CW_MODEL=local)")
    parser.add_argument("--only", nargs="*", help="case ids")
    parser.add_argument("--max-tokens", type=int, help="CW_COMPLETION_MAX_TOKENS (default 2048; 384 with --serve)")
    args = parser.parse_args()
    cases = tuple(c for c in CASES if not args.only or c.id in args.only)
    completers: dict[str, Completer] = {"offline": kinds.offline_completer(ROOT)}
    server = None
    command = ".venv/bin/python bench/completion_eval.py"
    with tempfile.TemporaryDirectory() as tmp:
        if args.serve:
            from tests.helpers import free_port
            from tests.support.llama import ALIAS, model_folder, start_model_server

            # Bounded, but longer than a whole run on a busy machine (5 completers, ~300 requests).
            server = start_model_server(model_folder(), free_port(), Path(tmp), lifetime=6 * 3600)
            args.model, args.base_url = ALIAS, server.url
            command += " --serve"
        elif args.model:
            command += f" --model {args.model}" + (f" --base-url {args.base_url}" if args.base_url else "")
        if args.model:
            small = args.serve or args.model == embedded.MODEL_NAME
            tokens = args.max_tokens or (384 if small else 2048)
            alone = _model_completer(args.model, args.base_url, args.output, tokens)
            completers[f"model {args.model}"] = alone  # CW_COMPLETION_FALLBACK=none
            completers[f"model {args.model} + offline rules"] = ModelThenRules(
                _model_completer(args.model, args.base_url, args.output, tokens), kinds.offline_completer(ROOT)
            )  # the default, one case at a time
            completers[f"model {args.model} + offline rules{BATCHED}"] = ModelThenRules(
                _model_completer(args.model, args.base_url, args.output, tokens, batch_size=10),
                kinds.offline_completer(ROOT),
            )  # all cases at once, in batches of up to 10 (CW_COMPLETION_BATCH_SIZE)
        if args.embedded:  # the same model in this process (CW_MODEL=local), alone and with the rules
            local = embedded.MODEL_NAME
            completers[f"model {local}"] = _model_completer(local, "", args.output, args.max_tokens or 384)
            completers[f"model {local} + offline rules"] = ModelThenRules(
                _model_completer(local, "", args.output, args.max_tokens or 384), kinds.offline_completer(ROOT)
            )
            command += " --embedded"
        try:
            results = asyncio.run(evaluate(completers, cases))
        finally:
            rate = server.tokens_per_second() if server else None
            ended = server is not None and server.process.poll() is not None
            if server:
                server.stop()
    if ended:  # what was measured after that is the server's absence, not the model
        raise SystemExit("the model server ended during the run; nothing written (see its log)")
    rows: list[tuple[str, ...]] = [("completer", "passed", "valid", "guard-rejected", "model requests", "retries",
                                    "median latency")]  # fmt: skip
    for label, found in results.items():
        s = found["scores"]
        rows.append((label, f"{s['passed']}/{s['cases']}", f"{s['validity_rate']:.0%}",
                     f"{s['guard_rejection_rate']:.0%}", str(s["model_requests"]), str(s["retries"]),
                     f"{s['median_seconds']:.2f} s"))  # fmt: skip
    detail = ["", "| case | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for i, case in enumerate(cases):
        cells = []
        for found in results.values():
            row = found["cases"][i]
            cells.append("pass" if row["passed"] else "fail: " + (", ".join(row["failed"]) or row["problem"])[:120])
        detail.append(f"| {case.id} | " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    notes = ("A case passes when its completion is valid (resolves, within schema and guard) and every property "
             "holds. " + (f"Model server: llama.cpp (llama-cpp-python), {rate:.1f} tokens/s. " if rate else "")
             + "\n".join(detail))  # fmt: skip
    write("completion_eval", command + (f" --only {' '.join(args.only)}" if args.only else ""),
          {"cases": len(cases), "results": results, "tokens_per_second": rate}, rows, notes=notes)  # fmt: skip


if __name__ == "__main__":
    main()
