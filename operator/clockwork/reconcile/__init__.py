"""The reconcile core, shared by the operator and the local CLI (see machine.py)."""

from clockwork.reconcile.machine import (
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
