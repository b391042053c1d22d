"""Batching: completions that arrive together, of one kind with the same fields missing, share
one model request (completion/batch.py) — each answer still checked on its own, and what the
batch did not answer acceptably asked again alone, so nothing the single path makes is lost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from clockwork.api.registry import KINDS
from clockwork.completion.ai import AICompleter
from clockwork.completion.base import CompletionContext, Proposal
from clockwork.completion.guard import GuardPolicy

FILE = KINDS["File"]
MISSING = ["content", "mode"]


class Model:
    """Answers each resource with content naming it; ``bad(name)`` gives that one a forbidden mode."""

    def __init__(self, bad: Callable[[str], bool] = lambda _: False, skip: Callable[[int], bool] = lambda _: False):
        self.bad, self.skip = bad, skip
        self.batches: list[int] = []  # the size of each request (1: alone)

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        text = "".join(str(getattr(p, "content", "")) for p in messages[0].parts)
        prompt = json.loads(text[text.index("{") :])
        tool = info.output_tools[0]
        retried = len(messages) > 1
        if "resources" not in prompt:
            self.batches.append(1)
            mode = "0777" if self.bad(prompt["name"]) and not retried else "0644"
            return ModelResponse(parts=[ToolCallPart(tool.name, {"content": f"for {prompt['name']}", "mode": mode})])
        self.batches.append(len(prompt["resources"]))
        items = [
            {"id": r["id"], "content": f"for {r['name']}", "mode": "0777" if self.bad(r["name"]) else "0644"}
            for r in prompt["resources"]
            if not self.skip(r["id"])
        ]
        return ModelResponse(parts=[ToolCallPart(tool.name, {"items": items})])


def completer(model: Model, size: int = 4, context_tokens: int = 8192) -> AICompleter:
    return AICompleter(FunctionModel(model, model_name="m"), model_name="m", policy=GuardPolicy(),
                       batch_size=size, batch_window=0.05, context_tokens=context_tokens)  # fmt: skip


def propose_all(ai: AICompleter, names: list[str], **context: Any) -> list[Proposal]:
    async def run() -> list[Proposal]:
        return await asyncio.gather(*(
            ai.propose(FILE, {"path": f"/srv/{n}"}, MISSING, CompletionContext(name=n, **context)) for n in names
        ))  # fmt: skip

    return asyncio.run(run())


NAMES = [f"f{i}" for i in range(6)]


def test_completions_that_arrive_together_share_requests_and_each_gets_its_own_answer() -> None:
    model = Model()
    proposals = propose_all(completer(model), NAMES)
    assert sorted(model.batches) == [2, 4]  # 6 items, at most 4 a request
    assert [p.values["content"] for p in proposals] == [f"for {n}" for n in NAMES]
    assert sum(p.requests for p in proposals) == len(model.batches)  # each request counted once


def test_an_entry_the_guard_refuses_is_asked_again_alone() -> None:
    model = Model(bad=lambda name: name == "f1")
    proposals = propose_all(completer(model, size=6), NAMES)
    assert model.batches[0] == 6 and model.batches[1:] == [1, 1]  # f1 alone: refused, then corrected
    assert proposals[1].values == {"content": "for f1", "mode": "0644"}
    assert all(p.error is None for p in proposals)


def test_an_entry_the_model_left_out_is_asked_alone() -> None:
    model = Model(skip=lambda index: index == 2)
    proposals = propose_all(completer(model, size=6), NAMES)
    assert model.batches == [6, 1]
    assert proposals[2].values["content"] == "for f2"


def test_remediation_and_dependencies_are_never_batched() -> None:
    model = Model()
    propose_all(completer(model), NAMES[:3], diagnostics="port 8080 refused", attempt=1)
    propose_all(completer(model), NAMES[:3], related=[{"kind": "Directory", "name": "d", "dependency": True}])
    assert model.batches == [1] * 6


def test_the_prompt_bound_splits_a_group() -> None:
    model = Model()
    # 512 tokens of context: a quarter of it, about 384 characters, holds one or two of these.
    propose_all(completer(model, size=6, context_tokens=512), NAMES)
    assert len(model.batches) >= 3 and sum(model.batches) == 6


def test_a_model_that_cannot_answer_a_batch_is_asked_for_each_alone() -> None:
    calls: list[str] = []

    def no_batches(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        text = "".join(str(getattr(p, "content", "")) for p in messages[0].parts)
        calls.append("batch" if '"resources"' in text else "alone")
        answer: dict[str, Any] = {"items": "not a list"} if '"resources"' in text else {"content": "x", "mode": "0644"}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])

    ai = AICompleter(FunctionModel(no_batches, model_name="m"), model_name="m", policy=GuardPolicy(), max_retries=1,
                     batch_size=3, batch_window=0.05)  # fmt: skip
    proposals = propose_all(ai, NAMES[:3])
    assert calls == ["batch", "batch", "alone", "alone", "alone"]  # the batch and its retry, then each alone
    assert all(p.error is None and p.values["content"] == "x" for p in proposals)


@pytest.mark.usefixtures("allow_model_requests")  # to a closed port on 127.0.0.1: refused at once
def test_an_unreachable_server_fails_every_item_at_once() -> None:
    ai = AICompleter.openai_compatible("m", base_url="http://127.0.0.1:9/v1", api_key=None, policy=GuardPolicy(),
                                       timeout=5, batch_size=3, batch_window=0.05)  # fmt: skip

    async def run() -> list[Proposal]:
        try:
            return await asyncio.gather(*(
                ai.propose(FILE, {"path": f"/srv/{n}"}, MISSING, CompletionContext(name=n)) for n in NAMES[:3]
            ))  # fmt: skip
        finally:
            await ai.aclose()

    proposals = asyncio.run(run())
    assert all(p.temporary_error and "unreachable" in p.temporary_error for p in proposals)
