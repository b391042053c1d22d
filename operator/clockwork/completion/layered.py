"""The model first, the offline rules for what it leaves open.

A small model often answers only what it is sure of and leaves the rest null (a
135M-parameter model leaves nearly every nullable field null). Rather than
failing those resources, the offline rules fill what they can of what the model
left, seeing the model's values as if the user had set them (so a port follows
the image the model chose). Each value keeps who proposed it (``Proposal.sources``
becomes ``status.filled[].source``); both completers' values pass the same guard
and schema in reconcile/ before use.
"""

from __future__ import annotations

from typing import Any

from clockwork.api.common import CompletionSource
from clockwork.api.registry import KindInfo
from clockwork.completion.base import Completer, CompletionContext, Proposal
from clockwork.completion.offline import NO_PROSE


class ModelThenRules:
    name = "ai"
    source: CompletionSource = "ai"

    def __init__(self, model: Completer, rules: Completer) -> None:
        self.first, self.rest = model, rules
        self.model: str | None = model.model

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        # What the rules cannot write (prose), a description asked for: the model must answer it.
        if spec.get("description"):  # only when the user said what the text is to be
            ahead = await self.rest.propose(info, spec, missing, context)
            prose = tuple(u.field for u in ahead.unresolved if u.field in missing and u.reason == NO_PROSE)
            if prose:
                context = context.model_copy(update={"must_fill": prose})
        answer = await self.first.propose(info, spec, missing, context)
        left = [f for f in missing if answer.values.get(f) is None]
        if answer.error or answer.temporary_error or not left:
            return answer  # a failed exchange is retried or reported as it is, never papered over
        extra = await self.rest.propose(info, {**spec, **answer.values}, left, context)
        values, sources = dict(answer.values), dict(answer.sources)
        for name, value in extra.values.items():
            if name in left and value is not None:
                values[name], sources[name] = value, self.rest.source
        # What neither could fill: the model's reason first (it was asked), else the rules'.
        open_fields = {f for f in left if f not in values}
        said = {u.field for u in answer.unresolved}
        unresolved = [u for u in answer.unresolved if u.field in open_fields]
        unresolved += [
            u.model_copy(update={"reason": f"the model left it empty, and {u.reason}"})
            for u in extra.unresolved
            if u.field in open_fields and u.field not in said
        ]
        return answer.model_copy(update={"values": values, "sources": sources, "unresolved": unresolved})

    async def aclose(self) -> None:
        await self.first.aclose()
        await self.rest.aclose()
