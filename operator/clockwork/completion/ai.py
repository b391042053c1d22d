"""The AI completer: PydanticAI against any OpenAI-compatible endpoint.

The model is asked for exactly the missing fields of one kind, as a structured
output whose schema carries each field's own constraints; output that fails
validation or the guard goes back to the model (ModelRetry) a bounded number of
times. The description is the user's words and is handed over as data; whatever
the model answers is untrusted and checked again by reconcile/ before use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_ai import (
    Agent,
    ModelRetry,
    NativeOutput,
    PromptedOutput,
    ToolOutput,
    UnexpectedModelBehavior,
    capture_run_messages,
)
from pydantic_ai.exceptions import (
    AgentRunError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
    ModelTimeoutError,
    UserError,
)
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from clockwork.api.common import CompletionSource
from clockwork.api.registry import KindInfo
from clockwork.completion import batch, endpoint, guard, prompting
from clockwork.completion.base import CompletionContext, Proposal
from clockwork.completion.wire import MODE_HEADER, CompatTransport, OutputMode
from clockwork.errors import describe_validation_error
from clockwork.text import redact_url


def _requests_made(messages: list[ModelMessage]) -> int:
    return sum(1 for m in messages if isinstance(m, ModelResponse))


# How a guard rejection is put to the model (the report names only the problems).
NOT_ALLOWED = "These values are not allowed: "
# The output modes in the order ``auto`` tries them: the first that a server and model can do.
MODES: tuple[OutputMode, ...] = ("tool", "native", "json-object", "prompted")
# Answers that say the server cannot do an output mode (it refused the request's form).
REFUSED_STATUSES = (400, 404, 415, 422, 500, 501)


def _output(mode: OutputMode, out_type: type[BaseModel]) -> Any:
    if mode == "tool":
        return ToolOutput(out_type, name="complete")
    if mode in ("native", "json-object"):
        return NativeOutput(out_type)
    return PromptedOutput(out_type)


def _cannot_do(mode: OutputMode, exc: BaseException, messages: list[ModelMessage]) -> bool:
    """The failure says this server or model cannot use ``mode`` (another mode may work)."""
    if isinstance(exc, UserError):
        return True
    if isinstance(exc, ModelHTTPError):
        return exc.status_code in REFUSED_STATUSES and _requests_made(messages) == 0
    if isinstance(exc, UnexpectedModelBehavior) and mode == "tool":
        # Answered every time, never with a call of the tool: the model does not call tools.
        calls = [p for m in messages if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, ToolCallPart)]
        return not calls
    return False


class AICompleter:
    name = "ai"
    source: CompletionSource = "ai"

    def __init__(
        self,
        model: Model,
        *,
        model_name: str,
        policy: guard.GuardPolicy,
        max_retries: int = 3,
        timeout: float = 60.0,
        endpoint: str = "",
        secret: str | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
        output: str = "auto",
        max_tokens: int | None = None,
        batch_size: int = 1,
        batch_window: float = 0.25,
        context_tokens: int = 8192,
    ) -> None:
        self._close = close
        # Completions that arrive together are asked together (completion/batch.py); 1: never.
        self.batcher = (
            batch.Batcher(self._alone, self.propose_many, window=batch_window, size=batch_size,
                          context_tokens=context_tokens)
            if batch_size > 1 else None
        )  # fmt: skip
        self.max_tokens = max_tokens
        # The modes to try, in order; once one worked it is used first from then on.
        self.modes: list[OutputMode] = list(MODES) if output == "auto" else [m for m in MODES if m == output]
        if not self.modes:
            raise ValueError(f"unknown output mode {output!r} (one of auto, {', '.join(MODES)})")
        self._model = model
        # Kept only to scrub it from any message an endpoint echoes back.
        self._secret = secret
        self.model: str | None = model_name
        self.policy = policy
        self.max_retries = max_retries
        self.timeout = timeout
        self.endpoint = endpoint
        # Set when the endpoint could not be reached: the caller need not ask again soon.
        self.unreachable: str | None = None

    @classmethod
    def openai_compatible(
        cls,
        model_name: str,
        *,
        base_url: str | None,
        api_key: str | None,
        policy: guard.GuardPolicy,
        max_retries: int = 3,
        timeout: float = 60.0,
        output: str = "auto",
        max_tokens: int | None = None,
        batch_size: int = 1,
        batch_window: float = 0.25,
        context_tokens: int = 8192,
        transport: Any = None,
    ) -> AICompleter:
        import httpx2 as httpx
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.profiles.openai import OpenAIModelProfile
        from pydantic_ai.providers.openai import OpenAIProvider

        # Local servers (Ollama, LM Studio, vLLM) need no key, but the client wants one. The
        # transport rewrites each request into what the real servers take (completion/wire.py).
        # ``transport``: another way to the server (the embedded model's in-process app).
        client = httpx.AsyncClient(transport=CompatTransport(transport), timeout=httpx.Timeout(timeout + 5))
        provider = OpenAIProvider(base_url=base_url, api_key=api_key or "not-needed", http_client=client)
        # Every mode is offered; whether the server can do one is found out by asking (``auto``).
        # The answer's bound goes as `max_tokens`, which every server takes; OpenAI's own API wants
        # `max_completion_tokens` instead, which llama-cpp-python ignores (a model that does not
        # stop then fills the whole context, and the server keeps generating after we gave up).
        openai_itself = "api.openai.com" in (base_url or "https://api.openai.com/v1")
        profile = OpenAIModelProfile(
            supports_tools=True, supports_json_schema_output=True, supports_json_object_output=True,
            supports_forced_tool_choice=True, openai_supports_strict_tool_definition=False,
            openai_chat_supports_max_completion_tokens=openai_itself,
        )  # fmt: skip
        model = OpenAIChatModel(model_name, provider=provider, profile=profile)
        return cls(
            model,
            model_name=model_name,
            policy=policy,
            max_retries=max_retries,
            timeout=timeout,
            endpoint=redact_url(base_url or "https://api.openai.com/v1"),
            secret=api_key,
            close=client.aclose,
            output=output,
            max_tokens=max_tokens,
            batch_size=batch_size,
            batch_window=batch_window,
            context_tokens=context_tokens,
        )

    async def aclose(self) -> None:
        if self._close is not None:
            await self._close()

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        if self.batcher is not None and batch.batchable(context):
            return await self.batcher.propose(info, spec, missing, context)
        return await self._alone(info, spec, missing, context)

    async def _alone(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        return self._scrubbed(await self._propose(info, spec, missing, context))

    def _scrubbed(self, proposal: Proposal) -> Proposal:
        for name in ("temporary_error", "error"):
            text = getattr(proposal, name)
            if text and self._secret and len(self._secret) >= 4:
                text = text.replace(self._secret, "***")
            if text:
                setattr(proposal, name, redact_url(text))
        return proposal

    async def _propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        out_type = prompting.output_model(info, missing, context.must_fill)

        def accept(output: Any) -> str | None:
            return self._rejection(info, spec, output)

        found = await self._exchange(out_type, prompting.payload(info, spec, missing, context), accept)
        if isinstance(found, Proposal):
            return found
        result, requests = found
        return prompting.proposal(result.output, missing, requests, result.usage)

    async def propose_many(self, info: KindInfo, items: list[batch.Item], missing: list[str]) -> list[Proposal | None]:
        """One request for several resources of one kind with the same fields missing: a
        proposal per item, None where its entry was not acceptable (ask for it alone)."""
        entry = prompting.output_model(info, missing, items[0].context.must_fill)
        out_type = batch.output_model(entry, len(items))
        found = await self._exchange(out_type, batch.prompt(info, items, missing), lambda _: None)
        if isinstance(found, Proposal):
            if found.temporary_error is None:  # no acceptable batch answer: each is asked alone
                return [None for _ in items]
            return [self._scrubbed(found.model_copy()) for _ in items]  # the server is away for all of them
        result, requests = found
        usage = result.usage
        answers: list[Proposal | None] = []
        for item, answer in zip(items, batch.entries(result.output, len(items), entry), strict=True):
            good = answer is not None and self._rejection(info, item.spec, answer) is None
            answers.append(prompting.proposal(answer, missing, 0, None) if good else None)
        # The request is counted once, on the first answer the batch carries.
        first = next((a for a in answers if a is not None), None)
        if first is not None:
            first.requests = requests
            first.input_tokens, first.output_tokens = usage.input_tokens or 0, usage.output_tokens or 0
        return answers

    def _rejection(self, info: KindInfo, spec: dict[str, Any], output: Any) -> str | None:
        """Why the model's values for ``spec`` cannot be taken (the schema, then the guard), or None."""
        proposed = output.model_dump(by_alias=True, exclude_none=True, exclude={"unresolved"})
        merged = {**spec, **{k: v for k, v in proposed.items() if k not in spec}}
        try:
            info.spec_model.model_validate(merged, by_alias=True, by_name=False)
        except ValidationError as exc:
            return _schema_problems(exc)
        problems = guard.check(info.spec_model, merged, proposed, self.policy)
        if problems:
            return NOT_ALLOWED + "; ".join(str(p) for p in problems)
        return None

    async def _exchange(
        self, out_type: type[BaseModel], prompt: str, accept: Callable[[Any], str | None]
    ) -> tuple[Any, int] | Proposal:
        """One exchange in the first output mode that works here: (the run's result, requests
        made) or, when none answered acceptably, the first failure as a proposal."""
        first: Proposal | None = None
        requests = 0
        for mode in list(self.modes):
            found, made, cannot = await self._ask(mode, out_type, prompt, accept)
            requests += made
            if not cannot:
                if mode != self.modes[0]:  # found a mode that works: it goes first from now on
                    self.modes.remove(mode)
                    self.modes.insert(0, mode)
                if isinstance(found, Proposal):
                    found.requests = requests
                    return found
                return found, requests
            first = first or (found if isinstance(found, Proposal) else None)
        assert first is not None
        first.requests = requests
        if len(self.modes) > 1 and first.temporary_error:
            first.temporary_error += f" (no output mode worked: tried {', '.join(self.modes)})"
        return first

    async def _ask(
        self, mode: OutputMode, out_type: type[BaseModel], prompt: str, accept: Callable[[Any], str | None]
    ) -> tuple[Any, int, bool]:
        """One exchange in one output mode: (result or failure, requests, whether the failure
        says the mode cannot work here). Answers ``accept`` refuses go back to the model."""
        settings: ModelSettings = {
            "timeout": self.timeout, "max_retries": 0, "temperature": 0.0, "extra_headers": {MODE_HEADER: mode},
        }  # fmt: skip
        if self.max_tokens:
            settings["max_tokens"] = self.max_tokens
        agent: Agent[None, Any] = Agent(
            self._model,
            output_type=_output(mode, out_type),
            instructions=prompting.INSTRUCTIONS.format(roots=", ".join(self.policy.allowed_roots)),
            retries={"output": self.max_retries},
            model_settings=settings,
        )
        rejections: list[str] = []

        @agent.output_validator
        def _check(output: Any) -> Any:
            problem = accept(output)
            if problem is not None:
                rejections.append(problem.removeprefix(NOT_ALLOWED))
                raise ModelRetry(problem)
            return output

        # Hard bound on the whole exchange: every attempt may use the full timeout.
        deadline = self.timeout * (self.max_retries + 1) + 5
        with capture_run_messages() as messages:
            try:
                result = await asyncio.wait_for(agent.run(prompt), deadline)
            except (TimeoutError, AgentRunError, UserError) as exc:
                made = _requests_made(messages)
                return (
                    self._failure(exc, made, rejections[-1] if rejections else None),
                    made,
                    _cannot_do(mode, exc, messages),
                )
        return result, result.usage.requests, False

    def _failure(self, exc: BaseException, requests: int, last_rejection: str | None = None) -> Proposal:
        """A failed exchange as a proposal: temporary (try later) unless the model's answers were bad."""
        # A request that failed on the wire still went out (a connection refused did not).
        sent = max(1, requests)
        if isinstance(exc, UnexpectedModelBehavior):
            # The last answer failed either the output schema (before our validator ran: the
            # cause is its ValidationError) or our validator (the last rejection).
            cause = exc.__cause__
            why = _schema_problems(cause) if isinstance(cause, ValidationError) else (last_rejection or _short(exc))
            return Proposal(
                error=f"model {self.model} gave no acceptable values after {self.max_retries} retries; "
                f"last answer rejected: {why}",
                requests=requests,
            )
        if isinstance(exc, TimeoutError | ModelTimeoutError):
            message = f"model {self.model} at {self.endpoint} did not answer within {self.timeout:g}s"
        elif isinstance(exc, ModelAuthenticationError):
            message = (
                f"model endpoint {self.endpoint} refused the API key ({_short(exc)}); "
                "check CW_API_KEY or CW_API_KEY_FILE"
            )
        elif isinstance(exc, ModelConnectionError):
            message, sent = f"model endpoint {self.endpoint} is unreachable: {_root_cause(exc)}", requests
            self.unreachable = message
        elif isinstance(exc, ModelHTTPError):
            message = f"model endpoint {self.endpoint} answered HTTP {exc.status_code}: {_short(exc)}"
        else:
            message, sent = f"model {self.model} failed: {_short(exc)}", requests
        return Proposal(temporary_error=message, requests=sent)


def _schema_problems(exc: ValidationError) -> str:
    """Each problem of a model's answer with the field and the rule (the field's schema, or
    not-completable for a field it was not asked to fill)."""
    problems = []
    for item, line in zip(exc.errors(include_url=False), describe_validation_error(exc, "spec"), strict=True):
        if item["type"] == "extra_forbidden":
            where = line.split(":", 1)[0]
            problems.append(f"{where}: not asked for: a completer may not set it here (rule: not-completable)")
        else:
            problems.append(f"{line} (rule: schema)")
    return "; ".join(problems)


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of a connection error ("connection refused"), not the client's
    generic "Connection error."."""
    seen: list[BaseException] = [exc]
    while (cause := seen[-1].__cause__ or seen[-1].__context__) is not None and cause not in seen:
        seen.append(cause)
    return endpoint.describe_failure(seen[-1]) if len(seen) > 1 else _short(exc)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
