"""Diffs of files, directories, checkouts, accounts and packages against what the node has."""

from __future__ import annotations

import difflib
import hashlib
import re
import shlex

from pydantic import JsonValue

from clockwork import claims
from clockwork.diff.change import HIDDEN, MAX_DIFF_LINES, Change, FieldChange, Sources, octal, text_of


def file_change(
    node: str,
    path: str,
    a: dict[str, JsonValue],
    facts: dict[tuple[str, str], claims.Facts],
    source: Sources,
    content_field: str,
) -> list[Change]:
    f = facts.get(("file", path))
    if f is None:
        return []
    what = f"file {path}"
    want = str(a.get("content") or "")
    kind = f.get("kind")
    if kind in (None, "absent"):
        fields = [FieldChange(field=content_field, after=f"{len(want.encode())} bytes", source=source("content"))]
        fields += [c for c in _attribute_fields(a, {}, source) if c.after is not None]
        return [Change(node=node, target=what, action="create", fields=fields, diff=_unified(path, "", want, node))]
    change = attributes_change(node, what, a, f, source)
    if kind != "file":
        change.fields.insert(0, FieldChange(field="type", before=_kind_word(kind), after="file"))
    else:
        before = f.text("content")
        size = f"{len(want.encode())} bytes"
        content = FieldChange(field=content_field, after=size, source=source("content"))
        if before is None:  # too big to read: by hash
            if hashlib.sha256(want.encode()).hexdigest() != f.get("sha"):
                change.fields.insert(0, content.model_copy(update={"before": f"{f.get('size')} bytes"}))
        elif before != want:
            masked = content_field == "unit"
            shown_before, shown_after = (_mask_env(before), _mask_env(want)) if masked else (before, want)
            change.diff = _unified(path, shown_before, shown_after, node) or None
            if shown_before == shown_after:
                change.fields.insert(0, FieldChange(field="env", before=HIDDEN, after=HIDDEN, source=source("env")))
            else:
                change.fields.insert(0, content.model_copy(update={"before": f"{len(before.encode())} bytes"}))
    change.action = "update" if change.fields else "unchanged"
    return [change]


def _kind_word(kind: str | None) -> str:
    return {"dir": "directory", "link": "symlink", "file": "file"}.get(kind or "", kind or "nothing")


def attributes_change(node: str, what: str, a: dict[str, JsonValue], f: claims.Facts, source: Sources) -> Change:
    if f.get("kind") in (None, "absent"):
        fields = [c for c in _attribute_fields(a, {}, source) if c.after is not None]
        return Change(node=node, target=what, action="create", fields=fields)
    stat = (f.get("stat") or "").split()
    names = (f.get("names") or "").split()
    now = {
        "mode": stat[0] if stat else None,
        "owner": names[0] if names else None,
        "group": names[1] if len(names) > 1 else None,
    }
    fields = [c for c in _attribute_fields(a, now, source) if c.after is not None and c.after != c.before]
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def _attribute_fields(a: dict[str, JsonValue], now: dict[str, str | None], source: Sources) -> list[FieldChange]:
    mode = a.get("mode")
    return [
        FieldChange(field="mode", before=octal(now.get("mode")), after=octal(mode), source=source("mode")),
        FieldChange(field="owner", before=now.get("owner"), after=text_of(a.get("user")), source=source("owner")),
        FieldChange(field="group", before=now.get("group"), after=text_of(a.get("group")), source=source("group")),
    ]


_ENV_LINE = re.compile(r"^(\s*Environment=)(.*)$", re.MULTILINE)


def _mask_env(text: str) -> str:
    """A unit's Environment= values hidden, names kept: ``Environment="A=<hidden>"``."""

    def hide(found: re.Match[str]) -> str:
        try:
            words = shlex.split(found.group(2))
        except ValueError:
            return found.group(1) + HIDDEN
        return found.group(1) + " ".join(f'"{w.split("=", 1)[0]}={HIDDEN}"' for w in words)

    return _ENV_LINE.sub(hide, text)


def _unified(path: str, before: str, after: str, node: str) -> str:
    if "\0" in before or "\0" in after:
        return "binary content differs"
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{node}:{path} (now)",
            tofile=f"{node}:{path} (after apply)",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def checkout_change(node: str, dest: str, a: dict[str, JsonValue], f: claims.Facts, source: Sources) -> Change:
    what = f"checkout {dest}"
    want_ref = text_of(a.get("commit") or a.get("branch") or a.get("ref"))
    if f.get("kind") in (None, "absent"):
        fields = [
            FieldChange(field="url", after=text_of(a.get("src")), source=source("url")),
            FieldChange(field="ref", after=want_ref, source=source("ref")),
        ]
        return Change(node=node, target=what, action="create", fields=[c for c in fields if c.after])
    fields = []
    origin, rev = f.text("origin"), f.get("rev")
    if a.get("src") is not None and origin is not None and origin.strip() != a.get("src"):
        fields.append(
            FieldChange(field="url", before=origin.strip(), after=text_of(a.get("src")), source=source("url"))
        )
    commit = text_of(a.get("commit"))
    if commit and rev and not rev.startswith(commit):
        fields.append(FieldChange(field="ref", before=rev, after=commit, source=source("ref")))
    elif not commit and want_ref:  # a branch or tag: where it points is the remote's to say
        fields.append(FieldChange(field="ref", before=rev, after=f"{want_ref} (fetched)", source=source("ref")))
    if rev is None:
        fields.insert(0, FieldChange(field="type", before=_kind_word(f.get("kind")), after="git checkout"))
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def user_change(node: str, a: dict[str, JsonValue], f: claims.Facts, source: Sources) -> Change:
    name = str(a.get("user"))
    what = f"account {name}"
    passwd = f.text("passwd")
    if a.get("present") is False:
        return Change(node=node, target=what, action="remove" if passwd else "unchanged")
    groups = a.get("groups")
    want_groups = sorted(str(g) for g in groups) if isinstance(groups, list) else []
    if not passwd:
        fields = [
            FieldChange(field="home", after=text_of(a.get("home")), source=source("home")),
            FieldChange(field="shell", after=text_of(a.get("shell")), source=source("shell")),
            FieldChange(field="groups", after=", ".join(want_groups) or None, source=source("groups")),
        ]
        return Change(node=node, target=what, action="create", fields=[c for c in fields if c.after])
    parts = passwd.split(":")
    now = {"home": parts[5] if len(parts) > 6 else None, "shell": parts[6] if len(parts) > 6 else None}
    fields = [
        FieldChange(field=k, before=now[k], after=text_of(a.get(k)), source=source(k))
        for k in ("home", "shell")
        if a.get(k) is not None and text_of(a.get(k)) != now[k]
    ]
    have = set((f.text("groups") or "").split())
    missing = [g for g in want_groups if g not in have]
    if missing:
        fields.append(
            FieldChange(
                field="groups", before=", ".join(sorted(have)), after=f"+ {', '.join(missing)}", source=source("groups")
            )
        )
    return Change(node=node, target=what, action="update" if fields else "unchanged", fields=fields)


def packages_change(
    node: str, a: dict[str, JsonValue], facts: dict[tuple[str, str], claims.Facts], source: Sources
) -> list[Change]:
    found = []
    names = a.get("packages")
    for name in names if isinstance(names, list) else []:
        f = facts.get(("package", str(name)))
        if f is None:
            continue
        installed = f.get("installed")
        what = f"package {name}"
        if installed == "?":
            found.append(Change(node=node, target=what, action="unknown"))
        elif a.get("present") is False:
            found.append(Change(node=node, target=what, action="remove" if installed == "1" else "unchanged"))
        elif installed == "1":
            found.append(Change(node=node, target=what, action="unchanged"))
        else:
            install = FieldChange(field="names", after=f"install {name}", source=source("names"))
            found.append(Change(node=node, target=what, action="create", fields=[install]))
    return found
