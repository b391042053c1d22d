"""Completion cost: model calls and latency for 100 resources, first run and re-run.

The model is pydantic-ai's FunctionModel answering after a fixed delay (no network);
the resources are Files that leave `content` to the model. `clockwork plan` logic
(LocalDriver, SQLite cache) runs them in one process: the first run asks the model
once per resource, the re-run must ask it 0 times (the completion cache). plan also
reads the target (what is there now); that run goes to a no-op runner, so what is
measured is completion, not PyInfra.
Batching several resources into one model call is not implemented (so not measured).

    .venv/bin/python bench/completion_cost.py [--resources 100] [--delay 0.05] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
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
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"content": "written by the model\n"})])


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


async def one_run(count: int, delay: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        model = Model(delay)
        completer = AICompleter(
            FunctionModel(model, model_name="scripted"), model_name="scripted", policy=GuardPolicy(allowed_roots=(tmp,))
        )
        settings = Settings.from_env({"CW_STATE_DIR": str(Path(tmp) / "state")})
        driver = LocalDriver(LocalStore(settings.state_dir), settings, runner=NoopRunner(), completer=completer)
        items = resources(count, Path(tmp))
        driver.batch = items
        found: dict[str, Any] = {}
        for label in ("first", "rerun"):
            before = model.calls
            started = time.perf_counter()
            outcomes = [await driver.reconcile(item, "plan") for item in items]
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
    runs = [asyncio.run(one_run(args.resources, args.delay)) for _ in range(args.runs)]
    first = summary([r["first"]["seconds"] for r in runs])
    rerun = summary([r["rerun"]["seconds"] for r in runs])
    calls_first = sorted({r["first"]["model_calls"] for r in runs})
    calls_rerun = sorted({r["rerun"]["model_calls"] for r in runs})
    assert calls_rerun == [0], f"the re-run asked the model: {calls_rerun}"
    options = f"--resources {args.resources} --delay {args.delay} --runs {args.runs}"
    command = f".venv/bin/python bench/completion_cost.py {options}"
    write(
        "completion_cost",
        command,
        {"resources": args.resources, "delay_seconds": args.delay, "runs": runs, "first": first, "rerun": rerun},
        [
            ("run", "model calls", "wall time median (min–max)", "per resource"),
            (
                "first",
                "/".join(map(str, calls_first)),
                f"{first['median']:.2f} s ({first['min']:.2f}–{first['max']:.2f})",
                f"{1000 * first['median'] / args.resources:.0f} ms",
            ),
            (
                "re-run",
                "/".join(map(str, calls_rerun)),
                f"{rerun['median']:.2f} s ({rerun['min']:.2f}–{rerun['max']:.2f})",
                f"{1000 * rerun['median'] / args.resources:.0f} ms",
            ),
        ],
        notes=f"{args.resources} Files whose content the model writes; "
        f"the model answers after {args.delay * 1000:.0f} ms. "
        "Resources are completed one after another (no batching yet).",
    )


if __name__ == "__main__":
    main()
