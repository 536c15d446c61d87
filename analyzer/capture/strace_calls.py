"""A traced program's socket calls, as entries of the call log (what `handshake run
--trace-calls` draws in the margins).

strace -f follows every process; -ttt stamps each call with the epoch time (the clock
tcpdump stamps packets with), -T gives its duration, -yy names each descriptor's socket
(`5<TCP:[127.0.0.1:40000->127.0.0.1:5000]>`), so only calls on TCP and UDP sockets are
kept. A process is the server if it listens or accepts, else the client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.connections import Side
from analyzer.sidecar import CallRecord

TRACE_ARGS = [
    "-f",
    "-ttt",
    "-T",
    "-yy",
    "-qq",
    "-s",
    "40",
    "-e",
    "trace=%network,close,read,write,readv,writev",
]

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<time>\d+\.\d+)\s+(?P<rest>.*)$")
_CALL = re.compile(
    r"^(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|\?)(?P<retfd><\w+:\[[^\]]*\]>)?"
    r"(?:\s+(?P<errno>E[A-Z0-9]+)\s+\([^)]*\))?.*?(?:<(?P<duration>\d+\.\d+)>)?\s*$"
)
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")
_SOCKET_FD = re.compile(r"^(?P<fd>\d+)<(?P<kind>TCP|TCPv6|UDP|UDPv6):\[(?P<where>[^\]]*)\]>")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"(\.\.\.)?')

SENDS = {"sendto", "sendmsg", "send", "write", "writev"}
RECEIVES = {"recvfrom", "recvmsg", "recv", "read", "readv"}
DRAWN = {"socket", "bind", "listen", "accept", "accept4", "connect", "setsockopt", "getsockopt", "shutdown",
         "close"} | SENDS | RECEIVES  # fmt: skip
QUIET_ERRORS = {"EAGAIN"}  # a non-blocking socket with nothing to read yet: noise


@dataclass
class _Traced:
    pid: int
    time: float
    end_time: float
    call: str
    result: str
    errno: str | None
    role: Side | None  # what this call alone says of its process


def _address(args: str) -> str:
    port = _PORT.search(args)
    found = _ADDRESS.search(args)
    if not port or not found:
        return ""
    host = found.group(1) or found.group(2)
    return f"[{host}]:{port.group(1)}" if ":" in host else f"{host}:{port.group(1)}"


def _arguments(args: str) -> list[str]:
    """Top-level comma-separated arguments (braces, brackets and strings kept whole)."""
    parts, depth, current, quoted, escaped = [], 0, [], False, False
    for char in args:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if current:
        parts.append("".join(current).strip())
    return parts


def _describe(
    name: str, args: list[str], ret: str, retfd: str | None, errno: str | None
) -> tuple[str, str, str | None, Side | None]:
    """(call as drawn, result, errno, role) of one traced call."""
    failed = errno is not None and ret.startswith("-")
    result = errno if errno is not None and failed else "ok"
    role: Side | None = None
    if name == "socket":
        kind = "SOCK_DGRAM" if "SOCK_DGRAM" in (args[1] if len(args) > 1 else "") else "SOCK_STREAM"
        return f"socket({kind})", result if failed else f"fd {ret}", errno, None
    if name in ("bind", "connect"):
        role = "client" if name == "connect" else None
        return f"{name}({_address(args[1] if len(args) > 1 else '')})", result, errno, role
    if name == "listen":
        return f"listen({args[1] if len(args) > 1 else ''})", result, errno, "server"
    if name in ("accept", "accept4"):
        peer = (retfd or "").rsplit(":", 1)[-1].rstrip("]>")  # <TCP:[local->peer:port]>
        return "accept()", result if failed else f"fd {ret} from port {peer}", errno, "server"
    if name in ("setsockopt", "getsockopt"):
        option = args[2] if len(args) > 2 else "?"
        value = args[3].strip("[]") if len(args) > 3 else ""
        if name == "getsockopt" and option == "SO_ERROR":
            # How a non-blocking connect() learns its fate: the error is what the program saw.
            seen = value if value.startswith("E") else None
            return "getsockopt(SO_ERROR)", seen or (result if failed else "0"), seen or errno, None
        return (
            f"{name}({option}, {value})" if name == "setsockopt" else f"getsockopt({option})",
            result,
            errno,
            None,
        )
    if name == "shutdown":
        return f"shutdown({args[1] if len(args) > 1 else ''})", result, errno, None
    if name == "close":
        return "close()", result, errno, None
    data = _STRING.match(args[1]) if len(args) > 1 else None
    shown = f'"{data.group(1)}"{data.group(2) or ""}' if data else ""
    if name in SENDS:
        return f"send({shown})", result if failed else f"ok ({ret} bytes)", errno, None
    if name in RECEIVES:
        return "recv()", result if failed else f"{shown} ({ret} bytes)", errno, None
    return f"{name}()", result, errno, None


def _joined(lines: list[str]) -> list[tuple[int, float, str]]:
    """(pid, start time, whole call text), an interrupted call joined with its resumption."""
    pending: dict[int, tuple[float, str]] = {}
    calls = []
    for line in lines:
        found = _LINE.match(line.strip())
        if not found:
            continue
        pid, time, rest = int(found["pid"]), float(found["time"]), found["rest"]
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (time, rest[: -len("<unfinished ...>")].rstrip())
            continue
        resumed = _RESUMED.match(rest)
        if resumed:
            if pid not in pending:
                continue
            time, start = pending.pop(pid)
            rest = start + resumed["rest"]
        calls.append((pid, time, rest))
    return calls


def calls_from_strace(text: str) -> list[CallRecord]:
    """The call log entries (time, end_time, side, call, result, errno) of a trace."""
    traced: list[_Traced] = []
    for pid, time, rest in _joined(text.splitlines()):
        call = _CALL.match(rest)
        if not call:
            continue
        name, args = call["name"], _arguments(call["args"])
        if name not in DRAWN or (name == "getsockopt" and "SO_ERROR" not in call["args"]):
            continue
        on_socket = bool(args and _SOCKET_FD.match(args[0]))
        made_socket = name == "socket" and bool(
            call["retfd"] and _SOCKET_FD.match(call["ret"] + call["retfd"])
        )
        if not (on_socket or made_socket):
            continue
        if call["errno"] in QUIET_ERRORS:
            continue
        shown, result, errno, role = _describe(name, args, call["ret"], call["retfd"], call["errno"])
        duration = float(call["duration"]) if call["duration"] else 0.0
        traced.append(_Traced(pid, time, time + duration, shown, result, errno, role))
    roles: dict[int, Side] = {}
    for entry in traced:
        if entry.role == "server" or (entry.role == "client" and entry.pid not in roles):
            roles[entry.pid] = entry.role
    return [
        {
            "time": t.time,
            "end_time": t.end_time,
            "side": roles.get(t.pid, "client"),
            "call": t.call,
            "result": t.result,
            "errno": t.errno,
        }
        for t in sorted(traced, key=lambda t: t.time)
    ]
