"""Several resources in one model request: completions that arrive together, of one kind
and with the same fields missing, and that need nothing but themselves.

A burst of new objects (the operator) or a manifest of many (``clockwork apply``) asks
for many completions at once. Those that share a kind and a set of missing fields and
carry no per-resource history (no diagnostics from a failed run, no dependency whose
values they must fit) are collected for a short window and asked in one request, up
to a number of items and a share of the model's context. Each answer is checked on its
own (schema and guard, as for one resource); an entry that is missing or not
acceptable is asked for again alone, with the usual retries, so batching never loses
a completion the single path would have made.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, create_model

from clockwork.api.registry import KindInfo
from clockwork.completion import prompting
from clockwork.completion.base import CompletionContext, Proposal
from clockwork.model import CWModel

# Of the model's context, the share a batch's prompt may take (the rest: instructions, the
# schema of the answer, the answer itself and its retries).
PROMPT_SHARE = 0.25
CHARS_PER_TOKEN = 3  # a cautious estimate for JSON


@dataclass(frozen=True)
class Item:
    spec: dict[str, Any]
    context: CompletionContext


def batchable(context: CompletionContext) -> bool:
    """Only a resource that needs nothing but itself: no diagnostics to fix, no dependency to fit."""
    return context.diagnostics is None and not any(r.get("dependency") for r in context.related)


def output_model(entry: type[BaseModel], count: int) -> type[BaseModel]:
    """One entry per resource, each the single-resource answer plus the resource's id."""
    item: type[BaseModel] = create_model(
        f"{entry.__name__}Item", __base__=entry, id=(int, Field(ge=0, lt=count, description="The resource's id."))
    )
    many: type[BaseModel] = create_model(
        f"{entry.__name__}Batch",
        __base__=CWModel,
        items=(list[item], Field(min_length=1, max_length=count, description="One entry per resource, by id.")),
    )
    return many


def prompt(info: KindInfo, items: list[Item], missing: list[str]) -> str:
    """The single-resource payloads, what they share said once (the kind, the fields, the
    related resources: mostly the same ones), each resource with an id."""
    shared: dict[str, Any] = {}
    related: dict[str, Any] = {}
    resources = []
    for index, item in enumerate(items):
        payload = json.loads(prompting.payload(info, item.spec, missing, item.context))
        for key in ("kind", "kindDescription", "fieldsToFill", "fieldDescriptions"):
            shared[key] = payload.pop(key)
        for entry in payload.pop("related", []):
            related.setdefault(json.dumps(entry, sort_keys=True), entry)
        resources.append({"id": index, **payload})
    task = (
        f"Complete each of these {len(items)} resources of kind {info.kind}: fill fieldsToFill for each, "
        "and answer with one entry in items per resource, with its id."
    )
    body: dict[str, Any] = {"task": task, **shared, "resources": resources}
    if related:
        body["related"] = list(related.values())
    return json.dumps(body, indent=2)


def entries(output: Any, count: int, entry: type[BaseModel]) -> list[BaseModel | None]:
    """The answer for each resource in order (as the single-resource answer), None where the
    model gave none or gave two."""
    found: dict[int, list[BaseModel]] = {}
    for answer in output.items:
        found.setdefault(answer.id, []).append(answer)
    picked: list[BaseModel | None] = []
    for index in range(count):
        answers = found.get(index, [])
        picked.append(entry.model_validate(answers[0].model_dump(exclude={"id"})) if len(answers) == 1 else None)
    return picked


AskOne = Callable[[KindInfo, dict[str, Any], list[str], CompletionContext], Awaitable[Proposal]]
AskMany = Callable[[KindInfo, list[Item], list[str]], Awaitable[list[Proposal | None]]]


@dataclass
class _Group:
    info: KindInfo
    missing: list[str]
    items: list[Item] = field(default_factory=list)
    futures: list[asyncio.Future[Proposal]] = field(default_factory=list)
    chars: int = 0
    related: set[str] = field(default_factory=set)  # said once in the prompt, counted once
    timer: asyncio.TimerHandle | None = None

    def cost(self, spec: dict[str, Any], context: CompletionContext) -> int:
        """Characters one more item adds to the prompt (its spec, related resources not yet in it)."""
        new = {json.dumps(r, sort_keys=True, default=str) for r in context.related} - self.related
        return len(json.dumps(spec, default=str)) + sum(map(len, new)) + 200


class Batcher:
    """Collects batchable completions for ``window`` seconds (or until ``size`` items or the
    prompt bound) and asks them together; a group of one is asked as usual."""

    def __init__(self, ask_one: AskOne, ask_many: AskMany, *, window: float, size: int, context_tokens: int) -> None:
        self.ask_one, self.ask_many = ask_one, ask_many
        self.window, self.size = window, size
        self.max_chars = int(context_tokens * PROMPT_SHARE * CHARS_PER_TOKEN)
        self._pending: dict[tuple[str, tuple[str, ...], tuple[str, ...]], _Group] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        key = (info.kind, tuple(missing), context.must_fill)
        group = self._pending.get(key)
        if group is not None and group.chars + group.cost(spec, context) > self.max_chars:
            self._flush(key)  # this one would overflow the prompt: the others go now
            group = None
        if group is None:
            group = self._pending[key] = _Group(info, missing)
        future: asyncio.Future[Proposal] = asyncio.get_running_loop().create_future()
        group.chars += group.cost(spec, context)
        group.related |= {json.dumps(r, sort_keys=True, default=str) for r in context.related}
        group.items.append(Item(spec, context))
        group.futures.append(future)
        if len(group.items) >= self.size:
            self._flush(key)
        elif group.timer is None:
            group.timer = asyncio.get_running_loop().call_later(self.window, self._flush, key)
        return await future

    def _flush(self, key: tuple[str, tuple[str, ...], tuple[str, ...]]) -> None:
        group = self._pending.pop(key, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._run(group))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, group: _Group) -> None:
        try:
            if len(group.items) == 1:
                item = group.items[0]
                answers: list[Proposal | None] = [
                    await self.ask_one(group.info, item.spec, group.missing, item.context)
                ]
            else:
                answers = await self.ask_many(group.info, group.items, group.missing)
            for index, answer in enumerate(answers):
                if answer is None:  # not acceptable in the batch: alone, with the usual retries
                    item = group.items[index]
                    answers[index] = await self.ask_one(group.info, item.spec, group.missing, item.context)
        except Exception as exc:  # the callers see the failure (a completer reports, it does not raise)
            for future in group.futures:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, found in zip(group.futures, answers, strict=True):
            if not future.done() and found is not None:  # a caller that went away is not answered
                future.set_result(found)
