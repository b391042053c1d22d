"""Completion cost: model calls and latency for 100 resources, first run and re-run.

The model is pydantic-ai's FunctionModel answering after a fixed delay (no network);
the resources are Files that leave `content` to the model. `clockwork plan` logic
(LocalDriver, SQLite cache) runs them in one process: the first run asks the model
once per resource, the re-run must ask it 0 times (the completion cache). plan also
reads the target (what is there now); that run goes to a no-op runner, so what is
measured is completion, not PyInfra.
Measured with batching off (CW_COMPLETION_BATCH_SIZE=1: one request per resource) and on
(the default, 10: resources of one kind with the same fields missing share a request).

    .venv/bin/python bench/completion_cost.py [--resources 100] [--delay 0.05] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from bench._noop_operator import NoopRunner
from bench.common import summary, write
from clockwork.api.registry import parse_resource
from clockwork.completion.ai import AICompleter
from clockwork.completion.guard import GuardPolicy
from clockwork.config import Settings
from clockwork.local import Loaded, LocalDriver
from clockwork.store import LocalStore


class Model:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    async def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.calls += 1
        await asyncio.sleep(self.delay)
        tool = info.output_tools[0]
        answer: dict[str, Any] = {"content": "written by the model\n"}
        if "items" in tool.parameters_json_schema.get("properties", {}):  # a batch: one entry per resource
            text = "".join(str(getattr(p, "content", "")) for p in messages[0].parts)
            ids = [r["id"] for r in json.loads(text[text.index("{") :])["resources"]]
            answer = {"items": [{"id": i, **answer} for i in ids]}
        return ModelResponse(parts=[ToolCallPart(tool.name, answer)])


def resources(count: int, root: Path) -> list[Loaded]:
    docs = [
        {
            "apiVersion": "clockwork.dev/v1alpha1",
            "kind": "File",
            "metadata": {"name": f"f{i}"},
            "spec": {"path": f"{root}/f{i}.txt", "description": f"note number {i}"},
        }
        for i in range(count)
    ]
    return [Loaded(parse_resource(d), "bench") for d in docs]


async def one_run(count: int, delay: float, batch_size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        model = Model(delay)
        completer = AICompleter(
            FunctionModel(model, model_name="scripted"), model_name="scripted",
            policy=GuardPolicy(allowed_roots=(tmp,)), batch_size=batch_size,
        )  # fmt: skip
        settings = Settings.from_env({"CW_STATE_DIR": str(Path(tmp) / "state"), "CW_MODEL": "scripted",
                                      "CW_COMPLETION_BATCH_SIZE": str(batch_size)})  # fmt: skip
        driver = LocalDriver(LocalStore(settings.state_dir), settings, runner=NoopRunner(), completer=completer)
        items = resources(count, Path(tmp))
        driver.batch = items
        found: dict[str, Any] = {}
        for label in ("first", "rerun"):
            before = model.calls
            started = time.perf_counter()
            outcomes = await driver.reconcile_all(items, "plan")
            found[label] = {
                "seconds": time.perf_counter() - started,
                "model_calls": model.calls - before,
                "ok": sum(o.ok for o in outcomes),
            }
        return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    options = f"--resources {args.resources} --delay {args.delay} --runs {args.runs}"
    table: list[tuple[str, ...]] = [("batching", "run", "model calls", "wall time median (min–max)", "per resource")]
    data: dict[str, Any] = {"resources": args.resources, "delay_seconds": args.delay}
    for label, size in (("off (1)", 1), ("on (10)", 10)):
        runs = [asyncio.run(one_run(args.resources, args.delay, size)) for _ in range(args.runs)]
        for run in ("first", "rerun"):
            seconds = summary([r[run]["seconds"] for r in runs])
            calls = sorted({r[run]["model_calls"] for r in runs})
            ok = sorted({r[run]["ok"] for r in runs})
            assert ok == [args.resources], f"{label} {run}: not every resource was completed: {ok}"
            if run == "rerun":
                assert calls == [0], f"the re-run asked the model: {calls}"
            data.setdefault(label, {})[run] = {"seconds": seconds, "model_calls": calls}
            table.append((label, "first" if run == "first" else "re-run", "/".join(map(str, calls)),
                          f"{seconds['median']:.2f} s ({seconds['min']:.2f}–{seconds['max']:.2f})",
                          f"{1000 * seconds['median'] / args.resources:.0f} ms"))  # fmt: skip
    write(
        "completion_cost",
        f".venv/bin/python bench/completion_cost.py {options}",
        data,
        table,
        notes=f"{args.resources} Files whose content the model writes, planned in one `clockwork plan` pass "
        f"(LocalDriver.reconcile_all); the model answers after {args.delay * 1000:.0f} ms. With batching on, "
        "the completions are asked before the pass, together, and share requests of up to 10.",
    )


if __name__ == "__main__":
    main()
