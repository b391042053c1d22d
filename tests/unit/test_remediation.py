"""The health loop and remediation in the pure machine (intent ``monitor``).

Covers: checks only when due (per-resource interval, kind default, 0 = after
apply only) and when to wake next; a failure healed by re-applying; one healed
only by re-completing with the diagnostics; failed attempts backing off
exponentially and stopping at maxAttempts with RemediationExhausted; attempts
reset once healthy; remediation switched off; sensitive fields kept through a
re-completion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clockwork.api.registry import KINDS, status_model
from clockwork.completion.guard import sensitive_fields
from clockwork.completion.pipeline import with_defaults
from clockwork.plan import HostResult, HostSpec, OperationResult, RunResult
from clockwork.reconcile import Apply, Check, Complete, Inputs
from tests.helpers import file_probes
from tests.unit.guard_models import ServiceSpec
from tests.unit.machine import Script, drive

INFO = KINDS["File"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOCAL = "@local"
SPEC = {"path": "/srv/a.txt", "content": "hello\n", "health": {"intervalSeconds": 30}}


def inputs(spec: dict[str, Any], now: datetime, intent: str = "monitor", **kw: Any) -> Inputs:
    return Inputs(
        info=INFO, spec=INFO.spec_model.model_validate(spec), generation=1, now=now, intent=intent,  # type: ignore[arg-type]
        targets=[LOCAL], inventory={LOCAL: HostSpec(name=LOCAL)}, **kw,
    )  # fmt: skip


def applied() -> RunResult:
    op = OperationResult(id="file.put", success=True, changed=True)
    return RunResult(hosts=[HostResult(name=LOCAL, connected=True, outcome="changed", operations=[op])])


def probe(content: str | None, mode: int = 644) -> RunResult:
    probes = file_probes("/srv/a.txt", content, mode)
    return RunResult(hosts=[HostResult(name=LOCAL, connected=True, outcome="ok", probes=probes)])


def with_check(result: RunResult, check: RunResult) -> RunResult:
    """An apply result that carries the probes the check read on each host."""
    probes = {h.name: h.probes for h in check.hosts}
    return result.model_copy(update={"hosts": [h.model_copy(update={"probes": probes[h.name]}) for h in result.hosts]})


def deployed() -> Any:
    """Status after a healthy first apply at T0."""
    final, _ = drive(inputs(SPEC, T0, "converge"), status_model(INFO)(), {
        "completion": lambda a: with_defaults(INFO, a.spec),
        # A File's check rides along with its apply: the worker returns both.
        "apply": lambda a: with_check(applied(), probe("hello\n")) if a.request.probes else applied(),
    })  # fmt: skip
    assert final.status.condition("Ready").status == "True"
    assert final.wake_after == 30
    return final.status


def slots(seen: list[Any]) -> list[str]:
    return [a.slot for a in seen]


def test_nothing_to_do_before_the_interval() -> None:
    final, seen = drive(inputs(SPEC, T0 + timedelta(seconds=10)), deployed(), {})
    assert seen == []
    assert final.wake_after == 20


def test_due_check_that_passes() -> None:
    final, seen = drive(inputs(SPEC, T0 + timedelta(seconds=31)), deployed(), {"check": lambda a: probe("hello\n")})
    assert slots(seen) == ["check"]
    assert final.wake_after == 30
    assert final.events == []


def test_interval_zero_means_after_apply_only() -> None:
    spec = {"path": "/srv/a.txt", "content": "hello\n"}
    status = drive(inputs(spec, T0, "converge"), status_model(INFO)(), {
        "completion": lambda a: with_defaults(INFO, a.spec),
        "apply": lambda a: with_check(applied(), probe("hello\n")),
    })[0].status  # fmt: skip
    final, seen = drive(inputs(spec, T0 + timedelta(days=1)), status, {})
    assert seen == []
    assert final.wake_after is None
    # ... unless a global default (CW_CHECK_INTERVAL_DEFAULT) asks for periodic checks
    final, seen = drive(inputs(spec, T0 + timedelta(days=1), default_interval=60), status,
                        {"check": lambda a: probe("hello\n")})  # fmt: skip
    assert slots(seen) == ["check"]


def test_deleted_file_is_healed_by_reapplying() -> None:
    now = T0 + timedelta(seconds=31)
    final, seen = drive(inputs(SPEC, now), deployed(), {
        "check": lambda a: probe(None), "reapply": lambda a: applied(), "recheck": lambda a: probe("hello\n"),
    })  # fmt: skip
    assert slots(seen) == ["check", "reapply", "recheck"]
    assert final.status.condition("Healthy").status == "True"
    assert final.status.remediation.attempts == 0
    assert final.status.remediation.history[-1].result == "succeeded"
    reasons = [(e.type, e.reason) for e in final.events]
    assert ("Normal", "RemediationStarted") in reasons
    assert ("Normal", "Remediated") in reasons
    started = next(e for e in final.events if e.reason == "RemediationStarted")
    assert "does not exist" in started.message  # the diagnostics


def test_recompletion_with_diagnostics_when_reapply_does_not_heal() -> None:
    now = T0 + timedelta(seconds=31)
    completions: list[Complete] = []

    def recomplete(action: Complete) -> Any:
        completions.append(action)
        return with_defaults(INFO, action.spec)

    final, seen = drive(inputs(SPEC, now), deployed(), {
        "check": lambda a: probe("tampered"), "reapply": lambda a: applied(),
        "recheck": lambda a: probe("tampered"), "recompletion": recomplete,
        "fixapply": lambda a: applied(), "fixcheck": lambda a: probe("hello\n"),
    })  # fmt: skip
    assert slots(seen) == ["check", "reapply", "recheck", "recompletion", "fixapply", "fixcheck"]
    assert "content differs" in (completions[0].diagnostics or "")
    assert completions[0].attempt == 1
    assert final.status.remediation.history[-1].action == "re-completed with the diagnostics and re-applied"
    assert final.status.condition("Ready").status == "True"


def test_a_recompletion_that_is_rejected_keeps_what_failed_first() -> None:
    now = T0 + timedelta(seconds=31)

    def rejected(action: Complete) -> Any:
        refused = with_defaults(INFO, action.spec)
        refused.error = "model m gave no acceptable values after 2 retries; last answer rejected: spec.mode: ..."
        return refused

    final, seen = drive(inputs(SPEC, now), deployed(), {
        "check": lambda a: probe("tampered"), "reapply": lambda a: applied(),
        "recheck": lambda a: probe("tampered"), "recompletion": rejected,
    })  # fmt: skip
    assert slots(seen) == ["check", "reapply", "recheck", "recompletion"]
    error = final.status.remediation.last_error or ""
    assert error.startswith("@") and "content differs" in error.split("; re-completion rejected: ")[0]
    assert "gave no acceptable values" in error.split("; re-completion rejected: ")[1]


def failing_script() -> Script:
    return {
        "check": lambda a: probe(None), "reapply": lambda a: applied(), "recheck": lambda a: probe(None),
        "recompletion": lambda a: with_defaults(INFO, a.spec), "fixapply": lambda a: applied(),
        "fixcheck": lambda a: probe(None),
    }  # fmt: skip


def test_failed_attempts_back_off_and_stop_at_max_attempts() -> None:
    spec = {**SPEC, "remediation": {"maxAttempts": 2, "backoffSeconds": 10}}
    status = drive(inputs(spec, T0, "converge"), status_model(INFO)(), {
        "completion": lambda a: with_defaults(INFO, a.spec),
        "apply": lambda a: with_check(applied(), probe("hello\n")),
    })[0].status  # fmt: skip

    first_at = T0 + timedelta(seconds=31)
    first, seen = drive(inputs(spec, first_at), status, failing_script())
    assert len(seen) == 6
    rem = first.status.remediation
    assert rem.attempts == 1
    assert rem.next_attempt_time == first_at + timedelta(seconds=10)
    assert ("Warning", "RemediationFailed") in [(e.type, e.reason) for e in first.events]
    assert first.wake_after == 10

    _, seen = drive(inputs(spec, first_at + timedelta(seconds=5)), first.status, failing_script())
    assert seen == []  # neither a check nor an attempt is due

    second_at = first_at + timedelta(seconds=10)
    second, seen = drive(inputs(spec, second_at), first.status, failing_script())
    assert len(seen) == 6
    healthy = second.status.condition("Healthy")
    assert (healthy.status, healthy.reason) == ("False", "RemediationExhausted")
    assert second.status.remediation.attempts == 2
    assert ("Warning", "RemediationExhausted") in [(e.type, e.reason) for e in second.events]
    assert second.status.remediation.next_attempt_time == second_at + timedelta(seconds=20)  # doubled

    later = second_at + timedelta(minutes=5)
    after, seen = drive(inputs(spec, later), second.status, failing_script())
    assert slots(seen) == ["check"]  # still checked, no more attempts
    assert after.status.condition("Healthy").reason == "RemediationExhausted"
    assert after.events == []  # given up once, not announced again

    recovered, seen = drive(inputs(spec, later + timedelta(seconds=31)), after.status,
                            {"check": lambda a: probe("hello\n")})  # fmt: skip
    assert recovered.status.condition("Healthy").status == "True"
    assert recovered.status.remediation.attempts == 0
    assert ("Normal", "Healthy") in [(e.type, e.reason) for e in recovered.events]


def test_remediation_off_only_checks() -> None:
    spec = {**SPEC, "remediation": {"enabled": False}}
    status = drive(inputs(spec, T0, "converge"), status_model(INFO)(), {
        "completion": lambda a: with_defaults(INFO, a.spec),
        "apply": lambda a: with_check(applied(), probe("hello\n")),
    })[0].status  # fmt: skip
    final, seen = drive(inputs(spec, T0 + timedelta(seconds=31)), status, failing_script())
    assert slots(seen) == ["check"]
    assert final.status.condition("Healthy").status == "False"
    assert ("Warning", "Unhealthy") in [(e.type, e.reason) for e in final.events]


def test_sensitive_fields_are_found_through_nested_models() -> None:
    assert sensitive_fields(ServiceSpec) == {"image", "ports", "volumes", "privileged"}
    assert sensitive_fields(INFO.spec_model) == set()


def test_apply_request_reuses_the_plan() -> None:
    now = T0 + timedelta(seconds=31)
    _, seen = drive(inputs(SPEC, now), deployed(), {
        "check": lambda a: probe(None), "reapply": lambda a: applied(), "recheck": lambda a: probe("hello\n"),
    })  # fmt: skip
    reapply = next(a for a in seen if isinstance(a, Apply))
    assert [op.id for op in reapply.request.operations] == ["claim", "file.put"]
    assert isinstance(seen[0], Check)
