"""The reconcile core, shared by the operator and the local CLI (see machine.py)."""

from clockwork.reconcile.machine import (
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
    step,
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
