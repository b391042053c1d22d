"""Recording what the driver observed (completion, apply, cleanup, health) into the status."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue, ValidationError

from clockwork import compile as compiler
from clockwork import health, kinds
from clockwork.api.common import (
    AppliedStatus,
    AssertionResult,
    CompletionStatus,
    HealthStatus,
    ResolvedCommon,
    ResourceStatus,
)
from clockwork.completion import guard
from clockwork.completion.base import Completion, completer_id, spec_hash
from clockwork.errors import describe_validation_error
from clockwork.plan import Operation, RunResult
from clockwork.reconcile import conditions as cond
from clockwork.reconcile.conditions import APPLIED, COMPLETED, HEALTHY
from clockwork.reconcile.protocol import Action, Apply
from clockwork.reconcile.state import PassState


class Recording(PassState):
    """Turns observations into status: the completed spec, nodes, Applied and Healthy."""

    def completion_cached(self, current_hash: str) -> bool:
        """The completion in status belongs to this spec and to the configured completer."""
        c = self.s.completion
        return (
            c is not None and c.spec_hash == current_hash and completer_id(c.completer, c.model) == self.inp.completer
        )

    def approved_or_waiting(self, resolved: ResolvedCommon) -> bool:
        """Manual approval, and review-tier values a completer proposed, wait for a person.

        An approval names the completed hash. Approved review values stay approved
        while they stay the same, so remediation may still change safe fields.
        """
        manual = resolved.completion.approval == "manual"
        review_hash = guard.review_hash(self.review)
        if not manual and review_hash is None:
            return True
        completion = self.s.completion
        if completion is not None and self.inp.approved_hash == completion.completed_hash:
            completion.approved_review = review_hash or completion.approved_review
            return True
        if not manual and completion is not None and completion.approved_review == review_hash:
            return True
        hash_ = completion.completed_hash if completion else "?"
        how = f"set the annotation clockwork.dev/approve={hash_} (local mode: clockwork approve --hash {hash_})"
        if review_hash is not None:
            values = "; ".join(str(item) for item in self.review)
            completer = completion.completer if completion else "a completer"
            message = (
                f"{len(self.review)} value(s) proposed by {completer} wait for a person's approval: {values}. "
                f"Review them (clockwork plan), then {how}"
            )
        else:
            message = f"approval is manual: review the completed spec, then {how}"
        self.set(APPLIED, "False", "AwaitingApproval", message)
        return False

    def record_completion(self, completion: Completion, keep_from: ResourceStatus[Any] | None = None) -> None:
        s, inp = self.s, self.inp
        filled = list(completion.filled)
        if keep_from is not None and keep_from.completion is not None:
            # Values kept through a re-completion keep who filled them originally.
            kept = set(completion.completed) - {f.field.split(".")[0] for f in filled} - set(inp.spec.wire())
            filled += [f for f in keep_from.completion.filled if f.field.split(".")[0] in kept]
        previous = s.completion
        s.completion = CompletionStatus(
            spec_hash=completion.spec_hash,
            completer=completion.completer,
            model=completion.model,
            filled=filled,
            unresolved=[f"{u.field}: {u.reason}" for u in completion.unresolved],
            error=completion.error,
            completed_hash=spec_hash(completion.completed),
            # A person's approval of review values holds while the values do (checked in approved_or_waiting).
            approved_review=previous.approved_review if previous is not None else None,
            time=inp.now,
        )
        try:
            s.completed = inp.info.spec_model.model_validate(completion.completed, by_alias=True, by_name=False)
        except ValidationError as exc:
            s.completed = None
            problems = describe_validation_error(exc, prefix="spec")
            self.set(
                COMPLETED,
                "False",
                "InvalidCompletion",
                f"{completion.completer} proposed values that are not valid: " + "; ".join(problems),
            )

    def resolve(self) -> ResolvedCommon | None:
        """The resolved resource, or None with Completed=False saying which field and why."""
        s, inp = self.s, self.inp
        if s.completed is None:
            if cond.get(s.conditions, COMPLETED) is None:
                self.set(COMPLETED, "False", "NotCompleted", "no completed spec")
            return None
        completed = s.completed.wire()
        model = inp.info.resolved_model
        if s.completion is not None and s.completion.error:
            self.set(COMPLETED, "False", "CompletionRejected", s.completion.error)
            return None
        proposed = [f.field for f in (s.completion.filled if s.completion else []) if f.source != "default"]
        violations = guard.check(inp.info.spec_model, completed, proposed, inp.policy)
        completer = s.completion.completer if s.completion else "none"
        if violations:
            self.set(
                COMPLETED,
                "False",
                "GuardRejected",
                f"the {completer} completer proposed values the guard rejects, nothing was applied: "
                + "; ".join(str(v) for v in violations),
            )
            return None
        missing = model.missing_fields(completed)
        if missing:
            reasons = {line.split(":", 1)[0]: line for line in (s.completion.unresolved if s.completion else [])}
            details = [reasons.get(f, f"{f}: not set") for f in missing]
            # The reasons say why; what to do is said once, here.
            fields = ", ".join("spec." + f for f in missing)
            hint = (
                f"set {fields}, or configure a completion model (CW_MODEL)"
                if completer in ("defaults", "offline")
                else f"set {fields} yourself"
            )
            self.set(
                COMPLETED,
                "False",
                "MissingValues",
                f"cannot complete {', '.join('spec.' + f for f in missing)} "
                f"(completer: {completer}): {'; '.join(details)}; {hint}",
            )
            return None
        try:
            resolved = model.model_validate(completed, by_alias=True, by_name=False)
        except ValidationError as exc:
            self.set(COMPLETED, "False", "Invalid", "; ".join(describe_validation_error(exc, "spec")))
            return None
        filled = len(s.completion.filled) if s.completion else 0
        self.set(COMPLETED, "True", "Completed", f"{filled} field(s) filled by {completer}")
        # The offline completer's values come from its catalogue and the resource's own
        # names, never from a model: like catalogue entries, they need no review.
        from_model = [f.field for f in (s.completion.filled if s.completion else []) if f.source == "ai"]
        self.review = guard.review(inp.info.spec_model, completed, from_model, inp.policy)
        if s.completion is not None:
            s.completion.review = [str(item)[:1000] for item in self.review]
            s.completion.review_hash = guard.review_hash(self.review)
        self.resolved = resolved
        return resolved

    def record_apply(self, result: RunResult, new_hash: str, resolved: ResolvedCommon) -> None:
        s, inp = self.s, self.inp
        for host in result.hosts:
            node = self.node(host.name)
            node.last_result = host.outcome
            node.last_apply_time = inp.now
            node.message = host.error or ("changed" if host.outcome == "changed" else "no changes")
            if host.outcome == "failed":
                node.healthy = None
                self.event("Warning", "ApplyFailed", f"{host.name}: {host.error or result.error}")
            else:
                node.applied_hash = new_hash
            self.put_node(node)
        if any(h.outcome != "failed" for h in result.hosts) or (
            s.applied is None and any(h.connected for h in result.hosts)
        ):
            # Also after a first apply that failed half-way: what it claimed and made (a container
            # left Created when its port was taken) is for destroy to remove.
            undo = compiler.compile_destroy(kinds.entry(inp.info.kind).compiler, resolved, self.context())
            s.applied = AppliedStatus(plan_hash=new_hash, time=inp.now, undo=undo)
        changed = sum(1 for h in result.hosts if h.outcome == "changed")
        if changed:
            self.event("Normal", "Applied", f"plan {new_hash} applied, {changed} node(s) changed")
        if result.error and not result.hosts:
            self.set(APPLIED, "False", "ApplyFailed", result.error)
            return
        self.derive_applied(new_hash)

    def derive_applied(self, new_hash: str) -> None:
        """Applied is a fact about every target node, not about the last run alone."""
        targets = self.inp.targets or []
        failed = [n for n in targets if self.node(n).last_result == "failed"]
        behind = [n for n in targets if self.node(n).applied_hash != new_hash and n not in failed]
        skipped = self.inp.skipped
        if failed:
            detail = "; ".join(f"{n}: {self.node(n).message}" for n in failed)
            self.set(APPLIED, "False", "ApplyFailed", detail)
        elif behind:
            self.set(APPLIED, "False", "NotApplied", f"plan {new_hash} is not applied yet on {', '.join(behind)}")
        elif skipped:
            done = len(targets)
            detail = "; ".join(f"{n} skipped: {why}" for n, why in sorted(skipped.items()))
            self.set(APPLIED, "False", "NodesUnavailable", f"applied on {done}/{done + len(skipped)} node(s); {detail}")
        else:
            self.set(APPLIED, "True", "Applied", f"plan {new_hash} applied on {len(targets)} node(s)")

    def mark_skipped(self) -> None:
        for name, why in self.inp.skipped.items():
            node = self.node(name)
            node.last_result = "skipped"
            node.message = why[:4000]
            self.put_node(node)

    def departed(self) -> list[str]:
        """Nodes that got this resource before but that the target no longer names."""
        named = set(self.inp.targets or []) | set(self.inp.skipped)
        return [n.name for n in self.s.nodes if n.name not in named and n.applied_hash]

    def cleanup_action(self, departed: list[str]) -> Action:
        undo = self.s.applied.undo if self.s.applied else []
        reachable = [n for n in departed if n in self.inp.inventory]
        request = self.run_request(
            self.hosts(reachable), [o.model_copy(update={"id": f"cleanup:{o.id}"}) for o in undo]
        )
        return Apply(request, "", slot="cleanup")

    def record_cleanup(self, result: RunResult, departed: list[str]) -> None:
        outcomes = {h.name: h for h in result.hosts}
        for name in departed:
            host = outcomes.get(name)
            if host is None:
                self.event("Warning", "Orphaned", f"{name} is gone; what was applied there was not removed")
            elif host.outcome == "failed":
                node = self.node(name)
                node.message = f"no longer targeted, but removing failed: {host.error}"
                self.put_node(node)
                self.event("Warning", "CleanupFailed", node.message)
                continue
            self.s.nodes = [n for n in self.s.nodes if n.name != name]

    def record_health(self, resolved: ResolvedCommon, result: RunResult) -> None:
        s = self.s
        results: list[AssertionResult] = []
        for host in result.hosts:
            host_results = health.evaluate(kinds.entry(self.inp.info.kind).health, resolved, host)
            node = self.node(host.name)
            node.healthy = all(r.ok for r in host_results)
            self.put_node(node)
            results += host_results
        s.health = HealthStatus(last_check_time=self.inp.now, results=results)
        recorded = [
            r for host in result.hosts for r in health.runs(kinds.entry(self.inp.info.kind).health, resolved, host)
        ]
        if recorded:
            checked = {host.name for host in result.hosts}
            kept = [r for r in s.runs if r.node not in checked]
            s.runs = (kept + recorded)[-200:]
        failures = [r for r in results if not r.ok]
        if failures:
            shown = "; ".join(f"{r.node} {r.name}: {r.message}" for r in failures[:5])
            more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
            self.set(HEALTHY, "False", "AssertionsFailed", shown + more)
        elif results:
            self.set(HEALTHY, "True", "AssertionsPassed", f"{len(results)} assertion(s) passed")

    def cleanup_operations(self, resolved: ResolvedCommon) -> list[Operation]:
        """Undo of the previous apply when the new plan no longer removes the same things.

        A File whose path changed must not leave the old file behind: the old undo
        (remove /old) runs before the new plan (put /new).
        """
        applied = self.s.applied
        if applied is None or not applied.undo:
            return []
        if not any(op.op == "clockwork.release" for op in applied.undo):
            # Recorded by a Clockwork from before claims: its undo removes without asking what
            # was there. Left alone (at worst an old file stays); the next destroy releases.
            return []
        undo = compiler.compile_destroy(kinds.entry(self.inp.info.kind).compiler, resolved, self.context())
        if [op.wire() for op in applied.undo] == [op.wire() for op in undo]:
            return []
        # Only what the new plan no longer claims is released (the rest stays as it is).
        keep = {
            t.key for t in compiler.claim_targets(kinds.entry(self.inp.info.kind).compiler, resolved, self.context())
        }
        stale: list[Operation] = []
        for op in applied.undo:
            if op.op == "clockwork.release":
                listed = op.args.get("targets")
                targets: list[JsonValue] = [
                    t
                    for t in (listed if isinstance(listed, list) else [])
                    if isinstance(t, dict) and t.get("key") not in keep
                ]
                if not targets:
                    continue
                op = op.model_copy(update={"args": {**op.args, "targets": targets}})
            stale.append(op)
        return [op.model_copy(update={"id": f"cleanup:{op.id}"}) for op in stale]
