"""The reconcile state machine: spec + status + observations -> actions + next status.

Pure. A driver (the kopf handlers, or the local CLI) calls :func:`step`, performs
the actions it returns (complete, apply, check, destroy), puts what it observed
into the action's slot of :class:`Observations` and calls :func:`step` again with
the *same* starting status, until no action is left. Because every call recomputes
from the start, the order of the driver's loop cannot leave a half-written status
behind, and the final step's events say what happened in the whole pass.

Intents:

- ``converge``: complete (cached by spec hash) -> guard -> approval -> compile ->
  apply where the plan hash differs -> check;
- ``monitor``: the health loop: check when due; on failure remediate — re-apply,
  and if that does not heal it, re-complete with the diagnostics, apply, verify —
  with bounded attempts and exponential backoff;
- ``check``: check what was applied (local ``assert``);
- ``plan``: complete and compile only;
- ``destroy``: run what the last apply recorded as its undo, then forget.
"""

from __future__ import annotations

from typing import Any

from clockwork import claims, diff, health, kinds
from clockwork import compile as compiler
from clockwork.api.common import ResolvedCommon, ResourceStatus, Target
from clockwork.completion.base import spec_hash
from clockwork.plan import FactProbe, plan_hash
from clockwork.reconcile.conditions import APPLIED, COMPLETED, HEALTHY, READY
from clockwork.reconcile.protocol import (
    DEPENDENCY_RETRY_SECONDS,
    Apply,
    Check,
    Complete,
    Destroy,
    Forget,
    Inputs,
    Observations,
    Step,
)
from clockwork.reconcile.remediation import Remediating


def step(inp: Inputs, status: ResourceStatus[Any], obs: Observations) -> Step:
    return _Pass(inp, status, obs).run()


class _Pass(Remediating):
    """converge, plan, check and destroy; monitor is Remediating's."""

    def run(self) -> Step:
        intent = self.inp.intent
        if intent in ("converge", "plan"):
            # Only a converge of this generation may say it observed it.
            self.s.observed_generation = self.inp.generation
            self.s.target = (self.inp.spec.target or Target(local=True)).summary()
        if intent == "destroy":
            return self.destroy()
        if intent == "check":
            return self.check_deployed()
        if intent == "monitor":
            return self.monitor()
        return self.converge()

    def converge(self) -> Step:
        inp, s, obs = self.inp, self.s, self.obs
        user_spec = inp.spec.wire()
        current_hash = spec_hash(user_spec)
        if inp.waiting_for and inp.intent == "converge":
            # Before completion too: what the dependencies were completed to is context.
            self.set(APPLIED, "False", "WaitingForDependencies", inp.waiting_for)
            self.set(READY, "False", "WaitingForDependencies", inp.waiting_for)
            step = self.emit([])
            step.wake_after = DEPENDENCY_RETRY_SECONDS
            return step
        if not self.completion_cached(current_hash):
            if obs.completion is None or obs.completion.spec_hash != current_hash:
                return self.emit([Complete(user_spec, current_hash)])
            if obs.completion.temporary_error:
                self.set(COMPLETED, "False", "CompletionUnavailable", obs.completion.temporary_error)
                return self.finish()
            self.record_completion(obs.completion)
            s.remediation = None  # a new spec gets fresh chances

        resolved = self.resolve()
        if resolved is None:
            return self.finish()
        operations = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, resolved, self.context())
        self.operations = operations
        if inp.intent == "plan":
            self.approved_or_waiting(resolved)  # says what waits for a person
            return self.inspect(resolved)
        if not self.approved_or_waiting(resolved):
            return self.finish()
        if inp.targets is None:
            self.set(APPLIED, "False", "TargetNotFound", inp.target_error or "no target")
            return self.finish()
        hosts = self.hosts(inp.targets)
        new_hash = plan_hash(operations)
        self.mark_skipped()
        departed = self.departed()
        if departed:
            if obs.cleanup is None:
                return self.emit([self.cleanup_action(departed)])
            self.record_cleanup(obs.cleanup, departed)

        settled = health.settled_after_apply(kinds.entry(inp.info.kind).health, resolved)
        if obs.apply is not None:
            self.record_apply(obs.apply, new_hash, resolved)
        elif hosts and (inp.always_apply or any(self.node(h.name).applied_hash != new_hash for h in hosts)):
            cleanup = self.cleanup_operations(resolved)
            # When settled, the check rides along: each node is probed right after its
            # operations succeed, in the same worker and over the same connection.
            probes = health.probes_for(kinds.entry(inp.info.kind).health, resolved) if settled else []
            return self.emit([Apply(self.run_request(hosts, cleanup + operations, probes), new_hash)])
        else:
            self.derive_applied(new_hash)

        reachable = [h for h in hosts if self.node(h.name).last_result != "failed"]
        check = obs.check
        if check is None:
            if not reachable:
                return self.finish()
            if obs.apply is None:
                return self.emit([Check(self.check_request(resolved, reachable))])
            if not settled:
                return self.emit([self.check_after(obs.apply, resolved, reachable, "check")])
            check = obs.apply.reached()
        self.record_health(resolved, check)
        return self.finish()

    def inspect(self, resolved: ResolvedCommon) -> Step:
        """plan: read what is on the target nodes, and say what applying would do there."""
        inp, obs = self.inp, self.obs
        if inp.targets is None:
            self.notes.append(f"cannot look at the target: {inp.target_error or 'no target'}")
            return self.emit([])
        if obs.inspect is None:
            self.notes += [f"{name}: not looked at: {why}" for name, why in sorted(inp.skipped.items())]
            if not inp.targets:
                self.notes.append("no node to look at: the target names none that can be reached")
                return self.emit([])
            args = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, resolved, self.context())[0].args
            probe = FactProbe(id="claims", fact="clockwork.Claims", args={**args, "detail": True})
            request = self.run_request(self.hosts(inp.targets), [], [probe])
            return self.emit([Check(request, slot="inspect")])
        targets = compiler.claim_targets(kinds.entry(inp.info.kind).compiler, resolved, self.context())
        for host in obs.inspect.hosts:
            found = host.probe("claims")
            if found is None or not found.success or not isinstance(found.value, dict):
                why = host.error or (found.error if found else None) or "no answer"
                self.notes.append(f"{host.name}: could not look at the node: {why}")
                continue
            state = claims.node_state(found.value)
            self.notes += claims.preview(inp.ref, targets, state, host.name)
            self.changes += diff.changes(host.name, self.operations, targets, state, self.sources())
        return self.emit([])

    def sources(self) -> dict[str, str]:
        """Who filled each completed field (the rest is the user's)."""
        c = self.s.completion
        return {f.field: f.source + (f" ({f.model})" if f.model else "") for f in (c.filled if c else [])}

    def check_deployed(self) -> Step:
        """Check what was applied, without completing or applying anything."""
        s, obs = self.s, self.obs
        if s.completed is None or not s.nodes:
            self.set(HEALTHY, "Unknown", "NotApplied", "nothing has been applied yet")
            return self.finish()
        resolved = self.resolve()
        if resolved is None:
            return self.finish()
        hosts = self.hosts([n.name for n in s.nodes])
        if obs.check is None:
            return self.emit([Check(self.check_request(resolved, hosts))])
        self.record_health(resolved, obs.check)
        return self.finish()

    def destroy(self) -> Step:
        inp, s, obs = self.inp, self.s, self.obs
        undo = s.applied.undo if s.applied else []
        self.operations = undo
        known = [n.name for n in s.nodes if n.name in inp.inventory]
        if not undo or not known:
            return self.emit([Forget()])
        if obs.destroy is None:
            return self.emit([Destroy(self.run_request(self.hosts(known), undo))])
        if obs.destroy.ok:
            for host in obs.destroy.hosts:
                for op in host.operations:
                    for line in op.stdout_tail.splitlines():
                        if line.startswith(claims.NOTE):
                            self.event("Normal", "Kept", f"{host.name}: {line.removeprefix(claims.NOTE)}")
            return self.emit([Forget()])
        failed = "; ".join(f"{h.name}: {h.error}" for h in obs.destroy.hosts if h.outcome == "failed")
        message = f"destroy failed, will retry: {failed or obs.destroy.error}"
        self.set(READY, "False", "DestroyFailed", message)
        self.event("Warning", "DestroyFailed", message)
        return self.emit([])
