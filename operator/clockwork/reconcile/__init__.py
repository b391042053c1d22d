"""The reconcile core, shared by the operator and the local CLI (see machine.py and protocol.py)."""

from clockwork.reconcile.machine import step
from clockwork.reconcile.protocol import (
    DEPENDENCY_RETRY_SECONDS,
    Action,
    Apply,
    Check,
    Complete,
    Destroy,
    Event,
    Forget,
    Inputs,
    Intent,
    Observations,
    Step,
)

__all__ = [
    "DEPENDENCY_RETRY_SECONDS",
    "Action",
    "Apply",
    "Check",
    "Complete",
    "Destroy",
    "Event",
    "Forget",
    "Inputs",
    "Intent",
    "Observations",
    "Step",
    "step",
]
