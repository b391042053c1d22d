"""The POSIX shell commands the checks run on a node; each prefers what the node has."""

from __future__ import annotations

import shlex

from clockwork.api import assertions as a

NONE_MARKER = "__cw_none"


STATUS_MARKER = "__cw_status"


PROCESS_MARKER = "__cwproc__"


BODY_LIMIT = 3000


def quote(value: object) -> str:
    return shlex.quote(str(value))


_HTTP_PY = (
    "import sys,time,urllib.request,urllib.error\n"
    "u,t,b=sys.argv[1],float(sys.argv[2]),sys.argv[3]\n"
    "s=time.time()\n"
    "try:\n r=urllib.request.urlopen(u,timeout=t);c=r.status;d=r.read()\n"
    "except urllib.error.HTTPError as e:\n c=e.code;d=e.read()\n"
    "except Exception as e:\n print('000 0',str(e).replace(chr(10),' '));sys.exit(0)\n"
    "open(b,'wb').write(d);print(c,round(time.time()-s,3))\n"
)


def http_command(url: str, timeout: int) -> str:
    return (
        f"u={quote(url)}; t={timeout}; b=$(mktemp)\n"
        "if command -v curl >/dev/null 2>&1; then\n"
        '  s=$(curl -sS -o "$b" -m "$t" -w \'%{http_code} %{time_total}\' "$u" 2>/dev/null) || s="000 0 unreachable"\n'
        "elif command -v python3 >/dev/null 2>&1; then\n"
        f'  s=$(python3 -c {quote(_HTTP_PY)} "$u" "$t" "$b")\n'
        "elif command -v wget >/dev/null 2>&1; then\n"
        '  if wget -q -T "$t" -O "$b" "$u" 2>/dev/null; then s="200 0"; else s="000 0 wget failed"; fi\n'
        f'else echo "{NONE_MARKER} no HTTP client (curl, python3 or wget) on the node"; exit 0; fi\n'
        f'echo "{STATUS_MARKER} $s"; head -c {BODY_LIMIT} "$b"; rm -f "$b"'
    )


def port_command(host: str, port: int, protocol: str) -> str:
    if protocol == "udp":
        return (
            f"if command -v nc >/dev/null 2>&1; then nc -z -u -w 3 {quote(host)} {port} && echo open || echo closed; "
            f'else echo "{NONE_MARKER} no nc on the node to check a UDP port"; fi'
        )
    py = f"import socket;socket.create_connection(({host!r},{port}),3)"
    return (
        f"if command -v bash >/dev/null 2>&1; then bash -c {quote(f'exec 3<>/dev/tcp/{host}/{port}')} 2>/dev/null "
        "&& echo open || echo closed; "
        f"elif command -v python3 >/dev/null 2>&1; then python3 -c {quote(py)} 2>/dev/null "
        "&& echo open || echo closed; "
        f"elif command -v nc >/dev/null 2>&1; then nc -z -w 3 {quote(host)} {port} && echo open || echo closed; "
        f'else echo "{NONE_MARKER} no bash, python3 or nc on the node"; fi'
    )


def process_command(pattern: str) -> str:
    # Every process of this pipeline carries the marker, and lines with it are dropped.
    return (
        "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < \"$f\" 2>/dev/null; echo; done | "
        f"sed -e 's/ $//' -e '/{PROCESS_MARKER}_never/d' | grep -v {PROCESS_MARKER} | "
        f"grep -E -c -e {quote(pattern)} -e {PROCESS_MARKER}_never"
    )


MEMORY_COMMAND = "awk '/^MemTotal:/{t=$2}/^MemAvailable:/{v=$2}END{printf \"%.1f\\n\",(t-v)*100/t}' /proc/meminfo"


CPU_COMMAND = (
    "a=$(head -n1 /proc/stat); sleep 1; b=$(head -n1 /proc/stat); "
    'echo "$a $b" | awk \'{i1=$5+$6;t1=0;for(k=2;k<=11;k++)t1+=$k;'
    'i2=$16+$17;t2=0;for(k=13;k<=22;k++)t2+=$k;printf "%.1f\\n",(1-(i2-i1)/(t2-t1))*100}\''
)


def disk_command(path: str) -> str:
    return f'df -P {quote(path)} | awk \'NR==2 {{sub("%","",$5); print $5}}\''


def container_command(runtime: str, template: str, container: str) -> str:
    return f"{runtime} inspect -f {quote(template)} {quote(container)} 2>&1"


def log_command(check: a.LogContainsAssertion) -> str:
    lines = check.lines or 200
    if check.container:
        source = f"{check.runtime or 'docker'} logs --tail {lines} {quote(check.container)} 2>&1"
    elif check.unit:
        source = f"journalctl -u {quote(check.unit)} -n {lines} --no-pager -o cat 2>&1"
    else:
        source = f"tail -n {lines} {quote(check.path)} 2>&1"
    return f"{source} | grep -E -c -e {quote(check.pattern)}"
