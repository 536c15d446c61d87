"""A traced program's socket calls, as entries of the call log (what `handshake run
--trace-calls` draws in the margins).

strace -f follows every process; -ttt stamps each call with the epoch time (the clock
tcpdump stamps packets with), -T gives its duration, -yy names each descriptor's socket
(`5<TCP:[127.0.0.1:40000->127.0.0.1:5000]>`), so only calls on TCP and UDP sockets are
kept.

Whose each call is goes by its socket, not its process: a threaded server handles each
connection in a thread of its own (strace's pid is the thread's), and one program may be
client and server at once. -yy names a socket by its addresses once it has them
(`<TCP:[local->peer]>`, a listener's `<TCP:[local]>`) and by its inode before
(`<TCP:[90493]>`); a call on an inode-named socket takes the addresses the same descriptor
shows next, before it is closed. A socket is the server's if its local address is one a
listen() was made on (or its port, for a listener on every address), else the client's;
a call on a socket that never had an address goes by its process (the server if it listens
or accepts, else the client). Each call is tagged with its socket (sidecar.CallSocket), so
that a connection's pictures and RST causes take its own calls only (call_sockets.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from analyzer.connections import Side
from analyzer.sidecar import CallRecord, CallSocket

TRACE_ARGS = [
    "-f",
    "-ttt",
    "-T",
    "-yy",
    "-qq",
    # strace as a detached grandchild: the process started is the command itself, whose end
    # (and status) the run waits for, whatever it left running in the background (program.py).
    "-D",
    "-s",
    "40",
    "-e",
    "trace=%network,close,read,write,readv,writev",
]

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<time>\d+\.\d+)\s+(?P<rest>.*)$")
_CALL = re.compile(
    r"^(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|\?)(?P<retfd><\w+:\[(?:[^\]]|\](?!>))*\]>)?"
    r"(?:\s+(?P<errno>E[A-Z0-9]+)\s+\([^)]*\))?.*?(?:<(?P<duration>\d+\.\d+)>)?\s*$"
)
_EXITED = re.compile(
    r"^(?P<pid>\d+)\s+(?:\d+\.\d+\s+)?\+\+\+ (?:exited with (?P<code>\d+)|killed by (?P<signal>SIG\w+))"
)
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")
_SOCKET_FD = re.compile(r"^(?P<fd>\d+)<(?P<kind>TCP|TCPv6|UDP|UDPv6):\[(?P<where>.*)\]>$")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"(\.\.\.)?')

SENDS = {"sendto", "sendmsg", "send", "write", "writev"}
RECEIVES = {"recvfrom", "recvmsg", "recv", "read", "readv"}
DRAWN = {"socket", "bind", "listen", "accept", "accept4", "connect", "setsockopt", "getsockopt", "shutdown",
         "close"} | SENDS | RECEIVES  # fmt: skip
QUIET_ERRORS = {"EAGAIN"}  # a non-blocking socket with nothing to read yet: noise
# ... unless the call blocked that long first: a timeout (SO_SNDTIMEO, SO_RCVTIMEO) the
# program saw, the one error it got.
TIMED_OUT_AFTER = 0.05


@dataclass
class _Traced:
    pid: int
    time: float
    end_time: float
    call: str
    result: str
    errno: str | None
    role: Side | None  # what this call alone says of its process
    fd: int = -1  # the socket it was made on (socket(): the one it made)
    where: str = ""  # -yy's name of it: "local->peer", "local", or an inode
    accepted_fd: int = -1  # accept(): the socket it returned
    accepted_where: str = ""


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
        duration = float(call["duration"]) if call["duration"] else 0.0
        if call["errno"] in QUIET_ERRORS and duration < TIMED_OUT_AFTER:
            continue
        shown, result, errno, role = _describe(name, args, call["ret"], call["retfd"], call["errno"])
        if call["ret"] == "?":
            # It never returned: a signal came (ERESTARTSYS and its kin are the kernel's own,
            # never seen by the program) and the process ended, or the call began again.
            result, errno = "interrupted by a signal", None
        entry = _Traced(pid, time, time + duration, shown, result, errno, role)
        named = _SOCKET_FD.match(call["ret"] + call["retfd"] if made_socket else args[0])
        if named:
            entry.fd, entry.where = int(named["fd"]), named["where"]
        if name in ("accept", "accept4") and call["retfd"]:
            returned = _SOCKET_FD.match(call["ret"] + call["retfd"])
            if returned:
                entry.accepted_fd, entry.accepted_where = int(returned["fd"]), returned["where"]
        traced.append(entry)
    traced.sort(key=lambda t: t.time)
    roles: dict[int, Side] = {}
    for entry in traced:
        if entry.role == "server" or (entry.role == "client" and entry.pid not in roles):
            roles[entry.pid] = entry.role
    _name_inodes(traced)
    listening = {t.where for t in traced if t.call.startswith("listen(") and not t.where.isdigit()}
    socket_roles = _socket_roles(traced)
    ids: dict[str, int] = {}  # a socket's number by its name, while it is open
    numbers = count()  # never reused, as a closed socket's name may be
    records: list[CallRecord] = []
    for t in traced:
        side = t.role or _side(t.where, listening) or socket_roles.get(t.where)
        record: CallRecord = {
            "time": t.time,
            "end_time": t.end_time,
            "side": side or roles.get(t.pid, "client"),
            # As the scenarios log it: the listener_closed rule reads it (findings/resets.py).
            "call": "close() listener" if t.call == "close()" and t.where in listening else t.call,
            "result": t.result,
            "errno": t.errno,
            "socket": _tag(t.fd, t.where, ids, numbers),
        }
        accepted = _tag(t.accepted_fd, t.accepted_where, ids, numbers) if t.accepted_where else None
        if accepted is not None:
            record["accepted"] = accepted
        records.append(record)
        if t.call == "close()":
            ids.pop(t.where, None)  # a later socket of the same addresses (port reuse) is another
    return records


def _name_inodes(traced: list[_Traced]) -> None:
    """An inode-named socket's calls take the addresses its descriptor shows next in the same
    process (thread), before a close() of it (in time order). A close() itself never looks
    ahead: the number is free after it, and the next socket given it is another."""
    for index, entry in enumerate(traced):
        if not entry.where.isdigit() or entry.call == "close()":
            continue
        for later in traced[index + 1 :]:
            if later.fd != entry.fd or later.pid != entry.pid:
                continue
            if not later.where.isdigit():
                entry.where = later.where
                break
            if later.where != entry.where or later.call == "close()":
                break  # closed, or the number given to another socket


def _socket_roles(traced: list[_Traced]) -> dict[str, Side]:
    """The side of each socket a call made plain: a connect() the client's, a listen() or
    accept() the server's (for a socket never named by address: a reset connection's)."""
    roles: dict[str, Side] = {}
    for entry in traced:
        if entry.role is not None and entry.where:
            roles.setdefault(entry.where, entry.role)
    return roles


def _split(where: str) -> tuple[str | None, str | None]:
    """(local, peer) of -yy's name: "local->peer", "local", or an inode (neither)."""
    if where.isdigit():
        return None, None
    local, _, peer = where.partition("->")
    return local, peer or None


def _side(where: str, listening: set[str]) -> Side | None:
    """The server's if the socket's local address is a listener's (its port, for a listener
    on every address); the client's if it is connected otherwise; None: it says nothing."""
    local, peer = _split(where)
    if local is None:
        return None
    port = local.rpartition(":")[2]
    if local in listening or any(
        address.rpartition(":")[2] == port and address.rpartition(":")[0] in ("0.0.0.0", "[::]")
        for address in listening
    ):
        return "server"
    return "client" if peer is not None else None


def _tag(fd: int, where: str, ids: dict[str, int], numbers: Iterator[int]) -> CallSocket | None:
    """The socket as the call log tags it: one number for every call on the same socket."""
    if fd < 0:
        return None
    local, peer = _split(where)
    number = ids.get(where)
    if number is None:
        number = ids[where] = next(numbers)
    return {"id": number, "fd": fd, "local": local, "peer": peer}
