"""Fixtures of the edge tier: a lab of real sshd nodes (see tests/support/edge_lab.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.edge_lab import EdgeLab, edge_lab


@pytest.fixture
def lab3() -> Iterator[EdgeLab]:
    reason = EdgeLab.available()
    if reason:
        pytest.skip(reason)
    with edge_lab(3) as lab:
        yield lab


@pytest.fixture
def isolated_lab3(lab3: EdgeLab) -> EdgeLab:
    """Three nodes with their own filesystems (network namespaces)."""
    if not lab3.isolated:
        pytest.skip("nodes share the host's filesystem here (no network namespaces): per-node files cannot differ")
    return lab3


# The operator tier's fixtures (either API server, the operator process), for the fleet scenarios.
from tests.operator.conftest import kube, operator, operator_account, real_crds  # noqa: E402, F401
