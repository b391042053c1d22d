"""Completion: fill the fields a user left out (AI, offline catalogue, defaults).

Completers only ever produce values for *missing* fields; user values always win.
Whatever a completer proposes is untrusted until the guard and the kind's model
accept it (see :mod:`clockwork.reconcile`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from clockwork.completion import embedded
from clockwork.completion.base import Completer
from clockwork.completion.endpoint import CheckedCompleter
from clockwork.completion.layered import ModelThenRules
from clockwork.completion.offline import OfflineCompleter, Rules

if TYPE_CHECKING:
    from clockwork.completion.ai import AICompleter
    from clockwork.config import Settings


def configured_completer(settings: Settings, rules: Mapping[str, Rules]) -> Completer:
    """The AI completer when a model is configured (built once its endpoint answers), else the offline one
    (with each kind's ``rules``)."""
    if settings.model == embedded.MODEL_NAME:
        return _embedded(settings, rules)
    if settings.model:
        model = settings.model

        def build() -> AICompleter:
            # Imported here: pydantic-ai and the OpenAI client are only needed with a model.
            from clockwork.completion.ai import AICompleter

            return AICompleter.openai_compatible(
                model,
                base_url=settings.base_url,
                api_key=settings.api_key,
                policy=settings.policy,
                max_retries=settings.completion_max_retries,
                timeout=float(settings.completion_timeout),
                output=settings.completion_output,
                max_tokens=settings.completion_max_tokens,
                batch_size=settings.completion_batch_size,
                batch_window=settings.completion_batch_window_ms / 1000,
                context_tokens=settings.completion_context_tokens,
            )

        checked = CheckedCompleter(
            model, base_url=settings.base_url, api_key=settings.api_key, build=build,
            retry_seconds=settings.retry_seconds,
        )  # fmt: skip
        if settings.completion_fallback == "offline":
            return ModelThenRules(checked, OfflineCompleter(rules, settings.default_root))
        return checked
    return OfflineCompleter(rules, settings.default_root)


def _embedded(settings: Settings, rules: Mapping[str, Rules]) -> Completer:
    """``CW_MODEL=local``: the packaged small model in this process (completion/embedded.py)."""
    from clockwork.completion.ai import AICompleter

    embedded.model_file()  # a missing extra is bad configuration, said before anything runs
    completer = AICompleter.openai_compatible(
        embedded.MODEL_NAME, base_url=embedded.BASE_URL, api_key=None, policy=settings.policy,
        max_retries=settings.completion_max_retries, timeout=float(settings.completion_timeout),
        output=settings.completion_output, max_tokens=settings.completion_max_tokens,
        batch_size=settings.completion_batch_size, batch_window=settings.completion_batch_window_ms / 1000,
        context_tokens=settings.completion_context_tokens,
        transport=embedded.transport(settings.local_model_threads, settings.completion_context_tokens),
    )  # fmt: skip
    if settings.completion_fallback == "offline":
        return ModelThenRules(completer, OfflineCompleter(rules, settings.default_root))
    return completer
