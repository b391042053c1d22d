"""Claims decided from what a node reported (facts in, decision out), as data.

Covers: a thing that is absent is created (and its missing parents recorded); one that
exists is refused, backed up or adopted as onExisting says; a File never replaces a
directory; a completer's path is judged again as the node resolves it (a symlink that
leaves the allowed roots is refused naming both paths); Clockwork's own state folder
is off limits; a thing claimed by another resource is refused naming it (packages are
shared); a home that belongs to someone else and a shell the node does not list are
refused; the plan preview says the same in words; parsing the read command's output.
The shell itself runs for real in tests/integration/test_claims_local.py.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from clockwork import claims
from clockwork.claims import ClaimTarget, Facts, NodeState, Record

OWNER = "File/default/motd"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def facts(**values: str) -> Facts:
    encoded = {k: b64(v) if k in ("real", "missing", "passwd", "groups", "homereal", "record") else v
               for k, v in values.items()}  # fmt: skip
    return Facts(encoded)


def state(target: ClaimTarget, found: Facts, roots: tuple[str, ...] = ("/srv", "/tmp")) -> NodeState:
    return NodeState(state_dir="/var/lib/clockwork", roots=list(roots), targets={target.id: found})


def decide(target: ClaimTarget, found: Facts, owner: str = OWNER, **kw: Any) -> str | None:
    try:
        return claims.decide(owner, target, found, "n1", state(target, found, **kw))
    except claims.Refused as exc:
        return f"refused: {exc}"


FILE = ClaimTarget(type="file", key="/srv/app/motd", field="spec.path")
ABSENT = facts(kind="absent", real="/srv/app/motd", missing="")
EXISTING = facts(kind="file", stat="600 0 0", real="/srv/app/motd", missing="")

CASES: list[tuple[str, ClaimTarget, Facts, str]] = [
    ("absent file is created", FILE, ABSENT, "created"),
    ("existing file, backup", FILE, EXISTING, "backup"),
    ("existing file, adopt", FILE.model_copy(update={"on_existing": "adopt"}), EXISTING, "adopted"),
    ("existing file, refuse", FILE.model_copy(update={"on_existing": "refuse"}), EXISTING,
     "refused: spec.path: /srv/app/motd already exists as a file (mode 600, uid 0) on n1 and Clockwork did not "
     "create it"),
    ("removal of an absent file", FILE.model_copy(update={"present": False}), ABSENT, "absent"),
    ("removal of an existing file keeps it aside", FILE.model_copy(update={"present": False}), EXISTING, "backup"),
    ("removal of someone else's system file is refused", FILE.model_copy(update={"present": False,
                                                                                "on_existing": "refuse"}),
     EXISTING, "refused: spec.path: /srv/app/motd already exists as a file (mode 600, uid 0) on n1 and Clockwork did "
     "not create it; nothing was changed. Set spec.onExisting: backup to remove it"),
    ("a file cannot replace a directory", FILE, facts(kind="dir", real="/srv/app/motd"),
     "refused: spec.path: /srv/app/motd is a directory on n1; a File cannot replace a directory"),
    ("completer path through a symlink out of the roots", FILE.model_copy(update={"guard": True}),
     facts(kind="absent", real="/etc/cron.d/motd", missing=""),
     "refused: spec.path: /srv/app/motd resolves to /etc/cron.d/motd on n1 through a symbolic link, and runs "
     "programs on a schedule, at boot or at login (rule: symlink-escape)"),
    ("completer path through a symlink to elsewhere", FILE.model_copy(update={"guard": True}),
     facts(kind="absent", real="/elsewhere/motd", missing=""),
     "refused: spec.path: /srv/app/motd resolves to /elsewhere/motd on n1 through a symbolic link, and is outside "
     "the allowed roots (/srv, /tmp) (rule: symlink-escape)"),
    ("completer path through a symlink that stays inside", FILE.model_copy(update={"guard": True}),
     facts(kind="absent", real="/tmp/data/motd", missing=""), "created"),
    ("a user's path may go through a symlink", FILE, facts(kind="absent", real="/elsewhere/motd", missing=""),
     "created"),
    ("Clockwork's own state is off limits", FILE, facts(kind="absent", real="/var/lib/clockwork/claims/x"),
     "refused: spec.path: /srv/app/motd is inside Clockwork's own state folder on n1"),
    ("a directory resolving to a system directory", ClaimTarget(type="directory", key="/srv/data", field="spec.path"),
     facts(kind="dir", real="/var/lib"),
     "refused: spec.path: /srv/data (which resolves to /var/lib): is a system directory; Clockwork manages only "
     "what is inside it"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "target", "found", "expected"), CASES, ids=[c[0] for c in CASES])
def test_claim_decision(name: str, target: ClaimTarget, found: Facts, expected: str) -> None:
    decided = decide(target, found)
    assert decided is not None and decided.startswith(expected), decided


def record(*owners: str, state_: str = "created") -> str:
    return Record(owners=list(owners), type="file", key="/srv/app/motd", state=state_).model_dump_json(by_alias=True)


def test_one_thing_has_one_owner() -> None:
    found = facts(kind="file", stat="644 0 0", real="/srv/app/motd", record=record("File/default/other"))
    assert decide(FILE, found) == (
        "refused: spec.path: file /srv/app/motd on n1 is already managed by File/default/other; one thing has one "
        "owner (if that resource is gone, remove /var/lib/clockwork/claims/" + FILE.id + " on the node)"
    )
    assert decide(FILE, facts(kind="file", real="/srv/app/motd", record=record(OWNER))) is None  # ours already


def test_packages_are_shared_and_the_last_owner_decides() -> None:
    target = ClaimTarget(type="package", key="curl", field="spec.names")

    def installed_by(*owners: str) -> NodeState:
        made = Record(owners=list(owners), type="package", key="curl", state="created")
        return state(target, facts(installed="1", record=made.model_dump_json(by_alias=True)))

    plan = claims.claim("Package/default/b", [target], installed_by("Package/default/a"), "n1")
    assert len(plan.commands) == 1 and "record.json" in plan.commands[0]  # b joins the owners
    first = claims.release("Package/default/a", [target], installed_by("Package/default/a", "Package/default/b"), "n1")
    assert first.notes == ["package curl is still claimed by Package/default/b; left as it is"]
    assert "apt-get remove" not in " ".join(first.commands)
    last = claims.release("Package/default/b", [target], installed_by("Package/default/b"), "n1")
    assert "apt-get remove -y -- curl" in last.commands[0]


def test_home_of_someone_else_and_unlisted_shells_are_refused() -> None:
    user = ClaimTarget(type="user", key="app", field="spec.name", home="/srv/shared", shell="/tmp/evil")
    found = facts(home="0", homereal="/srv/shared")
    assert decide(user, found).startswith("refused: spec.shell: /tmp/evil is not an executable on n1")
    found = facts(home="0", homereal="/srv/shared", shellx="1")
    assert "is not listed in /etc/shells on n1 (rule: known-shell)" in decide(user, found)
    fine_shell = user.model_copy(update={"shell": "/usr/sbin/nologin"})
    assert "belongs to uid 0; giving it to app would change its owner" in decide(fine_shell, facts(home="0",
                                                                                               shellx="1"))  # fmt: skip
    assert decide(fine_shell.model_copy(update={"on_existing": "adopt"}), facts(home="0", shellx="1")) == "created"
    root_home = user.model_copy(update={"home": "/var/lib", "shell": None})
    assert decide(root_home, facts(homereal="/var/lib")) == "refused: spec.home: /var/lib is a system directory; " \
        "Clockwork manages only what is inside it"  # fmt: skip


def test_created_parents_are_recorded_for_destroy() -> None:
    target = ClaimTarget(type="file", key="/tmp/a/b/c.txt", field="spec.path")
    found = facts(kind="absent", real="/tmp/a/b/c.txt", missing="/tmp/a")
    plan = claims.claim(OWNER, [target], state(target, found), "n1")
    data = plan.commands[0].split("printf %s ", 1)[1].split(" ", 1)[0]
    written = Record.model_validate_json(base64.b64decode(data))
    assert written.state == "created"
    assert written.created_parents == ["/tmp/a/b", "/tmp/a"]
    assert written.target == target


def test_preview_says_what_apply_would_do() -> None:
    lines = claims.preview(OWNER, [FILE], state(FILE, EXISTING), "n1")
    assert lines == ["n1: replaces the existing file /srv/app/motd (mode 600, uid 0): a backup is kept and destroy "
                     "puts it back"]  # fmt: skip
    refusing = FILE.model_copy(update={"on_existing": "refuse"})
    assert claims.preview(OWNER, [refusing], state(refusing, EXISTING), "n1")[0].startswith("n1: refuses: ")
    assert claims.preview(OWNER, [FILE], state(FILE, ABSENT), "n1") == ["n1: creates file /srv/app/motd"]


def test_parse_reads_the_read_commands_output() -> None:
    output = "\n".join([f"state {b64('/var/lib/clockwork')}", f"root {b64('/srv')}", f"t {FILE.id}", "kind file",
                        "stat 644 0 0", f"real {b64('/srv/app/motd')}", f"missing {b64('')}"])  # fmt: skip
    parsed = claims.parse(output)
    assert parsed.state_dir == "/var/lib/clockwork" and parsed.roots == ["/srv"]
    assert parsed.facts(FILE).get("kind") == "file" and parsed.facts(FILE).text("real") == "/srv/app/motd"
    assert (
        claims.node_state({"stateDir": "/x", "roots": ["/srv"], "targets": {FILE.id: {"kind": "file"}}})
        .facts(FILE)
        .get("kind")
        == "file"
    )
