"""Completion: fill the fields a user left out (AI, offline catalogue, defaults).

Completers only ever produce values for *missing* fields; user values always win.
Whatever a completer proposes is untrusted until the guard and the kind's model
accept it (see :mod:`clockwork.reconcile`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clockwork.completion.base import Completer
from clockwork.completion.offline import OfflineCompleter

if TYPE_CHECKING:
    from clockwork.config import Settings


def configured_completer(settings: Settings) -> Completer:
    """The AI completer when a model is configured, else the offline one."""
    if settings.model:
        # Imported here: pydantic-ai and the OpenAI client are only needed with a model.
        from clockwork.completion.ai import AICompleter

        return AICompleter.openai_compatible(
            settings.model,
            base_url=settings.base_url,
            api_key=settings.api_key,
            policy=settings.policy,
            max_retries=settings.completion_max_retries,
            timeout=float(settings.completion_timeout),
        )
    return OfflineCompleter(settings.default_root)
