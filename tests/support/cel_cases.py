"""Examples every cross-field rule (``__cel_rules__``) must agree on, in Python and in the API server.

Each case is a whole spec of one kind and whether the rule is broken there; a broken case says
the text the refusal must carry (the rule's message unless the message names values).
tests/unit/test_cel_rules.py runs the models on them, tests/cluster/test_cel_validation.py
creates them on a real API server with the generated CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clockwork.api.assertions import ONE_CONTENT_CHECK, ONE_LOG_SOURCE
from clockwork.api.common import ONE_TARGET
from clockwork.api.container import ONE_VOLUME_SOURCE
from clockwork.api.edgenode import ONE_KEY_SOURCE
from clockwork.api.file import CONTENT_OR_TEMPLATE, PATH_OR_DIRECTORY, VARIABLES_FOR_TEMPLATE
from clockwork.api.rollout import NO_TEMPLATE_TARGET, ONE_BATCH_RULE
from clockwork.api.task import ONE_PROGRAM
from clockwork.api.workflow import DEPENDS_ON_A_STEP, UNIQUE_STEP_NAMES
from clockwork.api.workload import COMMAND_OR_MODULE, MODULE_WITH_ENTRY_POINT, PARAMS_FOR_MODULE
from clockwork.cel import CelRule


@dataclass(frozen=True)
class Case:
    id: str
    rule: CelRule
    kind: str
    spec: dict[str, Any]
    broken: bool
    text: str | None = None  # what a refusal says, when not the rule's message

    @property
    def expected(self) -> str:
        return self.text or self.rule.message


FILE = {"path": "/etc/clockwork/x", "content": "hi\n"}
LOG = {"type": "logContains", "pattern": "ready"}
CONTENT = {"type": "fileContent", "path": "/etc/x"}
SHA = "0" * 64
MODULE = {"module": "agent.main", "entryPoint": "run"}


def _rollout(resource_spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "nodeSelector": {"site": "a"},
        "version": "1",
        "resources": [{"kind": "File", "name": "f", "spec": resource_spec}],
        **extra,
    }


def _workflow(task: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"name": "one", "task": task}]}


def _step(name: str, *depends_on: str) -> dict[str, Any]:
    return {"name": name, "task": {"command": "true"}, **({"dependsOn": list(depends_on)} if depends_on else {})}


CASES: tuple[Case, ...] = (
    Case(
        "target-two",
        ONE_TARGET,
        "File",
        {**FILE, "target": {"nodeName": "n1", "local": True}},
        True,
        "set only one of nodeName, nodeSelector, local (got nodeName, local)",
    ),
    Case(
        "target-three",
        ONE_TARGET,
        "Directory",
        {"path": "/srv/d", "target": {"nodeName": "n1", "nodeSelector": {"a": "b"}, "local": True}},
        True,
        "set only one of nodeName, nodeSelector, local (got nodeName, nodeSelector, local)",
    ),
    Case("target-local-false", ONE_TARGET, "File", {**FILE, "target": {"nodeName": "n1", "local": False}}, False),
    Case("target-selector", ONE_TARGET, "File", {**FILE, "target": {"nodeSelector": {"a": "b"}}}, False),
    Case("path-and-name", PATH_OR_DIRECTORY, "File", {**FILE, "name": "x"}, True),
    Case("path-and-directory", PATH_OR_DIRECTORY, "File", {**FILE, "directory": "/etc"}, True),
    Case("directory-and-name", PATH_OR_DIRECTORY, "File", {"directory": "/etc", "name": "x", "content": "a"}, False),
    Case("content-and-template", CONTENT_OR_TEMPLATE, "File", {**FILE, "template": "b"}, True),
    Case("template-only", CONTENT_OR_TEMPLATE, "File", {"path": "/etc/x", "template": "b"}, False),
    Case("variables-no-template", VARIABLES_FOR_TEMPLATE, "File", {**FILE, "variables": {"a": 1}}, True),
    Case(
        "variables-template",
        VARIABLES_FOR_TEMPLATE,
        "File",
        {"path": "/etc/x", "template": "{{ a }}", "variables": {"a": 1}},
        False,
    ),
    Case("volume-neither", ONE_VOLUME_SOURCE, "Container", {"image": "nginx:1", "volumes": [{"path": "/d"}]}, True),
    Case(
        "volume-both",
        ONE_VOLUME_SOURCE,
        "Container",
        {
            "image": "nginx:1",
            "volumes": [{"path": "/d", "volume": "v"}, {"path": "/e", "hostPath": "/e", "volume": "v"}],
        },
        True,
    ),
    Case(
        "volume-one",
        ONE_VOLUME_SOURCE,
        "Container",
        {"image": "nginx:1", "volumes": [{"path": "/d", "volume": "v"}, {"path": "/e", "hostPath": "/srv/e"}]},
        False,
    ),
    Case("task-both", ONE_PROGRAM, "Task", {"command": "true", "script": "true"}, True),
    Case("task-neither", ONE_PROGRAM, "Task", {"timeoutSeconds": 5}, True),
    Case("task-script", ONE_PROGRAM, "Task", {"script": "echo hi"}, False),
    Case("step-both", ONE_PROGRAM, "Workflow", _workflow({"command": "a", "script": "b"}), True),
    Case("step-command", ONE_PROGRAM, "Workflow", _workflow({"command": "a"}), False),
    Case("steps-same-name", UNIQUE_STEP_NAMES, "Workflow", {"steps": [_step("a"), _step("b"), _step("a")]}, True),
    Case("steps-own-names", UNIQUE_STEP_NAMES, "Workflow", {"steps": [_step("a"), _step("b")]}, False),
    Case("depends-on-nothing", DEPENDS_ON_A_STEP, "Workflow", {"steps": [_step("a"), _step("b", "a", "c")]}, True),
    Case("depends-on-steps", DEPENDS_ON_A_STEP, "Workflow", {"steps": [_step("a"), _step("b", "a")]}, False),
    Case("command-and-module", COMMAND_OR_MODULE, "Workload", {"command": "sleep 9", **MODULE}, True),
    Case("command-and-entry", COMMAND_OR_MODULE, "Workload", {"command": "sleep 9", "entryPoint": "run"}, True),
    Case("module-only", COMMAND_OR_MODULE, "Workload", MODULE, False),
    Case("module-alone", MODULE_WITH_ENTRY_POINT, "Workload", {"module": "agent.main"}, True),
    Case("command-only", MODULE_WITH_ENTRY_POINT, "Workload", {"command": "sleep 9"}, False),
    Case("params-command", PARAMS_FOR_MODULE, "Workload", {"command": "sleep 9", "params": {"a": 1}}, True),
    Case("params-module", PARAMS_FOR_MODULE, "Workload", {**MODULE, "params": {"a": 1}}, False),
    # null is "not set" on both sides: has() of a nullable field that is null is false.
    Case("module-null", MODULE_WITH_ENTRY_POINT, "Workload", {"command": "sleep 9", "module": None}, False),
    Case("params-null", PARAMS_FOR_MODULE, "Workload", {"command": "sleep 9", "params": None}, False),
    Case("target-null", ONE_TARGET, "File", {**FILE, "target": {"nodeName": "n1", "nodeSelector": None}}, False),
    Case(
        "two-keys",
        ONE_KEY_SOURCE,
        "EdgeNode",
        {"address": "10.0.0.5", "sshKeySecret": {"name": "k"}, "sshKeyFile": "/root/.ssh/id"},
        True,
    ),
    Case("secret-key", ONE_KEY_SOURCE, "EdgeNode", {"address": "10.0.0.5", "sshKeySecret": {"name": "k"}}, False),
    Case("template-target", NO_TEMPLATE_TARGET, "Rollout", _rollout({**FILE, "target": {"local": True}}), True),
    Case("template-no-target", NO_TEMPLATE_TARGET, "Rollout", _rollout(FILE), False),
    Case(
        "batch-and-unavailable",
        ONE_BATCH_RULE,
        "Rollout",
        _rollout(FILE, strategy={"batchSize": 1, "maxUnavailable": "25%"}),
        True,
    ),
    Case("batch-percent", ONE_BATCH_RULE, "Rollout", _rollout(FILE, strategy={"batchSize": "25%"}), False),
    Case("log-no-source", ONE_LOG_SOURCE, "File", {**FILE, "health": {"assertions": [LOG]}}, True),
    Case(
        "log-two-sources",
        ONE_LOG_SOURCE,
        "Workload",
        {"command": "sleep 9", "health": {"assertions": [{**LOG, "unit": "a.service", "path": "/var/log/a"}]}},
        True,
    ),
    Case(
        "gate-log-no-source",
        ONE_LOG_SOURCE,
        "Rollout",
        _rollout(FILE, healthGate={"assertions": [LOG]}),
        True,
    ),
    Case(
        "log-unit",
        ONE_LOG_SOURCE,
        "File",
        {**FILE, "health": {"assertions": [{**LOG, "unit": "a.service"}, {"type": "port", "port": 22}]}},
        False,
    ),
    Case("content-neither", ONE_CONTENT_CHECK, "File", {**FILE, "health": {"assertions": [CONTENT]}}, True),
    Case(
        "content-both",
        ONE_CONTENT_CHECK,
        "Package",
        {"names": ["curl"], "health": {"assertions": [{**CONTENT, "matches": "a", "sha256": SHA}]}},
        True,
    ),
    Case(
        "content-sha",
        ONE_CONTENT_CHECK,
        "File",
        {**FILE, "health": {"assertions": [{**CONTENT, "sha256": SHA}]}},
        False,
    ),
)


def document(case: Case, name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": case.kind, "metadata": metadata, "spec": case.spec}
