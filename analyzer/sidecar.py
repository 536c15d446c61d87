"""The JSON sidecar written beside each pcap: the scenario, the kernel, the calls, the snapshots.

Its shape is written down once, here, as TypedDicts; `load_sidecar` is the one parser
and checks every field the analysis reads, so that the core reads a sidecar by its keys
without guarding each one, and a broken file is one line naming what is wrong.
"""

# No `from __future__ import annotations`: the TypedDicts' NotRequired keys must be known
# at run time (tests compare them with the parser's checks).
import json
import re
from pathlib import Path
from typing import Any, Final, Literal, NotRequired, TypedDict, cast

from analyzer.errors import UserError
from analyzer.files import STDIN, write_atomically

SIDECAR_SUFFIX = ".sidecar.json"
SCHEMA_VERSION = 1

# Who made a call: an end of the exchange, the sandbox acting on the packets (nftables,
# held packets), or the program `handshake run` ran.
CallSide = Literal["client", "server", "network", "program"]


class CallSocket(TypedDict):
    """The socket a call was made on, as the scenario runner saw it when it logged the call."""

    id: int  # the socket's number in the run: its calls share it (an fd is reused once closed)
    fd: int
    local: str | None  # 127.0.0.1:5000, [::1]:5000 as ss writes them; None: not bound yet
    peer: str | None  # None: not connected (a listener, a UDP server, before connect())


class CallRecord(TypedDict):
    """One socket call as the call log recorded it (scenarios.calls.Call, or strace's)."""

    time: float  # epoch seconds when it was made
    end_time: float  # when it returned or raised
    side: CallSide
    call: str  # e.g. "connect(127.0.0.1:5000)"
    result: str  # "ok", "ECONNREFUSED", "b'hello' (5 bytes)", ...
    errno: str | None
    # The socket it was made on; None: on none (a sleep, a wait, a firewall rule). Absent: a
    # log from before calls were tagged, or strace's: call_sockets then goes by time alone.
    socket: NotRequired[CallSocket | None]
    accepted: NotRequired[CallSocket]  # accept(): the socket it returned


class SocketState(TypedDict):
    """One line of `ss -tan`: a socket's state and its addresses as ss writes them."""

    state: str
    local: str  # 127.0.0.1:5000, [::1]:5000
    peer: str
    recv_q: NotRequired[int | None]
    send_q: NotRequired[int | None]


class Snapshot(TypedDict):
    """The kernel's sockets in the namespace, asked after a call (or while one blocks)."""

    time: float  # when ss started
    end_time: NotRequired[float]  # when it ended
    after_call: int  # index into calls of the last call that had ended (-1: none yet)
    during_call: NotRequired[int | None]  # index the call still running took when it ended
    sockets: list[SocketState]


# What the kernel recorder (capture/kernel_trace.py) names each event after: the tracepoint
# it comes from, or, for request_synack, what it marks (a request socket's SYN/ACK leaving).
KernelEventKind = Literal[
    "set_state",
    "send_reset",
    "receive_reset",
    "retransmit_skb",
    "retransmit_synack",
    "request_synack",
    "kfree_skb",
]


class KernelEvent(TypedDict):
    """One thing the kernel did in the sandbox's namespace, as its tracepoint reported it.
    States are the kernel's (SYN_RECV, FIN_WAIT1, CLOSE, NEW_SYN_RECV...), not RFC 9293's."""

    time: float  # epoch seconds, the pcap's clock (from the kernel's BOOTTIME stamp)
    boottime_ns: int  # the kernel's own stamp: orders events closer than a float can
    kind: KernelEventKind
    # The kernel's address of the socket (hex): the same across its events while it lives,
    # reused once it is freed; None: no socket.
    socket: str | None
    family: int  # 4 or 6
    src: str  # a socket's own end; for a packet (send_reset, kfree_skb), its sender
    sport: int
    dst: str
    dport: int
    old_state: NotRequired[str | None]  # set_state
    new_state: NotRequired[str | None]  # set_state
    sock_done: NotRequired[bool]  # set_state: the peer's FIN had been received (SOCK_DONE)
    # set_state: the socket's pending error (sk_err, "ETIMEDOUT": a timer gave up), None: none
    socket_error: NotRequired[str | None]
    # The socket's state as the tracepoint saw it (send_reset: after an abort's change to
    # CLOSE; kfree_skb: the receiving socket's); None: no socket.
    state: NotRequired[str | None]
    reason: NotRequired[str | None]  # send_reset: sk_rst_reason; kfree_skb: skb_drop_reason
    seq: NotRequired[int]  # retransmit_skb, kfree_skb: the segment's sequence number
    flags: NotRequired[str]  # retransmit_skb, kfree_skb: "SYN", "FIN/ACK", ...
    error: NotRequired[int]  # retransmit_skb: what the retransmission returned (0: sent)
    segments: NotRequired[int]  # retransmit_skb: the segments it carried (GSO: more than one)
    request: NotRequired[str | None]  # retransmit_synack: the request socket (socket: its listener)
    timewait_substate: NotRequired[str | None]  # kfree_skb at a TIME_WAIT socket: FIN_WAIT2 or TIME_WAIT


class KernelRecorderInfo(TypedDict):
    """How the kernel recorder went: attached or why not, and whether its account is whole."""

    engine: str  # "bpftrace"
    command: list[str]
    attached: bool
    why_not: str | None  # one line, when it did not attach
    attached_at: float | None  # epoch seconds when its probes were confirmed attached
    attach_seconds: float | None  # from its start to that confirmation
    events: int  # kernel_events written
    counted: int | None  # events the kernel counted (bpftrace's END, when it printed it in time)
    lost: int | None  # events made and not read (0: the account is whole); None: not attached
    complete: bool  # a last marker was read back: every event before it was read
    stop_seconds: float | None  # from the scenario's end to bpftrace ended
    netns_inode: int
    boottime_to_epoch_ns: int | None  # REALTIME - BOOTTIME at its start
    clock_drift_ns: int | None  # how that moved by its stop
    has_rst_reason: bool  # whether this kernel names the reason of each RST it sends (6.10 on)
    # The namespace's own counters against the events (capture/namespace_counters.py):
    # "Tcp.ActiveOpens": {"kernel": 3, "recorded": 3}; missed: the kinds it lacks, by how many.
    counters: NotRequired[dict[str, dict[str, int]]]
    missed: NotRequired[dict[str, int]]
    messages: list[str]  # what bpftrace said besides its events


class Sidecar(TypedDict):
    schema_version: NotRequired[int]
    calls: list[CallRecord]
    snapshots: list[Snapshot]
    sysctls: NotRequired[dict[str, str | None]]  # the namespace's TCP settings
    scenario: NotRequired[str]
    summary: NotRequired[str]
    family: NotRequired[int]
    parameters: NotRequired[dict[str, Any]]
    facts: NotRequired[dict[str, Any]]
    kernel: NotRequired[dict[str, str]]  # release, machine
    sysctls_set: NotRequired[dict[str, str]]
    sysctls_missing: NotRequired[list[str]]
    firewall: NotRequired[list[Any]]
    recorder: NotRequired[dict[str, Any]]
    started: NotRequired[float]
    finished: NotRequired[float]
    processes_ended: NotRequired[Any]
    kernel_recorder: NotRequired[KernelRecorderInfo]
    kernel_events: NotRequired[list[KernelEvent]]


# The kernel settings the analysis reads as numbers (the rest it only shows).
SYN_LINEAR_TIMEOUTS: Final = "net.ipv4.tcp_syn_linear_timeouts"
NUMERIC_SYSCTLS: Final = (SYN_LINEAR_TIMEOUTS,)

# errno values a call log records that are not failures: a non-blocking connect() under way.
NOT_FAILURES = {"EINPROGRESS"}


def calls_of(sidecar: Sidecar | None) -> list[CallRecord]:
    """The call log, empty without a sidecar."""
    return sidecar["calls"] if sidecar is not None else []


def recording_end(sidecar: Sidecar) -> float | None:
    """The latest moment the sidecar shows the recording still running: the last call's
    return and the last kernel snapshot, both made while tcpdump recorded (it starts before
    the first call and stops after the last). Past the file's last frame, nothing was sent."""
    times = [call["end_time"] for call in sidecar["calls"]]
    times += [snapshot.get("end_time", snapshot["time"]) for snapshot in sidecar.get("snapshots", [])]
    return max(times) if times else None


def call_failed(call: CallRecord) -> bool:
    """Whether a call of the sidecar's log failed (an errno that is an error)."""
    return bool(call["errno"]) and call["errno"] not in NOT_FAILURES


_BYTES = re.compile(r"\((\d+) bytes\)$")


def call_bytes(call: CallRecord) -> int | None:
    """How many bytes a call's result says it carried ("b'hello' (5 bytes)"); None when it
    says nothing of bytes."""
    found = _BYTES.search(call["result"])
    return int(found.group(1)) if found else None


def sidecar_path_for(pcap: Path) -> Path:
    return pcap.with_name(pcap.stem + SIDECAR_SUFFIX)


def find_sidecar(pcap: str | Path) -> Path | None:
    if str(pcap) == STDIN:  # a piped capture has nothing beside it
        return None
    candidate = sidecar_path_for(Path(pcap))
    return candidate if candidate.is_file() else None


def sidecar_beside(pcap: str | Path) -> Sidecar | None:
    """The sidecar next to a capture, loaded, or None when there is none."""
    found = find_sidecar(pcap)
    return load_sidecar(found) if found else None


def load_sidecar(path: str | Path) -> Sidecar:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such sidecar file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a JSON sidecar ({error})") from None
    if not isinstance(document, dict) or "calls" not in document:
        raise UserError(f"{path}: not a handshake-analyzer sidecar (no 'calls')")
    problem = _problem(document)
    if problem:
        raise UserError(f"{path}: not a handshake-analyzer sidecar ({problem})")
    return cast(Sidecar, document)


_NUMBER = (int, float)
# What the analysis reads of each record, and the types it takes them for.
_CALL_FIELDS: dict[str, tuple[type, ...]] = {
    "time": _NUMBER, "end_time": _NUMBER, "side": (str,), "call": (str,), "result": (str,),
    "errno": (str, type(None)),
}  # fmt: skip
_OPTIONAL_CALL_FIELDS: dict[str, tuple[type, ...]] = {"socket": (dict, type(None)), "accepted": (dict,)}
_CALL_SOCKET_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (int,), "fd": (int,), "local": (str, type(None)), "peer": (str, type(None)),
}  # fmt: skip
_SNAPSHOT_FIELDS: dict[str, tuple[type, ...]] = {"time": _NUMBER, "after_call": (int,), "sockets": (list,)}
_OPTIONAL_SNAPSHOT_FIELDS: dict[str, tuple[type, ...]] = {
    "end_time": _NUMBER,
    "during_call": (int, type(None)),
}
_SOCKET_FIELDS: dict[str, tuple[type, ...]] = {"state": (str,), "local": (str,), "peer": (str,)}
# What later readers of the kernel's account rely on in every event.
_KERNEL_EVENT_FIELDS: dict[str, tuple[type, ...]] = {
    "time": _NUMBER, "boottime_ns": (int,), "kind": (str,), "socket": (str, type(None)), "family": (int,),
    "src": (str,), "sport": (int,), "dst": (str,), "dport": (int,),
}  # fmt: skip


def _problem(document: dict) -> str | None:
    """What is wrong with a sidecar's fields, said in a few words; None when nothing is."""
    document.setdefault("snapshots", [])
    for key, kind in (("calls", list), ("snapshots", list), ("sysctls", dict), ("kernel_events", list),
                      ("kernel_recorder", dict)):  # fmt: skip
        if key in document and not isinstance(document[key], kind):
            return f"'{key}' is not a {kind.__name__}"
    for name, value in document.get("sysctls", {}).items():
        if value is not None and not isinstance(value, str):
            return f"sysctl {name} is not a string"
        if name in NUMERIC_SYSCTLS and value is not None and not value.strip().isdigit():
            return f"sysctl {name} is not a number ({value!r})"
    calls = document["calls"]
    for index, call in enumerate(calls):
        wrong = _wrong_fields(call, _CALL_FIELDS, _OPTIONAL_CALL_FIELDS)
        if wrong:
            return f"calls[{index}] {wrong}"
        for key in ("socket", "accepted"):
            if call.get(key) is not None:
                wrong = _wrong_fields(call[key], _CALL_SOCKET_FIELDS, {})
                if wrong:
                    return f"calls[{index}].{key} {wrong}"
    for index, snapshot in enumerate(document["snapshots"]):
        wrong = _wrong_fields(snapshot, _SNAPSHOT_FIELDS, _OPTIONAL_SNAPSHOT_FIELDS)
        if wrong:
            return f"snapshots[{index}] {wrong}"
        during = snapshot.get("during_call")
        if not (during is not None and 0 <= during < len(calls)) and not 0 <= snapshot["after_call"] < len(
            calls
        ):
            return f"snapshots[{index}] names no call of the {len(calls)} logged"
        for number, socket in enumerate(snapshot["sockets"]):
            wrong = _wrong_fields(socket, _SOCKET_FIELDS, {})
            if wrong:
                return f"snapshots[{index}].sockets[{number}] {wrong}"
    for index, event in enumerate(document.get("kernel_events", [])):
        wrong = _wrong_fields(event, _KERNEL_EVENT_FIELDS, {})
        if wrong:
            return f"kernel_events[{index}] {wrong}"
    return None


def _wrong_fields(
    record: object, required: dict[str, tuple[type, ...]], optional: dict[str, tuple[type, ...]]
) -> str | None:
    if not isinstance(record, dict):
        return "is not an object"
    for key, kinds in required.items():
        if key not in record:
            return f"has no '{key}'"
        if not isinstance(record[key], kinds) or isinstance(record[key], bool):
            return f"has a '{key}' of the wrong type"
    for key, kinds in optional.items():
        if key in record and (not isinstance(record[key], kinds) or isinstance(record[key], bool)):
            return f"has a '{key}' of the wrong type"
    return None


def write_json(path: Path, document: dict | Sidecar) -> None:
    """Write whole or not at all: a reader never sees half a file."""
    text = json.dumps(document, indent=1, sort_keys=False) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text))
