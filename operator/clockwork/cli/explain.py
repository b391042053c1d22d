"""``clockwork why``: the chain of reasons, from local state or from the cluster's API."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from clockwork import why as why_mod
from clockwork.api.base import GROUP, VERSION
from clockwork.api.registry import ALL_KINDS
from clockwork.cli.base import fail_input, load_items, main, settings_for, with_common
from clockwork.cli.output import EXIT_FAILED, EXIT_OK, err, escape, out
from clockwork.store import LocalStore


@main.command()
@click.argument("refs", nargs=-1, metavar="KIND/NAME...")
@with_common
@click.option("-n", "--namespace", default=None, help="Namespace (default: the kubeconfig context's, or default).")
@click.option("--cluster", is_flag=True, help="Ask the cluster's API (kubeconfig or in-cluster), not local state.")
@click.option("--context", default=None, help="kubeconfig context (with --cluster).")
def why(refs: tuple[str, ...], paths: tuple[Path, ...], state_dir: Path | None, output: str, namespace: str | None,
        cluster: bool, context: str | None) -> None:  # fmt: skip
    """Why a resource is not Ready: the chain of reasons (a dependency that is not Ready and
    why, the approval it waits for, the target it cannot find, the checks that failed).

    KIND/NAME as kubectl takes it (File/motd, containers/web, Task/ns/name); or -f FILE
    for every resource in the files. Exit 0 when all are where they should be, else 1.
    """
    as_json = output == "json"
    if not refs and not paths:
        fail_input("name a resource (KIND/NAME) or give -f FILE", as_json=as_json)
    if cluster:
        lookup, close, context_namespace = _cluster_lookup(context, as_json)
        hint = _cluster_approve_hint
    else:
        store = LocalStore(settings_for(state_dir).state_dir)
        lookup, close, context_namespace = _local_lookup(store), store.close, "default"
        hint = _local_approve_hint
    wanted = [_parse_ref(ref, namespace or context_namespace, as_json) for ref in refs]
    if paths:
        wanted += [(i.kind, i.metadata.namespace, i.metadata.name) for i in load_items(paths, as_json)]
    try:
        explained = [(key, why_mod.explain(*key, lookup, hint)) for key in wanted]
    except why_mod.Unanswered as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    finally:
        close()
    ok = all(e.ok for _, e in explained)
    if as_json:
        click.echo(json.dumps([{"resource": "/".join(key), "ok": e.ok, "reasons": [r.__dict__ for r in e.reasons]}
                               for key, e in explained], indent=2, default=list))  # fmt: skip
        sys.exit(EXIT_OK if ok else EXIT_FAILED)
    for _, e in explained:
        for r in e.reasons:
            indent = "  " * r.depth + ("└ " if r.depth else "")
            fine = r.depth == 0 and e.ok
            out.print(f"{indent}[bold]{escape(r.ref)}[/] [{'green' if fine else 'red'}]{escape(r.text)}[/]")
            for detail in r.details:
                out.print(f"{'  ' * r.depth}    {escape(detail)}")
    sys.exit(EXIT_OK if ok else EXIT_FAILED)


def _parse_ref(ref: str, namespace: str, as_json: bool) -> tuple[str, str, str]:
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        fail_input(f"{ref!r}: name a resource as KIND/NAME or KIND/NAMESPACE/NAME", as_json=as_json)
    word = parts[0].lower()
    kind = next((k for k, i in ALL_KINDS.items() if word in (k.lower(), i.plural, i.singular, *i.short_names)), None)
    if kind is None:
        fail_input(f"{ref!r}: unknown kind {parts[0]!r}; Clockwork serves {', '.join(ALL_KINDS)}", as_json=as_json)
    return (kind, parts[1], parts[2]) if len(parts) == 3 else (kind, namespace, parts[1])


def _local_lookup(store: LocalStore) -> why_mod.Lookup:
    def get(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        record = store.get(kind, namespace, name)
        return None if record is None else {"spec": record.spec, "status": record.status}

    return get


def _local_approve_hint(ref: str, completed_hash: str) -> str:
    return f"approve with: clockwork approve -f FILE --hash {completed_hash}"


def _cluster_approve_hint(ref: str, completed_hash: str) -> str:
    kind, namespace, name = ref.split("/")
    plural = ALL_KINDS[kind].plural
    return f"approve with: kubectl annotate -n {namespace} {plural} {name} clockwork.dev/approve={completed_hash}"


def _cluster_lookup(context: str | None, as_json: bool) -> tuple[why_mod.Lookup, Callable[[], None], str]:
    """Objects from the cluster's API, as `kubectl get -o json` shows them, and the namespace
    kubectl would use (the kubeconfig context's, or the in-cluster ServiceAccount's)."""
    import urllib3
    from kubernetes import client, config  # the cluster's client only when asked for the cluster
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    namespace = "default"
    try:
        try:
            config.load_kube_config(context=context)
            contexts, active = config.list_kube_config_contexts()
            chosen = next((c for c in contexts if c["name"] == context), active)
            namespace = (chosen or {}).get("context", {}).get("namespace") or namespace
        except (ConfigException, FileNotFoundError):
            config.load_incluster_config()
            found = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = found.read_text().strip() if found.is_file() else namespace
    except ConfigException as exc:
        fail_input(f"no cluster to ask: {exc}", as_json=as_json)
    api_client = client.ApiClient()
    api = client.CustomObjectsApi(api_client)

    def get(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = api.get_namespaced_custom_object(GROUP, VERSION, namespace, ALL_KINDS[kind].plural, name,
                                                     _request_timeout=10)  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise why_mod.Unanswered(f"the cluster answered {exc.status} for {kind}/{namespace}/{name}: "
                                     f"{exc.reason}") from None  # fmt: skip
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise why_mod.Unanswered(f"cannot reach the cluster at {api_client.configuration.host}: {exc}") from None
        return dict(found)

    return get, api_client.close, namespace
