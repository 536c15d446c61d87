"""The network namespace's own TCP counters (/proc/net/snmp, /proc/net/netstat), the
kernel recorder's events counted against them: what the recorder missed, by kind.

The recorder's tracing programs can miss an event and no count says so (bpftrace's own
count is made by the same programs): seen about 4 times in 750 captures, each time one
event a timer made. The kernel's counters are kept apart from any tracing, per namespace,
and each of these moves exactly once for each event of its kind (measured here over
connects, refusals, aborts, SYNs into a black hole and lossy bulk transfers with GSO:
every count equal). A kind is compared only where that holds: AttemptFails, for one, is
not moved by a close() of a connecting socket, whose SYN_SENT -> CLOSE the recorder sees.
A timer that gives up after an ICMP soft error (a host unreachable) leaves that error in
sk_err, not ETIMEDOUT: TCPAbortOnTimeout would count it as missed (the sandbox's loopback
sends no such ICMP).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from analyzer.sidecar import KernelEvent

# Read by the process that is in the namespace: /proc/self/net is its namespace's.
COUNTER_FILES: Final = (Path("/proc/self/net/snmp"), Path("/proc/self/net/netstat"))


def _set_state(
    old: tuple[str, ...] | None, new: tuple[str, ...] | None, error: str | None = None
) -> Callable[[KernelEvent], int]:
    def count(event: KernelEvent) -> int:
        return int(
            event["kind"] == "set_state"
            and (old is None or event.get("old_state") in old)
            and (new is None or event.get("new_state") in new)
            and (error is None or event.get("socket_error") == error)
        )

    return count


def _syn_retransmission(event: KernelEvent) -> int:
    if event["kind"] == "retransmit_synack":
        return 1
    return int(event["kind"] == "retransmit_skb" and "SYN" in event.get("flags", ""))


def _retransmitted_segments(event: KernelEvent) -> int:
    if event["kind"] == "retransmit_synack":
        return 1
    if event["kind"] == "retransmit_skb" and event.get("error", 0) == 0:
        return event.get("segments", 1)
    return 0


# counter: (what its events are, how many each event adds to it)
COMPARED: Final[dict[str, tuple[str, Callable[[KernelEvent], int]]]] = {
    "Tcp.ActiveOpens": ("connect() calls (CLOSE -> SYN_SENT)", _set_state(("CLOSE",), ("SYN_SENT",))),
    "Tcp.PassiveOpens": ("connections accepted (a child leaving SYN_RECV)", _set_state(("SYN_RECV",), None)),
    "Tcp.EstabResets": (
        "connections ended from ESTABLISHED or CLOSE_WAIT (-> CLOSE)",
        _set_state(("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE",)),
    ),
    "TcpExt.TCPAbortOnTimeout": (
        "connections a timer gave up on (-> CLOSE, ETIMEDOUT)",
        _set_state(None, ("CLOSE",), "ETIMEDOUT"),
    ),
    "Tcp.OutRsts": ("RSTs sent", lambda event: int(event["kind"] == "send_reset")),
    "TcpExt.TCPSynRetrans": ("SYN and SYN/ACK retransmissions", _syn_retransmission),
    "Tcp.RetransSegs": ("segments retransmitted", _retransmitted_segments),
}


def read_counters(files: tuple[Path, ...] = COUNTER_FILES) -> dict[str, int] | None:
    """Every counter of the files, as "Tcp.ActiveOpens": value; None where they cannot be read."""
    counters: dict[str, int] = {}
    try:
        for path in files:
            lines = path.read_text().splitlines()
            # Pairs of lines: "Tcp: Name1 Name2 ...", then "Tcp: value1 value2 ...".
            for names, values in zip(lines[::2], lines[1::2], strict=True):
                prefix = names.split(":", 1)[0]
                for name, value in zip(names.split()[1:], values.split()[1:], strict=True):
                    counters[f"{prefix}.{name}"] = int(value)
    except (OSError, ValueError):
        return None
    return counters


def counted_against(
    before: dict[str, int], after: dict[str, int], events: list[KernelEvent]
) -> dict[str, dict[str, int]]:
    """Per compared counter: what the kernel counted between `before` and `after`, and what
    the recorder's `events` (those made between the two readings) add to it."""
    compared = {}
    for name, (_what, count) in COMPARED.items():
        if name in before and name in after:
            compared[name] = {"kernel": after[name] - before[name], "recorded": sum(count(e) for e in events)}
    return compared


def missed(compared: dict[str, dict[str, int]]) -> dict[str, int]:
    """The kinds of which the kernel counted more than the recorder recorded, by how many."""
    return {name: c["kernel"] - c["recorded"] for name, c in compared.items() if c["kernel"] > c["recorded"]}


def describe_missed(misses: dict[str, int]) -> str:
    """One phrase: '1 of the SYN and SYN/ACK retransmissions (TcpExt.TCPSynRetrans)', ..."""
    return "; ".join(f"{count} of the {COMPARED[name][0]} ({name})" for name, count in misses.items())
