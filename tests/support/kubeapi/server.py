"""A strict, in-memory Kubernetes API server over real HTTP, for the operator tier.

The operator tier runs against this and against a real kube-apiserver (see
docs/testing.md); this one is fast. It is small, but strict where real API servers are strict, because a
test that passes only on a lax emulator proves nothing:

- discovery (``/api``, ``/apis``, per group/version, categories, short names);
- CRDs registered by creating ``CustomResourceDefinition`` objects (``kubectl apply
  -f crds/`` works), with ``Established``/``NamesAccepted`` conditions;
- custom resources validated against the CRD's ``openAPIV3Schema`` (422 naming the
  field) and *pruned* of undeclared fields, silently, unless the request asks for
  ``fieldValidation=Strict`` (then 422, as kubectl's default does);
- ``metadata``: ``uid``, ``creationTimestamp``, ``resourceVersion`` bumped on every
  write, ``generation`` bumped only when something besides metadata and status
  changes, ``generateName``, name rules, namespaces that must exist;
- the status subresource isolated both ways; optimistic concurrency (409 on a stale
  ``resourceVersion``); JSON-patch ``test`` failures are 422; strategic-merge patches
  are refused for custom resources (415), as a real server does;
- finalizers: DELETE sets ``deletionTimestamp`` (a new ``generation``) and the object
  stays until the last finalizer is gone;
- a core/v1 Event is about an object in its own namespace;
- list and watch with label and field selectors, ``resourceVersion``, ``timeoutSeconds``
  and 410 Gone for versions older than the kept history;
- server-side printing (``Table``) with the CRD's printer columns, so that
  ``kubectl get`` shows what it would show against a real cluster.

Not emulated: authentication/RBAC, admission webhooks, server-side apply, defaulting
from CRD schemas (our CRDs declare no defaults), conversion, garbage collection by
ownerReferences (tests that need it delete children themselves), aggregated discovery.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.support import k8s_schema
from tests.support.kubeapi import jsonpath

HISTORY_LIMIT = 20000
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# kube-apiserver's alphabet for generateName suffixes (no vowels, no 0/1/3).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status_subresource: bool = False
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    def discovery(self) -> list[dict[str, Any]]:
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        main = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
            "shortNames": self.short_names,
        }
        if self.categories:
            main["categories"] = self.categories
        found = [main]
        if self.status_subresource:
            found.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return found


BUILTINS = [
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, ["ns"], status_subresource=True),
    ResourceType("", "v1", "events", "event", "Event", True, ["ev"]),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ["cm"]),
    ResourceType("", "v1", "secrets", "secret", "Secret", True),
    ResourceType("", "v1", "pods", "pod", "Pod", True, ["po"], status_subresource=True),
    ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ["sa"]),
    ResourceType("events.k8s.io", "v1", "events", "event", "Event", True, ["ev"]),
    ResourceType("batch", "v1", "jobs", "job", "Job", True, status_subresource=True),
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "customresourcedefinition",
        "CustomResourceDefinition",
        False,
        ["crd", "crds"],
        status_subresource=True,
    ),
]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.causes = code, reason, message, causes or []

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.causes:
            body["details"] = {"causes": self.causes}
        return web.json_response(body, status=self.code)


@dataclass
class Watcher:
    rtype: ResourceType
    namespace: str | None
    labels: str | None
    fields: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)


def now_rfc3339() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Emulator:
    """The API server state and its HTTP handlers (one event loop, no locks needed)."""

    def __init__(self) -> None:
        self.types: dict[tuple[str, str], ResourceType] = {}
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self.rv = 1
        self.history: list[tuple[int, tuple[str, str], str, dict[str, Any]]] = []
        self.watchers: list[Watcher] = []
        self.requests: list[tuple[str, str]] = []
        # What a kubelet would have: pod logs by (namespace, name); tests set them.
        self.pod_logs: dict[tuple[str, str], str] = {}
        for rtype in BUILTINS:
            self.register(rtype)
        for name in ("default", "kube-system"):
            self._store(
                self.types[("", "namespaces")],
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                None,
            )

    # --- registration ------------------------------------------------------------------------

    def register(self, rtype: ResourceType) -> None:
        self.types[rtype.key] = rtype
        self.objects.setdefault(rtype.key, {})

    def _register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        names = spec["names"]
        served = [v for v in spec["versions"] if v.get("served")]
        if not served:
            raise ApiError(422, "Invalid", "a CRD needs at least one served version")
        version = served[0]
        self.register(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                singular=names.get("singular", names["plural"]),
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                short_names=names.get("shortNames", []),
                categories=names.get("categories", []),
                status_subresource="status" in (version.get("subresources") or {}),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=version.get("additionalPrinterColumns", []),
            )
        )
        crd.setdefault("status", {})["conditions"] = [
            {"type": t, "status": "True", "reason": r, "message": "", "lastTransitionTime": now_rfc3339()}
            for t, r in (("NamesAccepted", "NoConflicts"), ("Established", "InitialNamesAccepted"))
        ]
        crd["status"]["acceptedNames"] = names

    # --- storage -------------------------------------------------------------------------------

    def _bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _emit(self, rtype: ResourceType, event: str, obj: dict[str, Any]) -> None:
        self.history.append((self.rv, rtype.key, event, copy.deepcopy(obj)))
        if len(self.history) > HISTORY_LIMIT:
            del self.history[: len(self.history) - HISTORY_LIMIT]
        for watcher in self.watchers:
            if watcher.rtype.key == rtype.key and _matches(obj, watcher.namespace, watcher.labels, watcher.fields):
                watcher.queue.put_nowait((event, copy.deepcopy(obj)))

    def _store(self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        meta = obj["metadata"]
        meta["resourceVersion"] = self._bump()
        key = (meta.get("namespace", ""), meta["name"])
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.objects[rtype.key].pop(key, None)
            self._emit(rtype, "DELETED", obj)
            return obj
        self.objects[rtype.key][key] = obj
        self._emit(rtype, "ADDED" if old is None else "MODIFIED", obj)
        return obj

    # --- rules of a real API server ---------------------------------------------------------------

    def _validate(self, rtype: ResourceType, obj: dict[str, Any], strict: bool) -> dict[str, Any]:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise ApiError(422, "Invalid", "metadata: Required value")
        name = meta.get("name", "")
        if not isinstance(name, str) or len(name) > 253 or not _NAME.match(name):
            raise ApiError(422, "Invalid", f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain")
        # Like a real server: kind and apiVersion default from the URL, but must not contradict it.
        obj.setdefault("kind", rtype.kind)
        obj.setdefault("apiVersion", rtype.api_version)
        if obj.get("kind") != rtype.kind or obj.get("apiVersion") != rtype.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the object is {obj.get('apiVersion')}/{obj.get('kind')}, not {rtype.api_version}/{rtype.kind}",
            )
        for key, value in (meta.get("labels") or {}).items():
            if not isinstance(value, str) or (value and not _LABEL.match(value.lower())):
                raise ApiError(422, "Invalid", f"metadata.labels: Invalid value: {key}={value!r}")
        if rtype.schema is None:
            return obj
        body = {k: v for k, v in obj.items() if k != "metadata"}
        pruned = k8s_schema.pruned_paths(rtype.schema, obj)
        if pruned and strict:
            raise ApiError(
                422, "Invalid", "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in pruned)
            )
        # apiVersion and kind stay whatever the schema declares, as on a real server (kopf's
        # ClusterKopfPeering CRD declares neither)
        cleaned = {**{k: body[k] for k in ("apiVersion", "kind") if k in body}, **prune(rtype.schema, body)}
        problems = k8s_schema.errors(rtype.schema, {**cleaned, "metadata": meta})
        if problems:
            causes = [{"reason": "FieldValueInvalid", "message": p, "field": p.split(":", 1)[0]} for p in problems]
            raise ApiError(
                422,
                "Invalid",
                f"{rtype.kind}.{rtype.group} {name!r} is invalid: " + "; ".join(problems),
                causes,
            )
        return {**cleaned, "metadata": meta}

    def _namespace_exists(self, namespace: str) -> None:
        if ("", namespace) not in self.objects[("", "namespaces")]:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')

    def _get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        found = self.objects[rtype.key].get((namespace or "", name))
        if found is None:
            raise ApiError(404, "NotFound", f'{rtype.plural}.{rtype.group} "{name}" not found')
        return found

    # --- verbs --------------------------------------------------------------------------------------

    def create(self, rtype: ResourceType, namespace: str | None, obj: dict[str, Any], strict: bool) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            if meta.get("namespace") not in (None, namespace):
                raise ApiError(400, "BadRequest", "the namespace of the object does not match the request")
            meta["namespace"] = namespace
            self._namespace_exists(namespace or "")
        else:
            meta.pop("namespace", None)
        if rtype.key == ("", "events"):
            about = obj.get("involvedObject", {}).get("namespace")
            if about and about != namespace:
                message = f'involvedObject.namespace: Invalid value: "{about}": does not match event.namespace'
                raise ApiError(422, "Invalid", message)
        if not meta.get("name") and meta.get("generateName"):
            # As kube-apiserver: 5 characters from its alphabet, and (RetryGenerateName,
            # GA in 1.32) a few more tries when the name is taken.
            taken = self.objects[rtype.key]
            for _ in range(8):
                meta["name"] = meta["generateName"] + "".join(random.choices(NAME_ALPHABET, k=5))
                if (meta.get("namespace", ""), meta["name"]) not in taken:
                    break
        if rtype.status_subresource and rtype.schema is not None:
            obj.pop("status", None)  # status is the subresource's to write
        obj = self._validate(rtype, obj, strict)
        meta = obj["metadata"]
        if (meta.get("namespace", ""), meta["name"]) in self.objects[rtype.key]:
            raise ApiError(409, "AlreadyExists", f'{rtype.plural}.{rtype.group} "{meta["name"]}" already exists')
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), generation=1)
        meta.pop("deletionTimestamp", None)
        if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(obj)
        return self._store(rtype, obj, None)

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        subresource: str | None,
        strict: bool,
    ) -> dict[str, Any]:
        old = self._get(rtype, namespace, name)
        given_rv = (new.get("metadata") or {}).get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rtype.plural}.{rtype.group} "{name}": '
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        if (new.get("metadata") or {}).get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the request")
        merged = copy.deepcopy(new)
        if subresource == "status":
            merged = {**copy.deepcopy(old), "status": copy.deepcopy(new.get("status"))}
            if merged["status"] is None:
                merged.pop("status")
        elif rtype.status_subresource:
            merged.pop("status", None)
            if "status" in old:
                merged["status"] = copy.deepcopy(old["status"])
        meta = merged.setdefault("metadata", {})
        for fixed in ("uid", "creationTimestamp", "namespace", "name", "generation", "deletionTimestamp"):
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
            else:
                meta.pop(fixed, None)
        if old["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise ApiError(422, "Forbidden", "no new finalizers can be added if the object is being deleted")
        merged = self._validate(rtype, merged, strict)
        if _essence(merged) != _essence(old):
            merged["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if merged == old:
            return old  # a no-op write does not bump the resourceVersion
        return self._store(rtype, merged, old)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        subresource: str | None,
        strict: bool,
    ) -> dict[str, Any]:
        old = self._get(rtype, namespace, name)
        if content_type.startswith("application/merge-patch+json"):
            patched = merge_patch(old, patch)
        elif content_type.startswith("application/strategic-merge-patch+json"):
            if rtype.schema is not None:
                raise ApiError(
                    415, "UnsupportedMediaType", "strategic merge patch is not supported for custom resources"
                )
            patched = merge_patch(old, patch)
        elif content_type.startswith("application/json-patch+json"):
            patched = json_patch(old, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the content type {content_type!r} is not supported")
        given_rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
        if given_rv is None:
            patched.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.replace(rtype, namespace, name, patched, subresource, strict)

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        old = self._get(rtype, namespace, name)
        obj = copy.deepcopy(old)
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = now_rfc3339()
                # As kube-apiserver: the start of a graceful deletion is a new generation.
                if obj["metadata"].get("generation"):
                    obj["metadata"]["generation"] += 1
                return self._store(rtype, obj, old)
            return old
        obj["metadata"]["deletionTimestamp"] = obj["metadata"].get("deletionTimestamp") or now_rfc3339()
        obj["metadata"]["finalizers"] = []
        return self._store(rtype, obj, old)

    def list(
        self, rtype: ResourceType, namespace: str | None, labels: str | None, fields: str | None
    ) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(o)
            for key, o in sorted(self.objects[rtype.key].items())
            if _matches(o, namespace, labels, fields)
        ]

    # --- HTTP --------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        try:
            return await self._dispatch(request)
        except ApiError as exc:
            return exc.response()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return web.json_response(
                {
                    "major": "1",
                    "minor": "35",
                    "gitVersion": "v1.35.0-clockwork-emulator",
                    "platform": "linux/amd64",
                }
            )
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if parts == ["api"]:
            return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if parts == ["apis"]:
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                found = [g for g in self._groups() if g["name"] == parts[1]]
                if not found:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **found[0]})
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            resources = [
                d for t in self.types.values() if t.group == group and t.version == version for d in t.discovery()
            ]
            if not resources:
                raise ApiError(404, "NotFound", f"the server could not find the group version {group}/{version}")
            return web.json_response(
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": resources,
                }
            )
        return await self._resource(request, group, version, rest)

    def _groups(self) -> list[dict[str, Any]]:
        versions: dict[str, list[str]] = {}
        for t in self.types.values():
            if t.group and t.version not in versions.setdefault(t.group, []):
                versions[t.group].append(t.version)
        return [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
            for g, vs in sorted(versions.items())
        ]

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.types.get((group, plural))
        if rtype is None or rtype.version != version:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return rtype

    async def _resource(self, request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and (group, rest[2]) in self.types:
            namespace, rest = rest[1], rest[2:]
        rtype = self._type(group, version, rest[0])
        if rtype.namespaced and namespace is None and len(rest) > 1:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource == "log" and rtype.key == ("", "pods") and request.method == "GET" and name:
            self._get(rtype, namespace, name)
            text = self.pod_logs.get((namespace or "", name), "")
            lines = request.query.get("tailLines")
            if lines:
                text = "\n".join(text.splitlines()[-int(lines) :])
            return web.Response(text=text, content_type="text/plain")
        if subresource is not None and not (subresource == "status" and rtype.status_subresource):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        query = request.query
        strict = query.get("fieldValidation", "").lower() == "strict"
        method = request.method
        if name is None:
            if method == "GET":
                if query.get("watch") in ("1", "true"):
                    return await self._watch(request, rtype, namespace)
                items = self.list(rtype, namespace, query.get("labelSelector"), query.get("fieldSelector"))
                if _wants_table(request):
                    return web.json_response(self._table(rtype, items))
                return web.json_response(
                    {
                        "apiVersion": rtype.api_version,
                        "kind": f"{rtype.kind}List",
                        "metadata": {"resourceVersion": str(self.rv)},
                        "items": items,
                    }
                )
            if method == "POST":
                created = self.create(rtype, namespace, await _json(request), strict)
                return web.json_response(created, status=201)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
        if method == "GET":
            obj = self._get(rtype, namespace, name)
            if _wants_table(request):
                return web.json_response(self._table(rtype, [obj]))
            return web.json_response(obj)
        if method == "PUT":
            return web.json_response(self.replace(rtype, namespace, name, await _json(request), subresource, strict))
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", "")
            patched = self.patch(rtype, namespace, name, content_type, await _json(request), subresource, strict)
            return web.json_response(patched)
        if method == "DELETE" and subresource is None:
            return web.json_response(self.delete(rtype, namespace, name))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here")

    async def _watch(self, request: web.Request, rtype: ResourceType, namespace: str | None) -> web.StreamResponse:
        query = request.query
        labels, fields = query.get("labelSelector"), query.get("fieldSelector")
        since = query.get("resourceVersion", "")
        timeout = float(query.get("timeoutSeconds", "1800"))
        watcher = Watcher(rtype, namespace, labels, fields)
        backlog: list[tuple[str, dict[str, Any]]] = []
        if since in ("", "0"):
            backlog = [("ADDED", o) for o in self.list(rtype, namespace, labels, fields)]
        else:
            oldest = self.history[0][0] if self.history else self.rv
            if int(since) < oldest - 1:
                backlog = [
                    (
                        "ERROR",
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "status": "Failure",
                            "code": 410,
                            "reason": "Expired",
                            "message": f"too old resource version: {since}",
                        },
                    )
                ]
            else:
                backlog = [
                    (event, copy.deepcopy(obj))
                    for rv, key, event, obj in self.history
                    if rv > int(since) and key == rtype.key and _matches(obj, namespace, labels, fields)
                ]
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.watchers.append(watcher)
        try:
            for event, obj in backlog:
                await response.write(json.dumps({"type": event, "object": obj}).encode() + b"\n")
                if event == "ERROR":
                    return response
            deadline = asyncio.get_running_loop().time() + timeout
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    event, obj = await asyncio.wait_for(watcher.queue.get(), left)
                except TimeoutError:
                    break
                await response.write(json.dumps({"type": event, "object": obj}).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.watchers.remove(watcher)
        return response

    def _table(self, rtype: ResourceType, items: list[dict[str, Any]]) -> dict[str, Any]:
        columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
        paths: list[tuple[str, str]] = []
        for column in rtype.printer_columns or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]:
            columns.append(
                {
                    "name": column["name"],
                    "type": column["type"],
                    "format": column.get("format", ""),
                    "description": column.get("description", ""),
                    "priority": column.get("priority", 0),
                }
            )
            paths.append((column["jsonPath"], column["type"]))
        rows = []
        for obj in items:
            cells: list[Any] = [obj["metadata"]["name"]]
            for path, type_ in paths:
                found = jsonpath.evaluate(path, obj)
                value = found[0] if found else None
                if type_ == "date" and isinstance(value, str):
                    value = _age(value)
                cells.append("<none>" if value is None else value)
            meta = {
                k: obj["metadata"][k]
                for k in ("name", "namespace", "resourceVersion", "creationTimestamp", "uid")
                if k in obj["metadata"]
            }
            rows.append(
                {
                    "cells": cells,
                    "object": {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": meta,
                    },
                }
            )
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(self.rv)},
            "columnDefinitions": columns,
            "rows": rows,
        }


# --- helpers ---------------------------------------------------------------------------------------------


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError as exc:
        raise ApiError(400, "BadRequest", f"the body is not JSON: {exc}") from exc


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _age(timestamp: str) -> str:
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(timestamp.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _essence(obj: dict[str, Any]) -> dict[str, Any]:
    """What a change of bumps metadata.generation: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prune(schema: dict[str, Any], value: Any) -> Any:
    """``value`` without the fields a structural schema does not declare."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return copy.deepcopy(value)
    if isinstance(value, dict):
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        out = {}
        for key, sub in value.items():
            if props is not None and key in props:
                out[key] = prune(props[key], sub)
            elif isinstance(extra, dict):
                out[key] = prune(extra, sub)
            elif key in ("apiVersion", "kind") and "properties" in schema and "metadata" in (props or {}):
                out[key] = sub
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(schema["items"], item) for item in value]
    return copy.deepcopy(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902 JSON patch; a failed ``test`` is 422, as on a real API server."""
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "a JSON patch is a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        path = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = path[-1] if path else ""
        kind = op["op"]
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ApiError(
                    422,
                    "Invalid",
                    f"the server rejected our request: test of {op['path']} failed",
                )
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise ApiError(422, "Invalid", f"replace of missing {op['path']}")
                parent[last] = op["value"]
        elif kind == "remove":
            try:
                del parent[int(last) if isinstance(parent, list) else last]
            except (KeyError, IndexError) as exc:
                raise ApiError(422, "Invalid", f"remove of missing {op['path']}") from exc
        else:
            raise ApiError(422, "Invalid", f"unsupported JSON patch operation {kind!r}")
    return doc


def _matches(obj: dict[str, Any], namespace: str | None, labels: str | None, fields: str | None) -> bool:
    meta = obj.get("metadata", {})
    if namespace is not None and meta.get("namespace") != namespace:
        return False
    if labels and not _labels_match(meta.get("labels") or {}, labels):
        return False
    return not fields or _fields_match(meta, fields)


def _labels_match(labels: dict[str, str], selector: str) -> bool:
    for term in _split_terms(selector):
        term = term.strip()
        if match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
            if (op == "in") != (labels.get(key) in values):
                return False
        elif match := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)", term):
            key, op, value = match.groups()
            if (labels.get(key) == value) != (op != "!="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term and term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    return [*terms, current]


def _fields_match(meta: dict[str, Any], selector: str) -> bool:
    for term in selector.split(","):
        match = re.fullmatch(r"metadata\.(name|namespace)\s*(==|=|!=)\s*(.*)", term.strip())
        if match is None:
            raise ApiError(400, "BadRequest", f'field label not supported: "{term}"')
        field_name, op, value = match.groups()
        if (meta.get(field_name) == value) != (op != "!="):
            return False
    return True
