"""The operator with a real language model (SmolLM2-135M on llama.cpp, tests/support/llama.py)
against the real kube-apiserver: a File with only a description and a path is completed by
the model (the rules fill what it leaves open), and either deployed or refused with the field
and the rule — never half-deployed; a restart asks the model nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.operator.conftest import REAL_ONLY, OperatorLauncher
from tests.operator.resources import condition, file_obj, metric
from tests.support.llama import ALIAS, ModelServer
from tests.support.realkube import RealKube

# A completion that ended without values: refused, left open, or not allowed (said with the field).
DECIDED = ("CompletionRejected", "MissingValues", "GuardRejected", "Invalid")
COMPLETION_TIMEOUT = 600  # a 135M model on one thread: tens of seconds per answer, retries included


@REAL_ONLY
@pytest.mark.timeout(900)
def test_the_operator_completes_with_a_real_model(
    kube: RealKube, operator: OperatorLauncher, model_server: ModelServer, tmp_path: Path
) -> None:
    target = tmp_path / "life.txt"
    env = {"CW_MODEL": ALIAS, "CW_BASE_URL": model_server.url, "CW_ALLOWED_ROOTS": str(tmp_path),
           "CW_COMPLETION_TIMEOUT": "150", "CW_COMPLETION_MAX_TOKENS": "768"}  # fmt: skip
    first = operator.start(**env)
    kube.create("files", file_obj("life", path=str(target), description="Write about Conway's Game of Life"))

    def decided() -> dict[str, object] | None:
        obj = kube.find("files", "life")
        completed = condition(obj, "Completed")
        return obj if completed and (completed["status"] == "True" or completed["reason"] in DECIDED) else None

    obj = kube.wait_for("the model's completion", decided, COMPLETION_TIMEOUT)
    completed = condition(obj, "Completed")
    assert completed is not None
    asked = metric(first.metrics(), "clockwork_completion_model_requests_total", model=ALIAS)
    assert asked >= 1
    status = obj["status"]
    assert isinstance(status, dict)
    if completed["status"] == "True":
        ready = kube.wait_for("Ready", lambda: (o := kube.find("files", "life")) and condition(o, "Ready")
                              and condition(o, "Ready")["status"] == "True" and o, 120)  # fmt: skip
        assert target.exists()
        assert {f["source"] for f in ready["status"]["completion"]["filled"]} & {"ai", "offline"}
    else:
        assert completed["reason"] in DECIDED, completed
        assert "spec." in completed["message"]
        assert not target.exists()
    assert first.stop() == 0

    second = operator.start(**env)
    kube.wait_for("the restarted operator's first pass", lambda: "clockwork_" in second.metrics(), 60)
    kube.wait_for(
        "a health check or a settled object",
        lambda: (
            metric(second.metrics(), "clockwork_reconcile_total") >= 1
            or metric(second.metrics(), "clockwork_health_checks_total") >= 1
        ),
        120,
    )
    assert metric(second.metrics(), "clockwork_completion_model_requests_total", model=ALIAS) == 0
