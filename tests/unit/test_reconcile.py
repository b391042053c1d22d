"""The pure reconcile state machine, driven step by step with recorded observations.

Covers: complete -> apply -> check -> Ready; the completion cache by spec hash;
MissingValues without a model; apply failures stop before checking; no re-apply of
an unchanged plan unless asked; a changed path cleans up the old file; destroy
runs the recorded undo and then forgets; conditions keep lastTransitionTime while
their status holds; a status the machine writes survives the CRD schema.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clockwork import health, kinds
from clockwork.api.registry import KINDS, status_model
from clockwork.completion.pipeline import with_defaults
from clockwork.plan import HostResult, HostSpec, OperationResult, RunResult
from clockwork.reconcile import Apply, Inputs, Step
from clockwork.reconcile.conditions import set_condition
from tests.helpers import file_probes
from tests.support import k8s_schema
from tests.unit.machine import drive

INFO = KINDS["File"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOCAL = "@local"


def inputs(spec: dict[str, Any], **kw: Any) -> Inputs:
    defaults: dict[str, Any] = {
        "info": INFO,
        "spec": INFO.spec_model.model_validate(spec),
        "generation": 1,
        "now": T0,
        "targets": [LOCAL],
        "inventory": {LOCAL: HostSpec(name=LOCAL)},
    }
    return Inputs(**{**defaults, **kw})


def applied(changed: bool = True, ok: bool = True) -> RunResult:
    op = OperationResult(id="file.put", success=ok, changed=changed and ok, error=None if ok else "denied")
    return RunResult(
        hosts=[
            HostResult(
                name=LOCAL,
                connected=True,
                outcome=("changed" if changed else "ok") if ok else "failed",
                error=None if ok else "file.put: denied",
                operations=[op],
            )
        ]
    )


def checked(path: str, content: str, mode: int = 644) -> RunResult:
    return RunResult(
        hosts=[HostResult(name=LOCAL, connected=True, outcome="ok", probes=file_probes(path, content, mode))]
    )


def with_probes(result: RunResult, check: RunResult | None) -> RunResult:
    """What the worker returns for an apply that carries the check: probes where the operations succeeded."""
    if check is None:
        return result
    probes = {h.name: h.probes for h in check.hosts}
    hosts = [
        h if h.outcome == "failed" else h.model_copy(update={"probes": probes.get(h.name, [])}) for h in result.hosts
    ]
    return result.model_copy(update={"hosts": hosts})


def run_to_end(
    inp: Inputs, status: Any, apply_result: RunResult | None = None, check: RunResult | None = None
) -> tuple[Step, list[Any]]:
    """One pass: the completion is the defaults, every apply (and cleanup) answers ``apply_result``
    with the check's probes where it carries the check, a check answers ``check``."""
    result = apply_result or applied()

    def apply(action: Apply) -> RunResult:
        return with_probes(result, check if action.request.probes else None)

    return drive(inp, status, {
        "completion": lambda action: with_defaults(INFO, action.spec),
        "apply": apply, "cleanup": apply,
        "check": lambda action: check,
        "destroy": lambda action: result,
    })  # fmt: skip


SPEC = {"path": "/srv/a.txt", "content": "hello\n"}


def where(op: Any) -> Any:
    """The path an operation works on (a claim's or release's first target)."""
    targets = op.args.get("targets")
    return targets[0]["key"] if targets else op.args.get("path") or op.args.get("dest")


def conditions(status: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_first_reconcile_completes_applies_checks_and_is_ready() -> None:
    final, seen = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    # A File's check rides along with its apply (settled when the apply returns).
    assert [type(a).__name__ for a in seen] == ["Complete", "Apply"]
    assert seen[1].request.probes == health.probes_for(kinds.KINDS["File"].health, final.resolved)
    assert conditions(final.status) == {
        "Completed": ("True", "Completed"),
        "Applied": ("True", "Applied"),
        "Healthy": ("True", "AssertionsPassed"),
        "Ready": ("True", "Ready"),
    }
    filled = {f.field: f.source for f in final.status.completion.filled}
    assert filled["mode"] == "default" and "path" not in filled
    assert final.status.nodes[0].applied_hash and final.status.nodes[0].healthy is True
    # What destroy runs: the release of what the plan claimed (the file is removed, or put back).
    assert [(op.op, where(op)) for op in final.status.applied.undo] == [("clockwork.release", "/srv/a.txt")]


def test_unchanged_spec_is_not_completed_or_applied_again() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    again, seen = run_to_end(inputs(SPEC), first.status, check=checked("/srv/a.txt", "hello\n"))
    assert [type(a).__name__ for a in seen] == ["Check"]
    assert conditions(again.status)["Ready"] == ("True", "Ready")


def test_always_apply_converges_even_when_the_hash_matches() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    _, seen = run_to_end(
        inputs(SPEC, always_apply=True),
        first.status,
        applied(changed=False),
        checked("/srv/a.txt", "hello\n"),
    )
    assert [type(a).__name__ for a in seen] == ["Apply"]


def test_changed_spec_recompletes_and_reapplies() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    changed = {**SPEC, "content": "bye\n"}
    final, seen = run_to_end(inputs(changed, generation=2), first.status, check=checked("/srv/a.txt", "bye\n"))
    assert [type(a).__name__ for a in seen] == ["Complete", "Apply"]
    assert final.status.observed_generation == 2
    apply = next(a for a in seen if isinstance(a, Apply))
    assert [op.id for op in apply.request.operations] == ["claim", "file.put"]  # same path: no cleanup


def test_missing_content_without_model_is_completed_false_and_nothing_runs() -> None:
    final, seen = run_to_end(inputs({"path": "/srv/a.txt"}), status_model(INFO)())
    assert [type(a).__name__ for a in seen] == ["Complete"]
    completed = final.status.condition("Completed")
    assert (completed.status, completed.reason) == ("False", "MissingValues")
    assert "spec.content" in completed.message and "CW_MODEL" in completed.message
    assert conditions(final.status)["Ready"] == ("False", "MissingValues")


def test_failed_apply_is_reported_and_not_checked() -> None:
    final, seen = run_to_end(inputs(SPEC), status_model(INFO)(), apply_result=applied(ok=False))
    assert [type(a).__name__ for a in seen] == ["Complete", "Apply"]
    assert conditions(final.status)["Applied"] == ("False", "ApplyFailed")
    assert "denied" in final.status.condition("Applied").message
    assert final.status.nodes[0].applied_hash is None


def test_drift_found_by_check_makes_ready_false() -> None:
    final, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "tampered\n", mode=600))
    healthy = final.status.condition("Healthy")
    assert (healthy.status, healthy.reason) == ("False", "AssertionsFailed")
    assert "mode is 0600, want 0644" in healthy.message
    assert "content differs" in healthy.message


def test_changed_path_removes_the_old_file_first() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    moved = {**SPEC, "path": "/srv/b.txt"}
    _, seen = run_to_end(inputs(moved), first.status, check=checked("/srv/b.txt", "hello\n"))
    apply = next(a for a in seen if isinstance(a, Apply))
    ops = [(op.id, where(op)) for op in apply.request.operations]
    assert ops == [("cleanup:release", "/srv/a.txt"), ("claim", "/srv/b.txt"), ("file.put", "/srv/b.txt")]


def test_unresolvable_target_is_applied_false() -> None:
    final, seen = run_to_end(inputs(SPEC, targets=None, target_error="EdgeNode pi-9 not found"), status_model(INFO)())
    assert [type(a).__name__ for a in seen] == ["Complete"]
    assert conditions(final.status)["Applied"] == ("False", "TargetNotFound")


def test_destroy_runs_recorded_undo_then_forgets() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    _, seen = run_to_end(inputs(SPEC, intent="destroy"), first.status)
    assert [type(a).__name__ for a in seen] == ["Destroy", "Forget"]
    destroy = seen[0]
    assert [(op.op, where(op)) for op in destroy.request.operations] == [("clockwork.release", "/srv/a.txt")]


def test_failed_destroy_keeps_state_and_says_why() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    final, seen = run_to_end(inputs(SPEC, intent="destroy"), first.status, apply_result=applied(ok=False))
    assert [type(a).__name__ for a in seen] == ["Destroy"]
    ready = final.status.condition("Ready")
    assert (ready.status, ready.reason) == ("False", "DestroyFailed") and "denied" in ready.message


def test_destroy_of_never_applied_resource_just_forgets() -> None:
    _, seen = run_to_end(inputs(SPEC, intent="destroy"), status_model(INFO)())
    assert [type(a).__name__ for a in seen] == ["Forget"]


def test_check_intent_checks_what_was_applied_without_applying() -> None:
    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    final, seen = run_to_end(inputs({"path": "/elsewhere", "content": "x"}, intent="check"), first.status,
                             check=checked("/srv/a.txt", "hello\n"))  # fmt: skip
    assert [type(a).__name__ for a in seen] == ["Check"]
    assert "/srv/a.txt" in str(seen[0].request.probes[0].args)
    assert conditions(final.status)["Healthy"] == ("True", "AssertionsPassed")


def test_last_transition_time_moves_only_when_status_changes() -> None:
    t1 = T0 + timedelta(minutes=5)
    once = set_condition([], "Ready", "True", "Ready", "a", generation=1, now=T0)
    same = set_condition(once, "Ready", "True", "Ready", "b", generation=2, now=t1)
    flipped = set_condition(same, "Ready", "False", "Unhealthy", "c", generation=2, now=t1)
    assert same[0].last_transition_time == T0 and same[0].message == "b"
    assert flipped[0].last_transition_time == t1


def test_written_status_is_valid_and_survives_pruning() -> None:
    final, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    schema = k8s_schema.openapi_schema(k8s_schema.load_crds()["File"])["properties"]["status"]
    wire = final.status.wire()
    assert k8s_schema.errors(schema, wire) == []
    assert k8s_schema.pruned_paths(schema, wire) == []


def test_a_check_that_may_need_time_runs_on_its_own_after_the_apply() -> None:
    # The user's http assertion may need the service a moment after the apply.
    spec = {**SPEC, "health": {"assertions": [{"type": "http", "url": "http://127.0.0.1:8080/"}]}}
    _, seen = run_to_end(inputs(spec), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    assert [type(a).__name__ for a in seen] == ["Complete", "Apply", "Check"]
    assert seen[1].request.probes == []


def test_a_node_whose_apply_failed_is_not_judged_healthy_from_it() -> None:
    final, seen = run_to_end(
        inputs(SPEC), status_model(INFO)(), applied(ok=False), check=checked("/srv/a.txt", "hello\n")
    )
    assert [type(a).__name__ for a in seen] == ["Complete", "Apply"]
    assert conditions(final.status)["Applied"][0] == "False"
    assert conditions(final.status)["Ready"][0] == "False"
    assert final.status.nodes[0].healthy is not True


def test_a_resource_applied_before_claims_takes_over_what_it_made() -> None:
    """Applied by a Clockwork that kept no claims: what it made is on the node without a
    record, so the next apply adopts it instead of refusing it as someone else's."""
    from clockwork.api.common import AppliedStatus
    from clockwork.plan import Operation

    first, _ = run_to_end(inputs(SPEC), status_model(INFO)(), check=checked("/srv/a.txt", "hello\n"))
    old = Operation(id="file.remove", op="files.file", args={"path": "/srv/a.txt", "present": False})
    legacy = first.status.model_copy(update={"applied": AppliedStatus(plan_hash="old", time=T0, undo=[old])}, deep=True)
    _, seen = run_to_end(inputs(SPEC, always_apply=True), legacy, check=checked("/srv/a.txt", "hello\n"))
    claim = next(a for a in seen if isinstance(a, Apply)).request.operations[0]
    assert claim.op == "clockwork.claim"
    assert claim.args["targets"][0]["onExisting"] == "adopt"
    _, again = run_to_end(inputs(SPEC, always_apply=True), first.status, check=checked("/srv/a.txt", "hello\n"))
    claim = next(a for a in again if isinstance(a, Apply)).request.operations[0]
    assert "onExisting" not in claim.args["targets"][0]  # the default (backup) once claims exist


def test_the_check_after_a_changing_apply_carries_the_startup_time() -> None:
    spec = {**SPEC, "health": {"assertions": [{"type": "http", "url": "http://127.0.0.1:8080/"}]}}
    check = checked("/srv/a.txt", "hello\n")
    _, seen = run_to_end(inputs(spec), status_model(INFO)(), check=check)
    assert seen[-1].startup_seconds == 0  # a File's default: its state is final once applied
    timed = {**spec, "health": {**spec["health"], "startupSeconds": 45}}
    _, seen = run_to_end(inputs(timed), status_model(INFO)(), check=check)
    assert seen[-1].startup_seconds == 45
    # An apply that changed nothing on the node has nothing that comes up: judged at once.
    _, seen = run_to_end(inputs(timed), status_model(INFO)(), applied(changed=False), check=check)
    assert type(seen[-1]).__name__ == "Check" and seen[-1].startup_seconds == 0
    assert kinds.KINDS["Container"].health.startup_seconds == kinds.KINDS["Workload"].health.startup_seconds == 30
