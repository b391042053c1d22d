"""Text that ends up in another program's format, and text shown to people.

One escaping layer for every value Clockwork renders into a file another program
parses (systemd units and timers, known_hosts): the types refuse control
characters (:func:`refuse_controls`, used by the API types), and each renderer
here escapes what its format defines and refuses the rest — so a value either
means exactly itself to the program that reads it, or it is not written at all.
URLs shown to people never carry a password (:func:`redact_url`).
"""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@/\s]*@")
# C0 controls, DEL, C1 controls, the Unicode line and paragraph separators, lone surrogates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def redact_url(text: str) -> str:
    """Every ``scheme://user:password@host`` in ``text`` as ``scheme://user:***@host``."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


def refuse_controls(value: str, allow: str = "") -> str:
    """``value`` unchanged, or ValueError naming the first control character and where it is."""
    for match in _CONTROL.finditer(value):
        if match.group() not in allow:
            return _refused(value, match.start())
    return value


def _refused(value: str, at: int) -> str:
    char = value[at]
    names = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte"}
    what = names.get(char, f"the control character U+{ord(char):04X}")
    raise ValueError(f"must not contain {what} (at character {at + 1})")


def single_line(value: str) -> str:
    """A value that must stay on one line of the file it is written to (tabs allowed)."""
    return refuse_controls(value, allow="\t")


def env_value(value: str) -> str:
    """An environment variable's value: line breaks and tabs allowed, no other controls."""
    return refuse_controls(value, allow="\t\n")


# --- systemd (systemd.syntax(7), systemd.exec(5)) ---------------------------------------------

_SYSTEMD_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def systemd_quoted(value: str) -> str:
    """One word of a systemd setting that unquotes and C-unescapes its words (Environment=):
    in double quotes, with backslash, quote, line break and tab escaped and every ``%``
    doubled (specifiers are expanded before words are split)."""
    env_value(value)
    body = "".join(_SYSTEMD_ESCAPES.get(ch, ch) for ch in value).replace("%", "%%")
    return f'"{body}"'


def systemd_text(value: str) -> str:
    """A setting taken as the rest of its line (Description=, WorkingDirectory=): one line,
    ``%`` doubled, no leading or trailing blanks (systemd would strip them)."""
    single_line(value)
    if "\t" in value or value != value.strip():
        raise ValueError("must not contain tabs or start or end with blanks")
    if value.endswith("\\"):
        raise ValueError("must not end with a backslash (systemd would join the next line)")
    return value.replace("%", "%%")


# --- known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") -----------------------------------------


def known_hosts_line(line: str) -> str:
    """One known_hosts entry: exactly one line, or ValueError."""
    single_line(line)
    return line
