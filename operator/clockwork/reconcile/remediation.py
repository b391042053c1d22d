"""The health loop (monitor): check when due, and remediate with bounded attempts and backoff."""

from __future__ import annotations

from datetime import timedelta

from clockwork import compile as compiler
from clockwork import health, kinds
from clockwork.api.common import RemediationEntry, RemediationStatus, ResolvedCommon, ResolvedRemediation
from clockwork.completion import guard
from clockwork.completion.base import spec_hash
from clockwork.plan import plan_hash
from clockwork.reconcile import conditions as cond
from clockwork.reconcile.conditions import COMPLETED, HEALTHY
from clockwork.reconcile.protocol import Apply, Check, Complete, Step
from clockwork.reconcile.record import Recording

REMEDIATION_HISTORY = 10
MAX_BACKOFF_SECONDS = 3600


class Remediating(Recording):
    """monitor: re-apply, then re-complete with the diagnostics, apply and verify."""

    def monitor(self) -> Step:
        inp, s, obs = self.inp, self.s, self.obs
        if s.completion is None or s.completion.spec_hash != spec_hash(inp.spec.wire()):
            return self.emit([])  # a changed spec is converge's to handle
        resolved = self.resolve()
        if resolved is None or inp.targets is None or (s.applied is None and not self.failing(s)):
            return self.finish()
        if not self.approved_or_waiting(resolved):
            return self.finish()  # nothing unapproved reaches a node, not even one that fell behind
        self.operations = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, resolved, self.context())
        hosts = self.hosts(inp.targets)
        remediation = resolved.remediation
        rem = s.remediation or RemediationStatus()
        current = plan_hash(self.operations)
        self.mark_skipped()
        # Nodes that do not have the plan yet (new to the selector, back from Offline).
        behind = [h for h in hosts if self.node(h.name).applied_hash != current and self.node(h.name).applied_hash]
        behind += [
            h
            for h in hosts
            if not self.node(h.name).applied_hash
            and s.applied is not None
            and self.node(h.name).last_result != "failed"  # a failed apply is remediation's, with backoff
        ]
        if behind or obs.apply is not None:
            if obs.apply is None:
                return self.emit([Apply(self.run_request(behind, self.operations), current)])
            self.record_apply(obs.apply, current, resolved)
        else:
            self.derive_applied(current)

        if obs.check is None:
            if self.check_due(resolved) or self.attempt_due(resolved):
                return self.emit([Check(self.check_request(resolved, hosts))])
            return self.finish()
        was_failing = self.failing(self.initial)
        self.record_health(resolved, obs.check)
        if self.failing(s) is False:
            if rem.attempts:
                s.remediation = RemediationStatus(history=rem.history)  # recovered: attempts reset
            return self.finish()
        if not remediation.enabled:
            return self.finish()
        if rem.attempts >= remediation.max_attempts:
            self.exhausted(rem, announce=not was_failing)
            return self.finish()
        if rem.next_attempt_time is not None and inp.now < rem.next_attempt_time:
            return self.finish()

        attempt = rem.attempts + 1
        limit = remediation.max_attempts
        diagnostics = health.diagnostics(s.health.results if s.health else [], s.nodes)
        self.event("Normal", "RemediationStarted", f"attempt {attempt}/{limit}: {diagnostics[:300]}")
        if obs.reapply is None:
            request = self.run_request(hosts, self.operations)
            return self.emit([Apply(request, plan_hash(self.operations), slot="reapply")])
        self.record_apply(obs.reapply, plan_hash(self.operations), resolved)
        if obs.recheck is None:
            return self.emit([self.check_after(obs.reapply, resolved, hosts, "recheck")])
        self.record_health(resolved, obs.recheck)
        if not self.failing(s):
            return self.remediated(rem, attempt, "re-applied the plan")

        # Re-apply did not heal it: complete again with what went wrong.
        diagnostics = health.diagnostics(s.health.results if s.health else [], s.nodes)
        if obs.recompletion is None:
            return self.emit([self.recomplete(diagnostics, attempt)])
        if obs.recompletion.temporary_error:
            why = f"{diagnostics}; re-completion unavailable: {obs.recompletion.temporary_error}"
            return self.attempt_failed(rem, attempt, why, remediation)
        self.record_completion(obs.recompletion, keep_from=self.initial)
        fixed = self.resolve()
        if fixed is None:
            condition = cond.get(s.conditions, COMPLETED)
            # What failed stays first: that is what a person has to fix when the completer could not.
            why = f"{diagnostics}; re-completion rejected: {condition.message if condition else 'no completed spec'}"
            return self.attempt_failed(rem, attempt, why, remediation)
        self.operations = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, fixed, self.context())
        if not self.approved_or_waiting(fixed):
            return self.attempt_failed(rem, attempt, "re-completed values wait for approval", remediation)
        new_hash = plan_hash(self.operations)
        if obs.fixapply is None:
            cleanup = self.cleanup_operations(fixed)
            request = self.run_request(hosts, cleanup + self.operations)
            return self.emit([Apply(request, new_hash, slot="fixapply")])
        self.record_apply(obs.fixapply, new_hash, fixed)
        if obs.fixcheck is None:
            return self.emit([self.check_after(obs.fixapply, fixed, hosts, "fixcheck")])
        self.record_health(fixed, obs.fixcheck)
        if not self.failing(s):
            return self.remediated(rem, attempt, "re-completed with the diagnostics and re-applied")
        diagnostics = health.diagnostics(s.health.results if s.health else [], s.nodes)
        return self.attempt_failed(rem, attempt, diagnostics, remediation)

    def recomplete(self, diagnostics: str, attempt: int) -> Complete:
        """Ask again for the completer's fields; sensitive ones keep their values."""
        user_spec = self.inp.spec.wire()
        completed = self.s.completed.wire() if self.s.completed else {}
        keep = {
            name: completed[name]
            for name in guard.sensitive_fields(self.inp.info.spec_model)
            if name in completed and name not in user_spec
        }
        return Complete(
            {**user_spec, **keep},
            spec_hash(user_spec),
            slot="recompletion",
            diagnostics=diagnostics,
            attempt=attempt,
        )

    def remediated(self, rem: RemediationStatus, attempt: int, how: str) -> Step:
        entry = RemediationEntry(time=self.inp.now, attempt=attempt, action=how, result="succeeded")
        self.s.remediation = RemediationStatus(history=_bounded([*rem.history, entry]))
        self.event("Normal", "Remediated", f"attempt {attempt}: {how}")
        return self.finish()

    def attempt_failed(self, rem: RemediationStatus, attempt: int, why: str, remediation: ResolvedRemediation) -> Step:
        backoff = remediation.backoff_seconds * 2 ** (attempt - 1)
        entry = RemediationEntry(
            time=self.inp.now, attempt=attempt, action="re-applied and re-completed", result="failed",
            message=why[:2000],
        )  # fmt: skip
        self.s.remediation = RemediationStatus(
            attempts=attempt,
            last_error=why[:2000],
            next_attempt_time=self.inp.now + timedelta(seconds=min(backoff, MAX_BACKOFF_SECONDS)),
            history=_bounded([*rem.history, entry]),
        )
        limit = remediation.max_attempts
        if attempt >= limit:
            self.exhausted(self.s.remediation, announce=True)
        else:
            self.event("Warning", "RemediationFailed", f"attempt {attempt}/{limit} failed: {why[:500]}")
        return self.finish()

    def exhausted(self, rem: RemediationStatus, announce: bool) -> None:
        self.set(
            HEALTHY,
            "False",
            "RemediationExhausted",
            f"gave up after {rem.attempts} remediation attempt(s): {rem.last_error or 'still failing'}",
        )
        if announce:
            self.event("Warning", "RemediationExhausted", f"gave up after {rem.attempts} attempt(s)")

    def check_due(self, resolved: ResolvedCommon) -> bool:
        interval = self.interval(resolved)
        last = self.s.health.last_check_time if self.s.health else None
        return interval > 0 and (last is None or self.inp.now >= last + timedelta(seconds=interval))

    def attempt_due(self, resolved: ResolvedCommon) -> bool:
        rem = self.s.remediation or RemediationStatus()
        return (
            bool(self.failing(self.s))
            and resolved.remediation.enabled
            and rem.attempts < resolved.remediation.max_attempts
            and (rem.next_attempt_time is None or self.inp.now >= rem.next_attempt_time)
        )


def _bounded(history: list[RemediationEntry]) -> list[RemediationEntry]:
    return history[-REMEDIATION_HISTORY:]
