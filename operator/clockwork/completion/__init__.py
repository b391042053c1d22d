"""Completion: fill the fields a user left out (AI, offline catalogue, defaults).

Completers only ever produce values for *missing* fields; user values always win.
Whatever a completer proposes is untrusted until the guard and the kind's model
accept it (see :mod:`clockwork.reconcile`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clockwork.completion import embedded
from clockwork.completion.base import Completer
from clockwork.completion.endpoint import CheckedCompleter
from clockwork.completion.layered import ModelThenRules
from clockwork.completion.offline import OfflineCompleter, Rules

if TYPE_CHECKING:
    from clockwork.completion.ai import AICompleter
    from clockwork.config import Settings


def configured_completer(settings: Settings, rules: Mapping[str, Rules]) -> Completer:
    """The AI completer when a model is configured (built once its endpoint answers; ``local``: the
    embedded model), else the offline one (with each kind's ``rules``); with the rules for what
    the model leaves open unless ``CW_COMPLETION_FALLBACK=none``."""
    offline = OfflineCompleter(rules, settings.default_root)
    if not settings.model:
        return offline
    model: Completer
    if settings.model == embedded.MODEL_NAME:
        embedded.model_file()  # a missing extra is bad configuration, said before anything runs
        transport = embedded.transport(settings.local_model_threads, settings.completion_context_tokens)
        model = _ai(settings, embedded.MODEL_NAME, embedded.BASE_URL, None, transport)
    else:
        name, base_url, api_key = settings.model, settings.base_url, settings.api_key
        model = CheckedCompleter(
            name, base_url=base_url, api_key=api_key, build=lambda: _ai(settings, name, base_url, api_key),
            retry_seconds=settings.retry_seconds,
        )  # fmt: skip
    return ModelThenRules(model, offline) if settings.completion_fallback == "offline" else model


def _ai(
    settings: Settings, model: str, base_url: str | None, api_key: str | None, transport: Any = None
) -> AICompleter:
    """The AI completer with the completion settings."""
    # Imported here: pydantic-ai and the OpenAI client are only needed with a model.
    from clockwork.completion.ai import AICompleter

    return AICompleter.openai_compatible(
        model, base_url=base_url, api_key=api_key, policy=settings.policy,
        max_retries=settings.completion_max_retries, timeout=float(settings.completion_timeout),
        output=settings.completion_output, max_tokens=settings.completion_max_tokens,
        batch_size=settings.completion_batch_size, batch_window=settings.completion_batch_window_ms / 1000,
        context_tokens=settings.completion_context_tokens, transport=transport,
    )  # fmt: skip
