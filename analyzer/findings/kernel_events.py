"""Kernel ground truth, second witness: the analysis against the kernel's own account of the
connection (the sidecar's kernel_events, from tracepoints: capture/kernel_trace.py).

kernel_agreement.py compares the inferred states with `ss` snapshots, states sampled at
instants and looked up. This module reads the kernel's whole history instead, every
change at the moment it happened, and so needs a model (kernel_model below) and an
alignment rather than a lookup; both end in the one KernelAgreement of kernel_agreement.py
(this one's result as its `events`, set by analysis.apply_sidecar).

What is compared, per connection:
- state changes: each end's inferred changes (with their frames) matched, in order and by
  state, to the kernel's, with the time difference (kernel minus capture); a change on one
  side only, or a pair further apart than MATCH_WINDOW, is a disagreement, but where the
  end's own call spans both the kernel's change and the frame it sent (`within_call`);
- RSTs: each RST's inferred cause (findings/resets.py) beside the reason the kernel gave
  for sending it (tcp_send_reset's sk_rst_reason); a cause agrees when the reason is one
  RESET_REASONS allows for it; a RST the kernel sent that the capture lacks disagrees;
- retransmissions: every segment the analysis calls resent (findings/resends.py) or a
  retransmission (findings/retransmissions.py) beside the kernel's tcp_retransmit_skb or
  tcp_retransmit_synack, and every kernel retransmission beside a captured resend;
- drops: every packet the kernel freed undelivered with a reason, or that a TIME_WAIT
  socket took, named with the frame; one the analysis applied to its receiver (moved its
  state) disagrees.

The model (../shared/kernel-tracepoints.md, measured on kernel 6.18), kernel states turned
into RFC 9293's:
- a server's SYN_RCVD lives in a request socket, which has no state change: the first
  SYN/ACK leaving it (`request_synack`) is the change; the child socket's LISTEN->SYN_RECV
  at the final ACK repeats it;
- TIME_WAIT has no state change: the full socket goes X->CLOSE when a timewait socket
  takes its place. X = CLOSING, or FIN_WAIT2 with SOCK_DONE (the peer's FIN came), is
  TIME_WAIT; FIN_WAIT2 without it is an orphan handed over in substate FIN_WAIT2 (the
  state stays), whose FIN_WAIT2->TIME_WAIT shows when a timewait socket in substate
  TIME_WAIT frees the peer's FIN; a timewait socket that sends or takes a RST is gone;
- X->CLOSE with a RST sent or received by the socket is CLOSED whatever X was; a request
  socket that sends or takes a RST is dropped (tcp_check_req's embryonic_reset): CLOSED;
- a client socket's CLOSE->SYN_SENT has no port yet: its socket address ties it to the
  socket's later events.

Explained limits, listed apart from the disagreements (`explained`): the FIN_WAIT_2 timer's
move of an orphan, which the kernel makes in a timewait socket no tracepoint reports, and the
end of a TIME_WAIT at the next connection's SYN on the 4-tuple, for the same reason; a copy of a held
packet the sandbox delivers late (the call log's `network deliver ...`) is a retransmission
on the wire and none in the kernel; a close() whose FIN waits behind unsent data (a full
peer window) moves its end (FIN_WAIT_1, or LAST_ACK from CLOSE_WAIT) with no packet, and
all that end's differences after it follow from that; a retransmission whose
tcp_retransmit_skb event the recorder missed (no count says so) while the kernel's kfree_skb
of that very copy shows it sent again; an orphan's FIN_WAIT_2 whose FIN_WAIT1->FIN_WAIT2 the
recorder missed, while its timewait socket later took the peer's FIN in substate FIN_WAIT2.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from analyzer.call_sockets import address_endpoint, calls_on
from analyzer.connections import Connection, Side, peer_of
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment, flag_names
from analyzer.findings.handshake import open_answers
from analyzer.findings.resets import Reset, ResetCause
from analyzer.sidecar import CallRecord, KernelEvent
from analyzer.tcp_state import State, Step

# The kernel acts within tens of µs of the packet reaching the capture on loopback (60-80 µs
# before, for what an end does itself; 18-60 µs after, for a SYN/ACK): a pair further apart
# than this is not the same change, nor the same RST, retransmission or drop.
MATCH_WINDOW: Final = 0.010
# A packet the kernel frees after the capture point was captured before: on loopback the
# capture is at the sender's transmit and the drop in the receiver's input, microseconds on.
# The slack covers the pcap's microsecond stamps and the clocks' alignment (kernel_trace.py).
DROP_CAPTURED_SLACK: Final = 0.000030
# How long a queue between the kernel and the capture point (a qdisc: tbf's latency, netem's
# delay) may hold a copy the kernel sent, where no event lies nearer its frame.
QUEUE_HOLD: Final = 2.0
# A change no packet caused (a timeout the call log shows) is timed by the call's return,
# which follows the kernel's change by the scheduler's delay: 8 ms measured on a loaded machine.
CALL_MATCH_WINDOW: Final = 0.100
# Kernel events this long before the connection's first packet and after its last belong to
# it (the client's SYN_SENT comes before its SYN; the last ACK's effect after it).
EVENT_MARGIN: Final = 0.050
# The client's CLOSE->SYN_SENT comes before its SYN reaches the capture (60-80 µs on
# loopback): one up to this long after the connection's first packet is still its own.
BIRTH_SLACK: Final = 0.001
# The client's CLOSE->SYN_SENT comes before its SYN is captured (14-80 us on loopback): of
# the changes of connections on one 4-tuple a connection every 100 us (helper-102's x14), its
# own is the latest by its first packet, this much after allowed for the clocks' alignment.
BIRTH_EPSILON: Final = 0.000020

# The kernel's state names (include/net/tcp_states.h, as the recorder writes them) in RFC
# 9293's; CLOSE is handled by the model.
_RFC: Final = {
    "ESTABLISHED": State.ESTABLISHED, "SYN_SENT": State.SYN_SENT, "SYN_RECV": State.SYN_RCVD,
    "FIN_WAIT1": State.FIN_WAIT_1, "FIN_WAIT2": State.FIN_WAIT_2, "TIME_WAIT": State.TIME_WAIT,
    "CLOSE": State.CLOSED, "CLOSE_WAIT": State.CLOSE_WAIT, "LAST_ACK": State.LAST_ACK,
    "LISTEN": State.LISTEN, "CLOSING": State.CLOSING, "NEW_SYN_RECV": State.SYN_RCVD,
}  # fmt: skip

# The reasons of the MPTCP layer's RSTs (include/net/rstreason.h: MP_TCPRST's codes).
_MPTCP_REASONS: Final = frozenset(
    f"MPTCP_RST_{code}"
    for code in ("EUNSPEC", "EMPTCP", "ERESOURCE", "EPROHIBIT", "EWQ2BIG", "EBADPERF", "EMIDDLEBOX")
)

# The kernel's RST reasons (sk_rst_reason) each inferred cause stands for: where the cause
# is what the kernel did, in its words. Measured over the catalogue (../shared/
# kernel-tracepoints.md) and read in net/ipv4/tcp_input.c, tcp_minisocks.c, tcp.c.
RESET_REASONS: Final[dict[ResetCause, frozenset[str]]] = {
    # nothing listens: tcp_v4_rcv finds no socket
    "refused": frozenset({"NO_SOCKET"}),
    # tcp_check_req, the accept queue full with tcp_abort_on_overflow: embryonic_reset
    "accept_queue_overflow": frozenset({"INVALID_SYN"}),
    # both FINs sent: a timewait socket (or none left) answers
    "after_close": frozenset({"NO_SOCKET", "TCP_TIMEWAIT_SOCKET", "TCP_ABORT_ON_DATA"}),
    # No connection left for the 4-tuple: no socket at all (NO_SOCKET), or only a listener on
    # the port, which answers an ACK with RST (tcp_rcv_state_process in LISTEN: TCP_FLAGS).
    "fin_wait_2_expired": frozenset({"NO_SOCKET", "TCP_FLAGS"}),
    # the closed socket, still full (ABORT_ON_DATA) or already a timewait socket in substate
    # FIN_WAIT2 (TIMEWAIT_SOCKET), answers data
    "data_after_close": frozenset({"TCP_ABORT_ON_DATA", "TCP_TIMEWAIT_SOCKET"}),
    "no_connection": frozenset({"NO_SOCKET", "TCP_TIMEWAIT_SOCKET", "TCP_FLAGS"}),
    "after_reset": frozenset({"NO_SOCKET", "TCP_FLAGS"}),
    "connect_abandoned": frozenset({"NO_SOCKET"}),
    # SYN_SENT answering an ACK that does not acknowledge its SYN (tcp_rcv_synsent_state_process)
    "challenge_ack_answer": frozenset({"TCP_INVALID_ACK_SEQUENCE"}),
    "keep_alive_timeout": frozenset({"TCP_KEEPALIVE_TIMEOUT"}),
    # Linux gives up retransmitting without a RST (tcp_write_err): another stack's
    "retransmission_give_up": frozenset(),
    # made on the path, not by the kernel: no reason of its
    "injected": frozenset(),
    # an application's abort: close() with unread data (ABORT_ON_CLOSE), SO_LINGER {1, 0}
    # (close() through tcp_disconnect: TCP_STATE), memory, TCP_LINGER2 < 0, disconnect; or,
    # where its answers were dropped after the capture point, the keep-alive timer's (the
    # packets cannot tell: resets.py), which refine_with_kernel_reasons then names
    "abort": frozenset(
        {
            "TCP_ABORT_ON_CLOSE",
            "TCP_STATE",
            "TCP_ABORT_ON_MEMORY",
            "TCP_ABORT_ON_LINGER",
            "TCP_DISCONNECT_WITH_DATA",
            "TCP_KEEPALIVE_TIMEOUT",
        }
    ),
    "linger_abort": frozenset({"TCP_STATE"}),
    # the MPTCP layer's resets (include/net/rstreason.h, MP_TCPRST's codes), MP_FASTCLOSE's
    # as the abort it is
    "mptcp_subflow_reset": _MPTCP_REASONS,
    "mptcp_fastclose": _MPTCP_REASONS | {"TCP_ABORT_ON_CLOSE", "TCP_STATE", "TCP_ABORT_ON_MEMORY"},
    # the listener's close() disconnects each child still queued (inet_csk_listen_stop)
    "listener_closed": frozenset({"TCP_STATE"}),
    "unread_data": frozenset({"TCP_ABORT_ON_CLOSE"}),
}

# What the kernel's reason tells of an application's abort the packets alone leave open
# (resets.py's "abort": close() with unread data, SO_LINGER 0, a listener's close, ss -K):
# the cause it settles (None: still an abort) and the words for it. Read in net/ipv4/tcp.c:
# __tcp_close resets for unread data with TCP_ABORT_ON_CLOSE before it looks at SO_LINGER;
# tcp_disconnect (SO_LINGER {on, 0}, inet_csk_listen_stop's children, tcp_abort) with TCP_STATE.
_ABORT_REASONS: Final[dict[str, tuple[ResetCause | None, str]]] = {
    "TCP_ABORT_ON_CLOSE": (
        "unread_data",
        "the {sender}'s socket closed (close() or its process's exit) with data it had not read: "
        "the kernel answers with RST (its reason TCP_ABORT_ON_CLOSE)",
    ),
    "TCP_STATE": (
        None,
        "the {sender} aborted through tcp_disconnect (the kernel's reason TCP_STATE): close() with "
        "SO_LINGER {{on, 0 s}}, its listener closed while it waited unaccepted in the accept queue, or "
        "the kernel's own abort (ss -K); not data left unread",
    ),
    "TCP_ABORT_ON_MEMORY": (
        None,
        "the {sender}'s kernel aborted it for memory (too many orphaned sockets, tcp_max_orphans, or "
        "socket memory exhausted; its reason TCP_ABORT_ON_MEMORY)",
    ),
    # An abort on the cadence of keep-alives the peer answered (resets.py): its timer's.
    "TCP_KEEPALIVE_TIMEOUT": (
        "keep_alive_timeout",
        "the {sender}'s keep-alive timer gave up and reset the connection (the kernel's reason "
        "TCP_KEEPALIVE_TIMEOUT): the answers to its last probes, captured, never reached it (dropped after "
        "the capture point)",
    ),
}


def refine_with_kernel_reasons(
    connection: Connection, resets: list[Reset], reasons: list[ResetReason], events: list[KernelEvent]
) -> None:
    """An abort the call log did not tell apart (`handshake run` without --trace-calls), told
    by the reason the kernel gave for it (_ABORT_REASONS) and, for TCP_STATE, by the server's
    listener closing just before (its LISTEN->CLOSE): the connection waited in its accept
    queue. Its ResetReason follows."""
    by_frame = {reason.frame: reason for reason in reasons}
    port = connection.server[1]
    listener_closed = [
        e["time"]
        for e in events
        if e["kind"] == "set_state" and e.get("old_state") == "LISTEN" and e.get("new_state") == "CLOSE"
        and e["sport"] == port and _host(e["src"]) in (_host(connection.server[0]), "0.0.0.0", "::")
    ]  # fmt: skip
    for reset in resets:
        reason = by_frame.get(reset.segment.frame)
        if reset.cause != "abort" or reason is None or reason.kernel_reason not in _ABORT_REASONS:
            continue
        sent = reason.kernel_time if reason.kernel_time is not None else reset.segment.time
        if (
            reason.kernel_reason == "TCP_STATE"
            and reset.sender == "server"
            and any(0 <= sent - closed <= CALL_MATCH_WINDOW for closed in listener_closed)
        ):
            reset.cause = reason.cause = "listener_closed"
            reset.explanation = (
                "the server closed its listening socket while this connection waited in the accept queue, "
                "never accepted: the kernel resets every connection still queued (its listener's "
                "LISTEN->CLOSE just before, its reason TCP_STATE)"
            )
            continue
        cause, words = _ABORT_REASONS[reason.kernel_reason]
        if cause is not None:
            reset.cause = reason.cause = cause
        reset.explanation = words.format(sender=reset.sender)


# Drop reasons that are not a loss: the socket went away with the packet queued.
_NOT_DROPS: Final = frozenset({"NOT_SPECIFIED", "QUEUE_PURGE"})
# Freed for what it carried after its ACK was taken: tcp_rcv_state_process runs tcp_ack (a
# FIN_WAIT_1 end's move to FIN_WAIT_2 included) before it resets on data sent to a socket
# that has shut down reading. The move the analysis reports for it is the kernel's too.
# So is a segment all of whose data (or SYN) it had taken before: tcp_data_queue drops it as
# TCP_OLD_DATA after tcp_ack took its ACK (a simultaneous open's SYN/ACK moves its receiver to
# ESTABLISHED, then is freed for its SYN).
_ACK_TAKEN: Final = frozenset({"TCP_ABORT_ON_DATA", "TCP_OLD_DATA"})
_RETRANSMISSION_KINDS: Final = frozenset({"retransmission", "fast_retransmission", "spurious_retransmission"})

Endpoint = tuple[str, int]
# An end's call that moves it on the connection's socket: start, end, the call, the frames it
# sent, the states it makes.
OwnCall = tuple[float, float, str, frozenset[int], frozenset[State]]


@dataclass
class StateMatch:
    """An inferred state change and the kernel's, as paired (either may be missing)."""

    side: Side
    state: str
    inferred_time: float | None
    frame: int | None
    kernel_time: float | None
    kernel_event: str | None  # what showed it: "ESTABLISHED->FIN_WAIT1", "request SYN/ACK", ...
    # The end's own call both the kernel's change and the frame that shows it fell within
    # (connect() for SYN_SENT, close() for FIN_WAIT_1): the kernel changes the state when the
    # call begins and the packet leaves when the call next has the CPU, later by however long
    # a loaded machine kept it waiting. None: not so, or not needed.
    within_call: str | None = None
    # For FIN_WAIT_1 or LAST_ACK, the kernel's change at close() well before the FIN's frame:
    # how many data segments its end sent in between, the data queued before the FIN (a
    # close() after a large send returns at once; the FIN leaves when the data has). 0: not so.
    behind_data: int = 0

    @property
    def difference(self) -> float | None:
        if self.inferred_time is None or self.kernel_time is None:
            return None
        return self.kernel_time - self.inferred_time

    @property
    def agrees(self) -> bool:
        """Both made the change, close enough to be the same one: a frame's within MATCH_WINDOW
        or within the call that made it, a call's within CALL_MATCH_WINDOW (what
        _compare_states judges by)."""
        if self.difference is None:
            return False
        if self.within_call is not None or self.behind_data:
            return True
        return abs(self.difference) <= (MATCH_WINDOW if self.frame is not None else CALL_MATCH_WINDOW)

    def as_dict(self) -> dict:
        return {**vars(self), "difference": self.difference}


@dataclass
class ResetReason:
    frame: int
    time: float
    sender: Side
    cause: str
    kernel_reason: str | None  # None: the kernel sent no such RST (or gave no reason)
    kernel_time: float | None
    agrees: bool | None  # None: not judged (no reason to judge by, or the cause is unknown)
    # Whether the peer's socket took it (tcp_receive_reset, or its timewait socket freed it);
    # None: the kernel's peer had no full socket then (none, a listener, a request socket).
    kernel_received: bool | None = None


@dataclass
class Retransmission:
    frame: int | None  # None: the kernel retransmitted what the capture does not show resent
    time: float  # the frame's time, else the kernel's
    side: Side
    what: str  # "SYN", "SYN/ACK", "data at 1001", ...
    kernel_time: float | None  # None: the kernel did not retransmit it


@dataclass
class Drop:
    frame: int | None
    time: float
    sender: Side
    flags: str
    reason: str  # the kernel's drop reason, or TIME_WAIT_SOCKET for a segment a timewait socket took
    receiver_state: str | None  # the kernel's state of the socket that freed it


@dataclass
class EventDisagreement:
    time: float
    side: Side
    what: str
    # What one witness did that the other lacks, for what a missing packet or a lost event
    # explains (_explain_missing; not in the JSON): the kernel's time of a change, RST or
    # retransmission the capture lacks (or has elsewhere), the capture's time of one the
    # kernel's account lacks; `state`: a difference of states, which diverge after either.
    kernel_only: float | None = None
    capture_only: float | None = None
    state: bool = False

    def as_dict(self) -> dict:
        return {"time": self.time, "side": self.side, "what": self.what}


@dataclass
class EventAgreement:
    """The analysis against the kernel's events, for one connection."""

    states: list[StateMatch] = field(default_factory=list)
    resets: list[ResetReason] = field(default_factory=list)
    retransmissions: list[Retransmission] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    disagreements: list[EventDisagreement] = field(default_factory=list)
    # Differences the packets cannot settle, each with why (a copy the sandbox delivered late
    # is a retransmission on the wire; the kernel knows its end sent it once).
    explained: list[EventDisagreement] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "state_changes": [m.as_dict() for m in self.states],
            "resets": [vars(r) for r in self.resets],
            "retransmissions": [vars(r) for r in self.retransmissions],
            "drops": [vars(d) for d in self.drops],
            "disagreements": [d.as_dict() for d in self.disagreements],
            "explained": [d.as_dict() for d in self.explained],
        }

    def describe(self, origin: float) -> list[str]:
        """A few lines: what agreed, in numbers; then each disagreement with its time."""
        # Paired and close enough: those further apart are each a disagreement below.
        matched = [m for m in self.states if m.difference is not None and m.agrees]
        # How close the kernel's change came to the packet that caused it (not to a call's end,
        # nor to a packet its call sent only once it next had the CPU or its data had left).
        largest = max(
            (
                abs(m.difference or 0.0)
                for m in matched
                if m.frame is not None and m.within_call is None and not m.behind_data
            ),
            default=None,
        )
        waited = sum(m.within_call is not None for m in matched)
        queued = [m for m in matched if m.behind_data and m.within_call is None]
        text = f"events: {len(matched)} of {len(self.states)} state changes match its own" + (
            f" (within {largest * 1e6:.0f} µs of their frames" if largest is not None else ""
        )
        if waited:
            text += (", " if largest is not None else " (") + (
                f"{waited} within the call that made {'them' if waited > 1 else 'it'}, its packet sent later"
            )
        for match in queued:
            text += (", " if largest is not None or waited or match is not queued[0] else " (") + (
                f"the {match.side}'s {match.state} at its close(), {-(match.difference or 0.0):.3f} s before its FIN "
                f"(frame {match.frame}), sent after the {match.behind_data:,} data segment"
                f"{'s' if match.behind_data != 1 else ''} queued before it"
            )
        if largest is not None or waited or queued:
            text += ")"
        if self.resets:
            text += "; RST " + ", ".join(
                f"frame {r.frame} {r.cause}, its reason {r.kernel_reason or 'none'}" for r in self.resets
            )
        if self.retransmissions:
            confirmed = sum(r.frame is not None and r.kernel_time is not None for r in self.retransmissions)
            text += f"; {confirmed} of {len(self.retransmissions)} retransmissions its own"
        lines = [text]
        if self.drops:
            by_reason: dict[str, tuple[list[str], list[str]]] = {}
            for drop in self.drops:
                frames, unseen = by_reason.setdefault(drop.reason, ([], []))
                if drop.frame is not None:
                    frames.append(str(drop.frame))
                else:
                    unseen.append(f"{drop.time - origin:+.6f}")
            lines.append("freed undelivered, by the kernel's reason: " + "; ".join(
                f"{reason}: " + " and ".join(
                    ([f"frame{'s' if len(frames) > 1 else ''} {', '.join(frames)}"] if frames else [])
                    + ([f"{len(unseen)} uncaptured (at {', '.join(unseen)} s)"] if unseen else [])
                )
                for reason, (frames, unseen) in by_reason.items()
            ))  # fmt: skip
        lines.extend(f"explained: {d.time - origin:+.6f} s the {d.side}: {d.what}" for d in self.explained)
        lines.extend(
            f"disagrees: {d.time - origin:+.6f} s the {d.side}: {d.what}" for d in self.disagreements
        )
        return lines


# ---------------------------------------------------------------------------- the model


# The events whose first end is their socket's own (a packet's, for kfree_skb, is its sender's).
_OWN_ENDS: Final = frozenset({"set_state", "send_reset", "receive_reset", "retransmit_skb"})


def _tuple_of_sockets(events: list[KernelEvent]) -> dict[int, tuple[Endpoint, Endpoint]]:
    """For a socket's events that have no port yet (a client's CLOSE->SYN_SENT), the ends its
    next event names: event index -> (local, peer)."""
    known: dict[int, tuple[Endpoint, Endpoint]] = {}
    pending: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        socket = event["socket"]
        if event["kind"] not in _OWN_ENDS or socket is None:
            continue
        if event["sport"] == 0 or event["dport"] == 0:
            if event.get("new_state") == "SYN_SENT":
                pending.setdefault(socket, []).append(index)
            continue
        for waiting in pending.pop(socket, []):
            known[waiting] = ((event["src"], event["sport"]), (event["dst"], event["dport"]))
    return known


def _local(event: KernelEvent) -> Endpoint:
    return (event["src"], event["sport"])


def _remote(event: KernelEvent) -> Endpoint:
    return (event["dst"], event["dport"])


def _same(a: Endpoint, b: Endpoint) -> bool:
    return a[1] == b[1] and _host(a[0]) == _host(b[0])


def _host(address: str) -> str:
    return address.removeprefix("::ffff:")


def _listening_at(events: list[KernelEvent], server: Endpoint, time: float) -> bool:
    """Whether a listening socket on the server's port (its address or any) was open at `time`;
    `events`: the listeners' state changes (KernelIndex.listeners)."""
    listening: set[str] = set()
    for event in events:
        if event["time"] > time:
            break
        if event["sport"] != server[1]:
            continue
        if _host(event["src"]) not in (_host(server[0]), "0.0.0.0", "::"):
            continue
        socket = event["socket"] or ""
        if event["new_state"] == "LISTEN":
            listening.add(socket)
        elif event["old_state"] == "LISTEN" and event["dport"] == 0:
            listening.discard(socket)
    return bool(listening)


@dataclass
class KernelChange:
    time: float
    state: State
    shown_by: str


@dataclass
class KernelIndex:
    """A sidecar's kernel events read once for all its connections: each event with its two
    ends (a client's SYN_SENT given its socket's), grouped by the pair of ends; the listeners'
    changes apart. A `handshake run` of hundreds of connections would otherwise read every
    event once a connection."""

    by_pair: dict[frozenset[Endpoint], list[tuple[KernelEvent, Endpoint, Endpoint]]]
    listeners: list[KernelEvent]


def _normal(endpoint: Endpoint) -> Endpoint:
    return (_host(endpoint[0]), endpoint[1])


def index_events(events: list[KernelEvent]) -> KernelIndex:
    ports = _tuple_of_sockets(events)
    by_pair: dict[frozenset[Endpoint], list[tuple[KernelEvent, Endpoint, Endpoint]]] = {}
    listeners = []
    for index, event in enumerate(events):
        local, remote = ports.get(index, (_local(event), _remote(event)))
        if event["kind"] == "set_state" and "LISTEN" in (event.get("new_state"), event.get("old_state")):
            listeners.append(event)
        by_pair.setdefault(frozenset((_normal(local), _normal(remote))), []).append((event, local, remote))
    return KernelIndex(by_pair, listeners)


# The index of the events last asked about, kept with them: a file's connections are compared
# one after another with the same sidecar.
_last: tuple[list[KernelEvent], KernelIndex] | None = None


def _indexed(events: list[KernelEvent]) -> KernelIndex:
    global _last
    if _last is None or _last[0] is not events:
        _last = (events, index_events(events))
    return _last[1]


def kernel_model(
    connection: Connection, events: list[KernelEvent], until: float
) -> tuple[dict[Side, State], dict[Side, list[KernelChange]], dict[Side, list[KernelEvent]]]:
    """Each end's state before the connection's first packet and its changes after, up to
    `until` (its last packet, or later: a timeout the call log shows), by the model above; and
    each end's events (what it sent or took)."""
    start, end = connection.first_time - EVENT_MARGIN, max(connection.last_time, until) + EVENT_MARGIN
    index = _indexed(events)
    ends: dict[Side, Endpoint] = {"client": connection.client, "server": connection.server}
    own: dict[Side, list[KernelEvent]] = {"client": [], "server": []}
    pair = frozenset((_normal(connection.client), _normal(connection.server)))
    for event, local, remote in index.by_pair.get(pair, []):
        if not start <= event["time"] <= end:
            continue
        for side, mine in ends.items():
            theirs = ends[peer_of(side)]
            if event["kind"] == "kfree_skb":  # a packet sent to this end, freed by its socket or namespace
                if _same(remote, mine) and _same(local, theirs):
                    own[side].append(event)
            elif _same(local, mine) and _same(remote, theirs):
                own[side].append(event)
    own = _this_incarnation(own, connection.first_time, connection.succeeded_at)
    initial: dict[Side, State] = {
        "client": State.CLOSED,
        "server": State.LISTEN
        if _listening_at(index.listeners, connection.server, connection.first_time)
        else State.CLOSED,
    }
    changes = {side: _changes(initial[side], own[side]) for side in ends}
    return initial, changes, own


def _this_incarnation(
    own: dict[Side, list[KernelEvent]], first_time: float, succeeded_at: float | None
) -> dict[Side, list[KernelEvent]]:
    """The events of the connection that starts at `first_time`, where its 4-tuple served
    other connections just before or after it (a client binding its port again, a server's
    TIME_WAIT taking a new SYN): each begins with its client's CLOSE->SYN_SENT, just before
    its first packet, so the window runs from this one's (the client's latest by then) to the
    next connection's (`succeeded_at`: the latest change of either end by then, for the next
    one's client may be this one's server: two sockets
    that connect to each other by turns, a connection every 100 us, helper-102's x14), or,
    with no next connection seen, to the client's next change. The socket ids do not tell them
    apart: the kernel reuses a freed socket's memory."""

    def births(*sides: Side) -> list[float]:
        return sorted(
            e["time"]
            for side in sides
            for e in own[side]
            if e["kind"] == "set_state" and e.get("new_state") == "SYN_SENT"
        )

    mine = births("client")
    # Its own: the client's latest change by its first packet; one a little after, the
    # clocks' alignment allowing, where there is none.
    start = next((time for time in reversed(mine) if time <= first_time + BIRTH_EPSILON), None)
    if start is None:
        start = next((time for time in mine if time <= first_time + BIRTH_SLACK), None)
    end = None
    if succeeded_at is not None:
        end = next(
            (
                time
                for time in reversed(births("client", "server"))
                if first_time + BIRTH_EPSILON < time <= succeeded_at + BIRTH_EPSILON
            ),
            None,
        )
    if end is None:
        end = next((time for time in mine if time > first_time + BIRTH_SLACK), None)
    if start is None and end is None:
        return own
    low = start if start is not None else float("-inf")
    high = end if end is not None else float("inf")
    return {side: [e for e in events if low <= e["time"] < high] for side, events in own.items()}


def _changes(initial: State, events: list[KernelEvent]) -> list[KernelChange]:
    changes: list[KernelChange] = []
    state = initial
    resets = [e for e in events if e["kind"] in ("send_reset", "receive_reset") and e["socket"] is not None]

    request = False  # SYN_RCVD in a request socket, which has no state change of its own

    def move(to: State, time: float, shown_by: str) -> None:
        nonlocal state, request
        request = False
        if to != state:
            changes.append(KernelChange(time, to, shown_by))
            state = to

    for event in events:
        kind, time = event["kind"], event["time"]
        if request and (kind == "send_reset" or (kind == "kfree_skb" and "RST" in event.get("flags", ""))):
            # The listener drops the request socket with the RST it sends (tcp_check_req's
            # embryonic_reset: an overflowing accept queue, an invalid segment) or takes.
            move(State.CLOSED, time, "the request socket dropped with a RST")
        elif kind == "set_state":
            old, new = event.get("old_state") or "", event.get("new_state") or ""
            shown = f"{old}->{new}"
            if new == "CLOSE":
                reset = any(
                    r["socket"] == event["socket"] and abs(r["time"] - time) < MATCH_WINDOW for r in resets
                )
                if reset:
                    move(State.CLOSED, time, shown)
                elif old == "CLOSING" or (old == "FIN_WAIT2" and event.get("sock_done")):
                    move(State.TIME_WAIT, time, shown + " (a timewait socket takes over)")
                elif old == "FIN_WAIT2":
                    pass  # an orphan handed to a timewait socket in substate FIN_WAIT2
                else:
                    move(State.CLOSED, time, shown)
            elif new == "SYN_RECV" and old == "LISTEN" and state == State.SYN_RCVD:
                pass  # the child of the request socket that was SYN_RCVD already
            elif new in _RFC:
                move(_RFC[new], time, shown)
        elif kind == "request_synack" and state in (State.LISTEN, State.CLOSED):
            move(State.SYN_RCVD, time, "the request socket's first SYN/ACK")
            request = True
        elif kind == "kfree_skb" and event.get("state") == "TIME_WAIT":
            flags = event.get("flags", "")
            if "RST" in flags:
                move(State.CLOSED, time, "a RST taken by the timewait socket")
            elif "FIN" in flags and event.get("timewait_substate") == "TIME_WAIT":
                move(State.TIME_WAIT, time, _PEER_FIN_TAKEN)
        elif kind == "send_reset" and event.get("state") == "TIME_WAIT":
            move(State.CLOSED, time, "the timewait socket's RST")
    return changes


# ---------------------------------------------------------------------------- comparing


def compare_events(
    connection: Connection,
    states: dict[Side, list[tuple[float, State]]],
    frames: dict[Side, list[int | None]],
    steps: list[Step],
    resets: list[Reset],
    resends: dict[int, tuple[int, int]],
    flagged: dict[int, list[str]],
    events: list[KernelEvent],
    calls: list[CallRecord],
    capture_dropped: int = 0,
    events_lost: int = 0,
) -> EventAgreement:
    """The analysis of `connection` (its states with their frames, steps, RSTs, resends and
    sequence flags) against the kernel's events. capture_dropped: the packets tcpdump says
    the kernel dropped before it read them; events_lost: the events the kernel recorder lost
    (what each witness missed: _explain_missing)."""
    result = EventAgreement()
    until = max((time for history in states.values() for time, _ in history), default=connection.last_time)
    initial, changes, own = kernel_model(connection, events, until)
    # Read only where a change and its frame lie apart (rare): a run's calls are many.
    read: list[dict[Side, list[OwnCall]]] = []

    def own_calls(side: Side) -> list[OwnCall]:
        if not read:
            read.append(_own_calls(connection, calls))
        return read[0][side]

    for side in ("client", "server"):
        found = len(result.disagreements)
        _compare_states(
            result, side, states[side], frames.get(side, []), initial[side], changes[side], own_calls,
            functools.partial(data_before_fin, connection, side), connection.succeeded_at,
        )  # fmt: skip
        unsent = _fin_never_sent(connection, side, changes[side])
        if unsent is not None:
            # What follows a close() the packets did not see differs from then on, and why is known.
            later = [d for d in result.disagreements[found:] if d.time >= unsent - MATCH_WINDOW]
            result.disagreements = [d for d in result.disagreements if d not in later]
            result.explained.extend(
                EventDisagreement(
                    d.time, d.side,
                    f"{d.what}: its close() sent no FIN (the FIN waited behind data not yet sent or not yet "
                    "acknowledged, as a full window holds it: the peer's, or its own after timeouts), a close the "
                    "packets cannot show",
                )
                for d in later
            )  # fmt: skip
    _compare_resets(result, connection, resets, own, initial, changes)
    _compare_retransmissions(result, connection, resends, flagged, own, calls)
    _name_drops(result, connection, steps, frames, own)
    _explain_firewall_reject(result, connection, initial)
    _explain_missing(result, connection, own, capture_dropped, events_lost)
    result.drops.sort(key=lambda d: d.time)
    result.explained.sort(key=lambda d: d.time)
    result.disagreements.sort(key=lambda d: d.time)
    return result


def _compare_states(
    result: EventAgreement,
    side: Side,
    inferred: list[tuple[float, State]],
    frames: list[int | None],
    initial: State,
    kernel: list[KernelChange],
    own_calls: Callable[[Side], list[OwnCall]],
    data_before_fin: Callable[[float, float], int],
    succeeded_at: float | None = None,
) -> None:
    """own_calls: an end's calls that move it, with the frames each sent (_own_calls);
    data_before_fin: this end's, bound (data_before_fin); succeeded_at: when the next
    connection on the 4-tuple began."""
    if not inferred:
        return  # nothing inferred (an end that sent nothing): nothing to compare
    first_time, first_state = inferred[0]
    if first_state not in (initial, State.UNKNOWN):
        result.disagreements.append(
            EventDisagreement(
                first_time, side, f"began in {first_state.value}, the kernel's {initial.value}", state=True
            )
        )
    ours: list[tuple[float, State, int | None]] = [
        (time, state, frames[i] if i < len(frames) else None)
        for i, (time, state) in enumerate(inferred)
        if i > 0 and state != State.UNKNOWN
    ]
    unknown = _unknown_spans(inferred)
    pairs = _align(ours, kernel)
    for i, j in pairs:
        if i is None and j is not None:
            change = kernel[j]
            if any(a <= change.time <= b for a, b in unknown):
                continue  # the packets do not tell this end's state then
            result.states.append(
                StateMatch(side, change.state.value, None, None, change.time, change.shown_by)
            )
            result.disagreements.append(
                EventDisagreement(
                    change.time,
                    side,
                    f"the kernel went to {change.state.value} ({change.shown_by}), not inferred",
                    kernel_only=change.time,
                    state=True,
                )
            )
        elif i is not None and j is None:
            time, state, frame = ours[i]
            result.states.append(StateMatch(side, state.value, time, frame, None, None))
            before = ours[i - 1][1] if i > 0 else inferred[0][1]
            if frame is None and state == State.CLOSED and before == State.FIN_WAIT_2:
                # The orphan FIN_WAIT_2 timer's move (tcp_state.py, "Orphans"): the kernel had
                # handed the socket to a timewait socket in substate FIN_WAIT2, whose expiry
                # no tracepoint reports.
                result.explained.append(
                    EventDisagreement(
                        time,
                        side,
                        "inferred CLOSED by the FIN_WAIT_2 timer: the kernel's timewait socket "
                        "in substate FIN_WAIT2 expires without a tracepoint",
                    )
                )
                continue
            if frame is None and state == State.CLOSED and before == State.TIME_WAIT and time == succeeded_at:
                # The next connection's SYN on the 4-tuple ended the TIME_WAIT (analysis.py,
                # apply_successor): a timewait socket leaves without a tracepoint.
                result.explained.append(
                    EventDisagreement(
                        time,
                        side,
                        "inferred CLOSED at the next connection's SYN on the 4-tuple: the kernel's "
                        "timewait socket gives the 4-tuple up without a tracepoint",
                    )
                )
                continue
            if frame is None and state == State.CLOSED and before == State.TIME_WAIT:
                # The TIME_WAIT timer's move (analysis.py, apply_time_wait_timer: 60 s, when
                # the recording lasted that long): a timewait socket expires without a tracepoint.
                result.explained.append(
                    EventDisagreement(
                        time,
                        side,
                        "inferred CLOSED by the TIME_WAIT timer (60 s): the kernel's timewait socket "
                        "expires without a tracepoint",
                    )
                )
                continue
            handed = _handed_over_unseen(state, time, initial, kernel)
            if handed is not None:
                result.explained.append(
                    EventDisagreement(
                        time, side,
                        f"inferred {state.value} (frame {frame}): the kernel's account lacks the socket's "
                        "FIN_WAIT1->FIN_WAIT2, an event the recorder did not get, yet its timewait socket "
                        f"took the peer's FIN {handed.time - time:+.6f} s later in substate "
                        "FIN_WAIT2, which only an orphan handed over in FIN_WAIT2 is",
                    )
                )  # fmt: skip
                continue
            at = f"frame {frame}" if frame is not None else "no frame"
            result.disagreements.append(
                EventDisagreement(
                    time,
                    side,
                    f"inferred {state.value} ({at}), the kernel had no such change",
                    capture_only=time,
                    state=True,
                )
            )
        elif i is not None and j is not None:
            time, state, frame = ours[i]
            change = kernel[j]
            match = StateMatch(side, state.value, time, frame, change.time, change.shown_by)
            if not match.agrees and frame is not None:
                match.within_call = _call_within(own_calls(side), state, frame, time, change.time)
            if not match.agrees and frame is not None and state in (State.FIN_WAIT_1, State.LAST_ACK):
                match.behind_data = data_before_fin(change.time, time)
            result.states.append(match)
            if not match.agrees and _cookie_child(state, change, time):
                # No request socket ever sent a SYN/ACK (request_synack): the listener answered
                # with a SYN cookie and kept nothing; its SYN_RECV is the child's birth when the
                # cookie came back (helper-102's x8: the ACK dropped at a full accept queue, the
                # child made at the data 0.2 s on).
                result.explained.append(
                    EventDisagreement(
                        time, side,
                        f"inferred SYN_RCVD {_at_frame(frame)}; the kernel's came {change.time - time:+.6f} s "
                        "away, as a SYN cookie's: the listener answered the SYN with a cookie and kept no request "
                        "socket (no SYN/ACK of one), and its SYN_RECV is the socket made when the cookie came "
                        "back",
                    )
                )  # fmt: skip
                continue
            if not match.agrees:
                result.disagreements.append(
                    EventDisagreement(
                        time, side,
                        f"{state.value}: inferred {_at_frame(frame)}, the kernel's {change.time - time:+.6f} s away",
                        kernel_only=change.time, capture_only=time, state=True,
                    )
                )  # fmt: skip


def _cookie_child(state: State, change: KernelChange, inferred_at: float) -> bool:
    """Whether the kernel's SYN_RCVD, later than the analysis's, is a socket born from a SYN
    cookie: a listener's child (LISTEN->SYN_RECV) with no request socket's SYN/ACK before it
    (_changes reads a request's first SYN/ACK as the change and passes its child by)."""
    return state == State.SYN_RCVD and change.shown_by == "LISTEN->SYN_RECV" and change.time > inferred_at


# The calls that move their end themselves, and where to: the kernel makes the change as the
# call begins, its packet leaves when the call next has the CPU.
_CALL_STATES: Final = {
    "connect": frozenset({State.SYN_SENT}),
    "close": frozenset({State.FIN_WAIT_1, State.LAST_ACK}),
    "shutdown": frozenset({State.FIN_WAIT_1, State.LAST_ACK}),
}


# What the model says of a timewait socket that takes the peer's FIN in substate FIN_WAIT2.
_PEER_FIN_TAKEN: Final = "the peer's FIN taken by the timewait socket"


def _handed_over_unseen(
    state: State, time: float, initial: State, kernel: list[KernelChange]
) -> KernelChange | None:
    """For an inferred FIN_WAIT_2 the kernel's account lacks: its later TIME_WAIT by the peer's
    FIN taken by a timewait socket in substate FIN_WAIT2, while the account still had the
    end in FIN_WAIT_1. Only an orphan that reached FIN_WAIT2 is handed to a timewait socket
    in that substate: its FIN_WAIT1->FIN_WAIT2 was made and not recorded (and its handing
    over, FIN_WAIT2->CLOSE, may be missing too)."""
    if state != State.FIN_WAIT_2:
        return None
    for change in kernel:
        if (
            change.state == State.TIME_WAIT
            and change.shown_by == _PEER_FIN_TAKEN
            and change.time >= time - MATCH_WINDOW
            and _kernel_state_at(initial, kernel, change.time) == State.FIN_WAIT_1
        ):
            return change
    return None


def _own_calls(connection: Connection, calls: list[CallRecord]) -> dict[Side, list[OwnCall]]:
    """Each end's calls that move it themselves (_CALL_STATES) on a socket at its port, each
    with the frames that end sent while it ran (MATCH_WINDOW after it too: a capture stamps a
    packet up to 60 µs late)."""
    found: dict[Side, list[OwnCall]] = {"client": [], "server": []}
    ends: dict[Side, Endpoint] = {"client": connection.client, "server": connection.server}
    for call in calls_on(
        calls, (connection.client, connection.server), connection.first_time, connection.last_time
    ):
        side, tag = call["side"], call.get("socket")
        states = _CALL_STATES.get(call["call"].split("(", 1)[0])
        if side not in ends or tag is None or states is None:
            continue
        local = address_endpoint(tag["local"])
        if local is None or local[1] != ends[side][1]:
            continue  # another socket's (a listener's close, another connection's connect)
        sent = frozenset(
            s.frame for s in connection.segments
            if connection.sender(s) == side and call["time"] <= s.time <= call["end_time"] + MATCH_WINDOW
        )  # fmt: skip
        if sent:
            found[side].append((call["time"], call["end_time"], call["call"], sent, states))
    return found


def _call_within(
    own_calls: list[OwnCall], state: State, frame: int, frame_time: float, kernel_time: float
) -> str | None:
    """The call that made `state` and sent `frame`, the kernel's change before the frame within
    it and not more than CALL_MATCH_WINDOW (a scheduler's delay) before; None if none did."""
    for start, _end, call, sent, states in own_calls:
        if (
            state in states
            and frame in sent
            and start - MATCH_WINDOW <= kernel_time <= frame_time + MATCH_WINDOW
            and frame_time - kernel_time <= CALL_MATCH_WINDOW
        ):
            return call
    return None


def data_before_fin(connection: Connection, side: Side, closed: float, fin_time: float) -> int:
    """The data segments `side` sent after the kernel's change at `closed` (its close()) and
    before its FIN at `fin_time`: the data queued ahead of the FIN, which left after it.
    0 where the change came after the FIN or nothing was sent between (no excuse then)."""
    if closed >= fin_time:
        return 0
    return sum(
        1
        for s in connection.segments
        if closed <= s.time < fin_time
        and s.payload_len
        and not s.flags & FIN
        and connection.sender(s) == side
    )


def _fin_never_sent(connection: Connection, side: Side, kernel: list[KernelChange]) -> float | None:
    """When the kernel put the end in FIN_WAIT_1 or LAST_ACK (its close(), its FIN queued) and
    no FIN of its was captured from then on: the FIN waited behind unsent data (a full peer
    window) and never left."""
    closed = next((c.time for c in kernel if c.state in (State.FIN_WAIT_1, State.LAST_ACK)), None)
    if closed is None:
        return None
    fins = [
        s for s in connection.segments
        if s.flags & FIN and connection.sender(s) == side and s.time >= closed - MATCH_WINDOW
    ]  # fmt: skip
    if fins or any(shown >= closed for _after, shown in _unseen_sent(connection, side)):
        return None  # it left: the capture has it, or shows that it lacks something sent then
    return closed


def _unseen_sent(connection: Connection, side: Side) -> list[tuple[float, float]]:
    """Where the capture lacks something the end sent: a segment of its that starts past all it
    was seen sending before (its SYN, data, FIN), or one of the peer's acknowledging past
    that. Each as (the time of the end's last segment captured before, the time of the
    segment that shows it)."""
    found: list[tuple[float, float]] = []
    base: int | None = None
    reach = 0
    last: float | None = None
    for segment in connection.segments:
        mine = connection.sender(segment) == side
        if mine and (base is None or segment.flags & SYN):
            base = segment.seq  # a SYN begins its sequence space (a resent one may begin another)
            reach = 0
        if base is None or segment.flags & RST:
            continue
        if mine:
            offset = (segment.seq - base) % 2**32
            past = reach < offset < 2**31
        else:
            past = bool(segment.flags & ACK) and reach < (segment.ack - base) % 2**32 < 2**31
        if past and last is not None:
            found.append((last, segment.time))
        if mine:
            end = offset + segment.payload_len + bool(segment.flags & SYN) + bool(segment.flags & FIN)
            reach = max(reach, end) if end < 2**31 else reach
            last = segment.time
        elif past:
            reach = (segment.ack - base) % 2**32  # what the peer took is known sent from now on
    return found


def _unknown_spans(inferred: list[tuple[float, State]]) -> list[tuple[float, float]]:
    spans = []
    for index, (time, state) in enumerate(inferred):
        if state == State.UNKNOWN:
            until = inferred[index + 1][0] if index + 1 < len(inferred) else float("inf")
            spans.append((time, until))
    return spans


def _align(
    ours: list[tuple[float, State, int | None]], kernel: list[KernelChange]
) -> list[tuple[int | None, int | None]]:
    """Both change lists paired in order: the most pairs of the same state, then the least
    total time apart (a longest common subsequence); the rest unpaired, in time order."""
    n, m = len(ours), len(kernel)
    # best[i][j]: (pairs, -seconds apart) for ours[i:] and kernel[j:]
    best = [[(0, 0.0)] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            options = [best[i + 1][j], best[i][j + 1]]
            if ours[i][1] == kernel[j].state:
                pairs, apart = best[i + 1][j + 1]
                options.append((pairs + 1, apart - abs(ours[i][0] - kernel[j].time)))
            best[i][j] = max(options)
    aligned: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        if ours[i][1] == kernel[j].state:
            pairs, apart = best[i + 1][j + 1]
            if best[i][j] == (pairs + 1, apart - abs(ours[i][0] - kernel[j].time)):
                aligned.append((i, j))
                i, j = i + 1, j + 1
                continue
        if best[i][j] == best[i + 1][j]:
            aligned.append((i, None))
            i += 1
        else:
            aligned.append((None, j))
            j += 1
    aligned.extend((k, None) for k in range(i, n))
    aligned.extend((None, k) for k in range(j, m))
    return aligned


def _nearest(candidates: list[KernelEvent], time: float, used: set[int]) -> KernelEvent | None:
    near = [e for e in candidates if id(e) not in used and abs(e["time"] - time) <= MATCH_WINDOW]
    found = min(near, key=lambda e: abs(e["time"] - time), default=None)
    if found is not None:
        used.add(id(found))
    return found


def _queued(candidates: list[KernelEvent], time: float, used: set[int]) -> KernelEvent | None:
    """Where none lies within MATCH_WINDOW: the earliest unused event up to QUEUE_HOLD before
    `time`, the copy a queue held between the kernel's send and the capture (a qdisc on the
    interface: tbf, netem; helper-102's x40, a tbf at 400 kbit, copies captured 278 ms after
    their tcp_retransmit_skb). A queue keeps its order: the earliest is the one it let out."""
    held = [e for e in candidates if id(e) not in used and time - QUEUE_HOLD <= e["time"] < time]
    found = min(held, key=lambda e: e["time"], default=None)
    if found is not None:
        used.add(id(found))
    return found


def _kernel_state_at(initial: State, changes: list[KernelChange], time: float) -> State:
    state = initial
    for change in changes:
        if change.time >= time:
            break
        state = change.state
    return state


# The states of a full socket, which tcp_receive_reset reports a RST taken in (TIME_WAIT: its
# timewait socket frees it); a listener or a request socket has no such event.
_TAKES_RST: Final = frozenset(
    {State.SYN_SENT, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT, State.CLOSING,
     State.LAST_ACK, State.TIME_WAIT}
)  # fmt: skip


# The reasons of tcp_send_active_reset: a socket's own abort, always RST|ACK (an answer's RST
# carries ACK only where the segment it answers had none); MPTCP's subflow resets too.
_ACTIVE_RESET_REASONS: Final = frozenset(
    {"TCP_ABORT_ON_CLOSE", "TCP_ABORT_ON_LINGER", "TCP_ABORT_ON_MEMORY", "TCP_STATE", "TCP_KEEPALIVE_TIMEOUT",
     "TCP_DISCONNECT_WITH_DATA"}
)  # fmt: skip


def _active_reset(reason: str | None) -> bool:
    return reason is not None and (reason in _ACTIVE_RESET_REASONS or reason.startswith("MPTCP_"))


def _compare_resets(
    result: EventAgreement,
    connection: Connection,
    resets: list[Reset],
    own: dict[Side, list[KernelEvent]],
    initial: dict[Side, State],
    changes: dict[Side, list[KernelChange]],
) -> None:
    """Each RST's cause beside the kernel's reason for sending it, and whether its receiver
    took it as the analysis says (`accepted`)."""
    used: set[int] = set()
    sent = {side: [e for e in own[side] if e["kind"] == "send_reset"] for side in own}
    # A RST without ACK can only be an answer's, so those choose first, among the answers'
    # reasons: a socket's abort RST/ACK and an answer's RST 15 us apart came with their events
    # in the other order, and nearness alone swapped their reasons. One the analysis calls
    # injected (not its sender's socket's) chooses last: it may be no kernel's at all.
    paired: dict[int, KernelEvent | None] = {}
    for turn in ("bare", "with ACK", "injected"):
        for index, reset in enumerate(resets):
            bare = not reset.segment.flags & ACK
            if turn != ("injected" if reset.cause == "injected" else "bare" if bare else "with ACK"):
                continue
            answers = [e for e in sent[reset.sender] if not bare or not _active_reset(e.get("reason"))]
            paired[index] = _nearest(answers, reset.segment.time, used)
    for index, reset in enumerate(resets):
        segment = reset.segment
        event = paired[index]
        reason = event.get("reason") if event is not None else None
        allowed = RESET_REASONS.get(reset.cause)
        agrees = None if allowed is None or reason is None else reason in allowed
        peer: Side = "server" if reset.sender == "client" else "client"
        received: bool | None = None
        if _kernel_state_at(initial[peer], changes[peer], segment.time) in _TAKES_RST:
            received = any(
                abs(e["time"] - segment.time) <= MATCH_WINDOW
                and (e["kind"] == "receive_reset" or (e["kind"] == "kfree_skb" and "RST" in e.get("flags", "")
                                                      and e.get("state") == "TIME_WAIT"))
                for e in own[peer]
            )  # fmt: skip
        result.resets.append(
            ResetReason(
                segment.frame, segment.time, reset.sender, reset.cause, reason,
                event["time"] if event is not None else None, agrees, received,
            )
        )  # fmt: skip
        if received is not None and received != reset.accepted:
            result.disagreements.append(
                EventDisagreement(
                    segment.time, peer,
                    f"RST frame {segment.frame}: the analysis has the {peer} "
                    f"{'take' if reset.accepted else 'drop'} it, the kernel's {peer} "
                    f"{'took' if received else 'did not take'} it",
                    state=True,
                )
            )  # fmt: skip
        if event is None and reset.cause == "injected":
            pass  # not the kernel's: what the analysis says of it
        elif event is None:
            result.disagreements.append(
                EventDisagreement(
                    segment.time, reset.sender,
                    f"RST frame {segment.frame} ({reset.cause}): the kernel sent no such RST "
                    "(a firewall's tcp-reset, or one from outside the sandbox)",
                    capture_only=segment.time,
                )
            )  # fmt: skip
        elif agrees is False:
            result.disagreements.append(
                EventDisagreement(
                    segment.time, reset.sender,
                    f"RST frame {segment.frame}: inferred {reset.cause}, the kernel's reason {reason}",
                )
            )  # fmt: skip
    for side, events in sent.items():
        for event in events:
            if id(event) not in used:
                result.disagreements.append(
                    EventDisagreement(
                        event["time"], side,
                        f"the kernel sent a RST ({event.get('reason')}) the capture does not show",
                        kernel_only=event["time"],
                    )
                )  # fmt: skip


def _describe(segment: Segment) -> str:
    if segment.flags & SYN:
        return "SYN/ACK" if segment.flags & ACK else "SYN"
    what = f"{segment.payload_len} bytes at {segment.seq}" if segment.payload_len else f"seq {segment.seq}"
    return what + (" with FIN" if segment.flags & FIN else "")


def _compare_retransmissions(
    result: EventAgreement,
    connection: Connection,
    resends: dict[int, tuple[int, int]],
    flagged: dict[int, list[str]],
    own: dict[Side, list[KernelEvent]],
    calls: list[CallRecord],
) -> None:
    deliveries = [c for c in calls if c["side"] == "network" and c["call"].startswith("deliver")]
    frames = set(resends) | {f for f, kinds in flagged.items() if _RETRANSMISSION_KINDS.intersection(kinds)}
    kernel = {
        side: [
            e for e in own[side]
            if (e["kind"] == "retransmit_skb" and e.get("error", 0) == 0) or e["kind"] == "retransmit_synack"
        ]
        for side in own
    }  # fmt: skip
    used: set[int] = set()
    # A simultaneous open's SYN/ACKs: sent once, in answer to the peer's SYN, though Wireshark
    # flags them for repeating their SYN's number.
    answered = open_answers(connection)
    for segment in connection.segments:
        if segment.frame not in frames or segment.flags & RST or segment.frame in answered:
            continue
        side = connection.sender(segment)
        if segment.flags & SYN and segment.flags & ACK and side == "server":
            candidates = [
                e for e in kernel[side] if e["kind"] == "retransmit_synack" or e.get("seq") == segment.seq
            ]
        else:
            candidates = [
                e for e in kernel[side] if e["kind"] == "retransmit_skb" and e.get("seq") == segment.seq
            ]
        event = _nearest(candidates, segment.time, used)
        delivered = any(c["time"] <= segment.time <= c["end_time"] + MATCH_WINDOW for c in deliveries)
        if event is None and not delivered:
            held = [e for e in candidates if e["kind"] == "retransmit_skb" and e.get("seq") == segment.seq]
            event = _queued(held, segment.time, used)
        result.retransmissions.append(
            Retransmission(
                segment.frame,
                segment.time,
                side,
                _describe(segment),
                event["time"] if event is not None else None,
            )
        )
        if event is None:
            if delivered:
                result.explained.append(
                    EventDisagreement(
                        segment.time, side,
                        f"frame {segment.frame} is a copy the sandbox delivered late (call log), not a "
                        "retransmission: on the wire the two cannot be told apart",
                    )
                )  # fmt: skip
            elif (freed := _freed_copy(connection, own, segment)) is not None:
                result.explained.append(
                    EventDisagreement(
                        segment.time, side,
                        f"frame {segment.frame} is a retransmission whose tcp_retransmit_skb event the recorder "
                        f"did not get: the kernel freed this copy ({freed['reason']}) "
                        f"{(freed['time'] - segment.time) * 1e6:+.0f} µs from the frame, so it sent the "
                        "segment again (an event the kernel's count does not show missing either)",
                    )
                )  # fmt: skip
            else:
                result.disagreements.append(
                    EventDisagreement(
                        segment.time, side,
                        f"frame {segment.frame} inferred a retransmission; the kernel retransmitted no such segment",
                        capture_only=segment.time,
                    )
                )  # fmt: skip
    for side, events in kernel.items():
        for event in events:
            if id(event) in used:
                continue
            what = (
                "SYN/ACK"
                if event["kind"] == "retransmit_synack"
                else f"{event.get('flags')} at {event.get('seq')}"
            )
            result.retransmissions.append(Retransmission(None, event["time"], side, what, event["time"]))
            result.disagreements.append(
                EventDisagreement(
                    event["time"],
                    side,
                    f"the kernel retransmitted {what}; not seen resent",
                    kernel_only=event["time"],
                )
            )


def _freed_copy(
    connection: Connection, own: dict[Side, list[KernelEvent]], segment: Segment
) -> KernelEvent | None:
    """The kernel's kfree_skb of this very copy of `segment` (its sender, sequence number
    and flags, within MATCH_WINDOW, and no other captured copy nearer), if the recorder has it."""
    near = [
        e for side in own for e in own[side]
        if e["kind"] == "kfree_skb" and _names(e, segment) and _captured(connection, e) is segment
    ]  # fmt: skip
    return min(near, key=lambda e: abs(e["time"] - segment.time), default=None)


def _name_drops(
    result: EventAgreement,
    connection: Connection,
    steps: list[Step],
    frames: dict[Side, list[int | None]],
    own: dict[Side, list[KernelEvent]],
) -> None:
    """Each packet the kernel freed undelivered; one whose receipt the analysis reports as a
    change of its receiver's state disagrees."""
    by_frame = {step.segment.frame: step for step in steps}
    seen: set[int] = set()
    for side, events in own.items():
        for event in events:
            if event["kind"] != "kfree_skb":
                continue
            reason = event.get("reason") or "NOT_SPECIFIED"
            state = event.get("state")
            if state == "TIME_WAIT":
                reason = f"TIME_WAIT_SOCKET ({event.get('timewait_substate')})"
            elif reason in _NOT_DROPS:
                continue  # freed after it was handled (a pure ACK at a closing socket): not a loss
            segment = _captured(connection, event)
            if segment is not None:
                if segment.frame in seen:
                    continue  # tcpdump's copy of a packet freed once already
                seen.add(segment.frame)
                if state == "TIME_WAIT" and segment.flags & FIN and not segment.payload_len:
                    continue  # the peer's FIN, acted on (acknowledged, TIME_WAIT): not lost
            sender = peer_of(side)
            drop = Drop(
                segment.frame if segment is not None else None,
                segment.time if segment is not None else event["time"],
                sender, event.get("flags", ""), reason, state,
            )  # fmt: skip
            result.drops.append(drop)
            step = by_frame.get(drop.frame) if drop.frame is not None else None
            if (
                step is not None
                and state != "TIME_WAIT"
                and reason not in _ACK_TAKEN
                and drop.frame in frames.get(side, [])
            ):
                if _cookie_ack_dropped(side, state, reason, step, own):
                    result.explained.append(
                        EventDisagreement(
                            drop.time, side,
                            f"frame {drop.frame} moved the {side} to {step.receiver_after.value} in the analysis; the "
                            f"kernel's listener dropped it ({reason}): it kept no request for it (its SYN/ACK a SYN "
                            "cookie's, no request socket's) and takes a cookie's ACK only while its accept queue has "
                            "room; a later segment of the client's made the connection. The packets cannot tell a "
                            "cookie's ACK dropped from one taken",
                        )
                    )  # fmt: skip
                    # The state it seemed to move, and when, follow from it.
                    moved = f"{step.receiver_after.value}: inferred {_at_frame(drop.frame)}, "
                    later = [d for d in result.disagreements if d.side == side and d.what.startswith(moved)]
                    result.disagreements = [d for d in result.disagreements if d not in later]
                    result.explained.extend(
                        EventDisagreement(d.time, d.side, f"{d.what}: the cookie's ACK dropped (above)")
                        for d in later
                    )
                    continue
                result.disagreements.append(
                    EventDisagreement(
                        drop.time, side,
                        f"frame {drop.frame} moved the {side} to {step.receiver_after.value} in the analysis; "
                        f"the kernel dropped it ({reason})",
                    )
                )  # fmt: skip


def _cookie_ack_dropped(
    side: Side, state: str | None, reason: str, step: Step, own: dict[Side, list[KernelEvent]]
) -> bool:
    """Whether a packet the server's listener freed for no socket (NO_SOCKET, in LISTEN) is
    the handshake's ACK of a SYN cookie (no request socket ever sent a SYN/ACK: no
    request_synack), which a listener whose accept queue is full drops (cookie_v4_check finds
    no room; helper-102's x8, an asyncio server with backlog 1 and 30 clients)."""
    return (
        side == "server"
        and reason == "NO_SOCKET"
        and state == "LISTEN"
        and step.receiver_after == State.ESTABLISHED
        and not any(e["kind"] == "request_synack" for e in own["server"])
    )


def _at_frame(frame: int | None) -> str:
    """Where an inferred change was made: a frame, or none (a timer's, or the capture's end)."""
    return f"at frame {frame}" if frame is not None else "with no frame of its own (by a timer)"


def _captured(connection: Connection, event: KernelEvent) -> Segment | None:
    """The captured segment a dropped packet's event names, nearest in time: its flags all
    the same (the event is the packet as received: a pure ACK dropped is not the data
    segment at its sequence number, tfo4 of helper-100), and captured before the drop (within
    DROP_CAPTURED_SLACK): a packet freed before the capture point (an output hook's drop)
    was never captured, and the end's next pure ACK, at the same sequence number, is not it
    (helper-102's x5: an ACK dropped at output, the next one captured 63 µs after)."""
    flags = event.get("flags", "")
    latest = event["time"] + DROP_CAPTURED_SLACK
    near = [
        s
        for s in connection.segments
        if _names(event, s) and (not flags or flag_names(s.flags) == flags) and s.time <= latest
    ]
    return min(near, key=lambda s: abs(s.time - event["time"]), default=None)


def _names(event: KernelEvent, segment: Segment) -> bool:
    """Whether a kernel event that carries a packet's fields is about this captured copy: its
    sender, sequence number and flags, within MATCH_WINDOW."""
    flags = event.get("flags", "")
    return (
        segment.sport == event["sport"]
        and segment.seq == event.get("seq")
        and bool(segment.flags & SYN) == ("SYN" in flags)
        and bool(segment.flags & FIN) == ("FIN" in flags)
        and abs(segment.time - event["time"]) <= MATCH_WINDOW
    )


def _explain_firewall_reject(
    result: EventAgreement, connection: Connection, initial: dict[Side, State]
) -> None:
    """A RST/ACK read as refused that the kernel never sent, to a SYN a firewall rule freed
    (NETFILTER_DROP) while a listener was there: the firewall's reject with tcp reset,
    answering in the port's name (nft `reject with tcp reset`, iptables REJECT --reject-with
    tcp-reset), the reading the wire leaves open beside "nothing listens" (helper-102's x11).
    Explained: that RST's disagreement and the server's LISTEN the analysis could not see."""
    if initial["server"] != State.LISTEN:
        return
    filtered = {d.frame for d in result.drops if d.reason == "NETFILTER_DROP" and "SYN" in d.flags}
    for reset in result.resets:
        if reset.cause != "refused" or reset.kernel_time is not None:
            continue
        syn = next(
            (
                s for s in reversed(connection.segments)
                if s.frame < reset.frame and s.flags & (SYN | ACK) == SYN and connection.from_client(s)
            ),
            None,
        )  # fmt: skip
        if syn is None or syn.frame not in filtered:
            continue
        mine = [
            d
            for d in result.disagreements
            if d.what.startswith(f"RST frame {reset.frame} (refused)")
            or (
                d.side == "server"
                and d.what == f"began in {State.CLOSED.value}, the kernel's {State.LISTEN.value}"
            )
        ]
        result.disagreements = [d for d in result.disagreements if d not in mine]
        result.explained.append(
            EventDisagreement(
                reset.time, "server",
                f"RST frame {reset.frame} (refused) is not the kernel's: a firewall rule freed the SYN (frame "
                f"{syn.frame}, NETFILTER_DROP) and its reject with tcp reset answered in the port's name, the "
                "listener there (LISTEN): the wire's other reading",
            )
        )  # fmt: skip


def _explain_missing(
    result: EventAgreement,
    connection: Connection,
    own: dict[Side, list[KernelEvent]],
    dropped: int,
    lost: int,
) -> None:
    """Differences one witness's gaps explain, moved from the disagreements to `explained`
    with the count that says so. A capture that dropped packets (tcpdump's "dropped by
    kernel"): what the kernel did that the capture lacks, where it holds no packet of the
    connection within MATCH_WINDOW of the kernel's time. A recorder that lost events: what
    the capture shows that the kernel's account lacks, where it holds no event of the
    connection within MATCH_WINDOW. After the first such gap the two accounts of the states
    diverge (the analysis moved on without the packet, the model without the event): every
    later difference of states follows from it."""
    if not dropped and not lost:
        return
    packets = sorted(s.time for s in connection.segments)
    events = sorted(e["time"] for side in own for e in own[side])
    plural = {count: "s" if count != 1 else "" for count in (dropped, lost)}
    dropped_note = f"tcpdump dropped {dropped} packet{plural[dropped]} ('dropped by kernel')"
    lost_note = f"the kernel recorder lost {lost} event{plural[lost]}"
    direct: dict[int, str] = {}
    # A packet the capture lacks, shown by the sequence numbers: the states differ from then on.
    gap: float | None = None
    if dropped:
        gaps = [after for side in ("client", "server") for after, _shown in _unseen_sent(connection, side)]
        gap = min(gaps, default=None)
    if lost:
        # An event the recorder lost, shown by a socket's chain of states breaking.
        breaks = _broken_chains([e for side in own for e in own[side]])
        gap = min([*breaks, *([gap] if gap is not None else [])], default=None)
    for index, d in enumerate(result.disagreements):
        if dropped and d.kernel_only is not None and not _near(packets, d.kernel_only):
            direct[index] = f"no packet of the connection captured then, and {dropped_note}: one missing"
            at = d.kernel_only
        elif lost and d.capture_only is not None and not _near(events, d.capture_only):
            direct[index] = f"no event of the connection recorded then, and {lost_note}: one missing"
            at = d.capture_only
        else:
            continue
        gap = at if gap is None else min(gap, at)
    kept = []
    for index, d in enumerate(result.disagreements):
        why = direct.get(index)
        if why is None and d.state and gap is not None and d.time >= gap - MATCH_WINDOW:
            notes = [note for note, count in ((dropped_note, dropped), (lost_note, lost)) if count]
            why = f"follows from what is missing before it: {'; '.join(notes)}"
        if why is None:
            kept.append(d)
        else:
            result.explained.append(EventDisagreement(d.time, d.side, f"{d.what}: {why}"))
    result.disagreements = kept


def _near(times: list[float], time: float) -> bool:
    """Whether a time of the sorted `times` lies within MATCH_WINDOW of `time`."""
    index = bisect.bisect_left(times, time - MATCH_WINDOW)
    return index < len(times) and times[index] <= time + MATCH_WINDOW


def _broken_chains(events: list[KernelEvent]) -> list[float]:
    """Where a socket's state changes do not follow on (one leaves a state the one before did
    not enter): the time of the one before, after which an event is missing."""
    last: dict[str, KernelEvent] = {}
    found = []
    for event in sorted(events, key=lambda e: e["time"]):
        socket = event["socket"]
        if event["kind"] != "set_state" or socket is None:
            continue
        before = last.get(socket)
        if before is not None and before.get("new_state") != event.get("old_state"):
            found.append(before["time"])
        last[socket] = event
    return found
