"""Settings read from the environment, each documented where it is declared."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clockwork.errors import PermanentError


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PermanentError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise PermanentError(f"{name}={value} is out of range {low}..{high}")
    return value


@dataclass(frozen=True)
class Settings:
    # CW_STATE_DIR: where local mode keeps its SQLite state (default ./.clockwork).
    state_dir: Path
    # CW_RUN_TIMEOUT: seconds one apply/check/destroy run may take on its hosts (600).
    run_timeout: int
    # CW_CONNECT_TIMEOUT: seconds to wait for a node to accept a connection (10).
    connect_timeout: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            state_dir=Path(env.get("CW_STATE_DIR") or ".clockwork"),
            run_timeout=_int(env, "CW_RUN_TIMEOUT", 600, 1, 86400),
            connect_timeout=_int(env, "CW_CONNECT_TIMEOUT", 10, 1, 300),
        )
