"""Claims: what Clockwork records on a node before it changes something, and how
destroy puts it back. Pure: shell text out, parsed command output in.

Every plan that changes a node starts with a *claim* of each thing it will touch
(a file, a directory, a checkout, an account, a package, a container). The claim
reads the thing as the node sees it and keeps a record under the node's state
folder (``/var/lib/clockwork/claims/<id>/`` for root):

- it did not exist: ``created`` — destroy removes it again (and the parent
  folders apply made, when they are empty);
- it existed and ``onExisting`` is ``backup``: a copy (or its mode, owner,
  account fields, "was installed") is kept — destroy restores exactly that;
- it existed and ``onExisting`` is ``refuse``: the plan fails before anything
  changed, saying what is there;
- it existed and ``onExisting`` is ``adopt``: it is Clockwork's from now on and
  destroy removes it like something Clockwork made.

A removal (``present: false``) of something that exists keeps it aside the same
way (unless adopted), so destroy brings it back. A thing already claimed by
another resource is refused (two resources cannot own one file; packages are
shared). Paths a completer chose are judged again here against the node: the path
as the node resolves it (symlinks followed) must pass :func:`clockwork.paths.judge`
with the allowed roots as the node resolves them.

What a directory or checkout Clockwork made holds at destroy is never deleted with
it: a non-empty directory, or a checkout with local changes, is moved to the
state folder's ``kept/`` instead. The node needs only POSIX sh and coreutils or
BusyBox (stat -c, readlink -f, base64).
"""

from clockwork.claims.claiming import aside_name, claim, decide, preview
from clockwork.claims.judging import describe_existing, exists, problem
from clockwork.claims.reading import (
    DIFF_CONTENT_MAX,
    node_state,
    owned,
    owned_command,
    parse,
    read_command,
    state_dir_command,
    wrap,
)
from clockwork.claims.releasing import release
from clockwork.claims.targets import (
    LOGIN_SHELLS_WITHOUT_LOGIN,
    NOTE,
    PATH_TYPES,
    ClaimState,
    ClaimTarget,
    ClaimType,
    Facts,
    NodeState,
    OnExisting,
    Plan,
    Record,
    Refused,
)

__all__ = [
    "DIFF_CONTENT_MAX",
    "LOGIN_SHELLS_WITHOUT_LOGIN",
    "NOTE",
    "PATH_TYPES",
    "ClaimState",
    "ClaimTarget",
    "ClaimType",
    "Facts",
    "NodeState",
    "OnExisting",
    "Plan",
    "Record",
    "Refused",
    "aside_name",
    "claim",
    "decide",
    "describe_existing",
    "exists",
    "node_state",
    "owned",
    "owned_command",
    "parse",
    "preview",
    "problem",
    "read_command",
    "release",
    "state_dir_command",
    "wrap",
]
