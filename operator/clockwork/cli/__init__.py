"""The ``clockwork`` command: local mode (plan/apply/assert/destroy/status) and tools.

Exit codes: 0 ok, 1 failed or unhealthy, 2 bad input (nothing was changed).
Output is for people (tables) unless ``--output json`` asks for a script's view.
Each command module registers its commands on the group when imported.
"""

from clockwork.cli import explain, plan, run, status, tools
from clockwork.cli.base import main

__all__ = ["explain", "main", "plan", "run", "status", "tools"]
