"""Every RST: who sent it, the state its sender was in, and its cause in one sentence.

Causes, tried in this order (the first that fits):
- refused: the RST acknowledges the client's SYN and the server never sent a SYN/ACK:
  nothing listens on the port.
- accept_queue_overflow: the server's RST follows at once the client's ACK of the
  SYN/ACK, before any data: the ACK found the accept queue full
  (tcp_abort_on_overflow=1).
- after_close: both sides had already sent their FIN.
- data_after_close: the sender had closed (sent its FIN) and the peer then sent
  data: a closed socket answers data with RST.
- no_connection: the sender's first segment in the capture is this RST, answering a
  segment of the peer: the sender has no connection for this 4-tuple.
- abort: the sender was in a synchronized state and had sent no FIN: the
  application aborted (close() with unread data, SO_LINGER with a zero timeout, or
  a process that exited with unread data).
- unknown: nothing above fits.
With the capture's call log, `refine_with_calls` tells the aborts apart
(linger_abort, unread_data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analyzer.connections import Connection, Side
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment
from analyzer.findings.handshake import Handshake
from analyzer.sidecar import CallRecord, call_bytes
from analyzer.tcp_state import SYNCHRONIZED, Step

ResetCause = Literal[
    "refused", "accept_queue_overflow", "after_close", "data_after_close", "no_connection", "abort",
    "linger_abort", "unread_data", "unknown",
]  # fmt: skip


@dataclass
class Reset:
    segment: Segment
    sender: Side
    state: str
    cause: ResetCause
    explanation: str
    accepted: bool
    evidence: list[int]  # frame numbers that prove the cause


def find_resets(connection: Connection, steps: list[Step], handshake: Handshake) -> list[Reset]:
    resets = []
    for index, step in enumerate(steps):
        segment = step.segment
        if not segment.flags & RST:
            continue
        sender = connection.sender(segment)
        peer: Side = "server" if sender == "client" else "client"
        cause, explanation, evidence = _cause(connection, steps[:index], step, sender, peer, handshake)
        if step.dropped:
            explanation += f"; the {peer} would drop it: {step.dropped}"
        resets.append(
            Reset(
                segment,
                sender,
                step.sender_before.value,
                cause,
                explanation,
                step.dropped is None,
                [*evidence, segment.frame],
            )
        )
    return resets


def _answers_handshake_ack(before: list[Step], connection: Connection, handshake: Handshake) -> bool:
    """The RST follows at once the client's pure ACK of the SYN/ACK, and no data ever flowed."""
    if not before or handshake.server_isn is None:
        return False
    last = before[-1].segment
    return (
        connection.from_client(last)
        and last.flags & (SYN | FIN | RST | ACK) == ACK
        and last.ack == (handshake.server_isn + 1) % (1 << 32)
        and not any(s.segment.payload_len for s in before)
    )


def _cause(
    connection: Connection,
    before: list[Step],
    step: Step,
    sender: Side,
    peer: Side,
    handshake: Handshake,
) -> tuple[ResetCause, str, list[int]]:
    segment = step.segment
    port = connection.server[1]

    side = connection.sender

    if (
        sender == "server"
        and handshake.refusal is segment
        and not any(side(s.segment) == "server" and s.segment.flags & SYN for s in before)
    ):
        return (
            "refused",
            f"connection refused: nothing listens on port {port}; the SYN was answered with RST/ACK",
            [handshake.syns[-1].frame] if handshake.syns else [],
        )
    if sender == "server" and _answers_handshake_ack(before, connection, handshake):
        return (
            "accept_queue_overflow",
            "the server's accept queue was full when the handshake's last ACK arrived "
            "(net.ipv4.tcp_abort_on_overflow=1): it answered with RST instead of a connection",
            [before[-1].segment.frame],
        )
    fins = {side(s.segment): s.segment for s in before if s.segment.flags & FIN}
    if len(fins) == 2:
        return (
            "after_close",
            f"RST from the {sender} after both sides had sent FIN",
            [fins["client"].frame, fins["server"].frame],
        )
    if sender in fins:
        late_data = [
            s.segment
            for s in before
            if side(s.segment) == peer and s.segment.payload_len and s.segment.frame > fins[sender].frame
        ]
        if late_data:
            return (
                "data_after_close",
                f"the {peer} sent data after the {sender} had closed; a closed socket answers data with RST",
                [fins[sender].frame, late_data[-1].frame],
            )
    sent_before = [s for s in before if side(s.segment) == sender]
    if not sent_before and before:
        return (
            "no_connection",
            f"the {sender} has no connection for this 4-tuple and answered the {peer}'s segment with RST",
            [before[-1].segment.frame],
        )
    if step.sender_before in SYNCHRONIZED and sender not in fins:
        return (
            "abort",
            f"the {sender} aborted the connection without FIN (close() with unread data, "
            "SO_LINGER with zero timeout, or process exit)",
            [],
        )
    return (
        "unknown",
        f"RST from the {sender} in {step.sender_before.value}; no known cause fits",
        [],
    )


def refine_with_calls(connection: Connection, resets: list[Reset], calls: list[CallRecord]) -> None:
    """On the wire an abort is an abort; the application's calls say which one:
    - linger_abort: the sender set SO_LINGER {on, 0} before closing;
    - unread_data: the sender had read fewer bytes than its peer sent it."""
    for reset in resets:
        if reset.cause != "abort":
            continue
        own = [c for c in calls if c["side"] == reset.sender and c["time"] <= reset.segment.time]
        if any(c["call"].startswith("setsockopt(SO_LINGER, on, 0") for c in own):
            reset.cause = "linger_abort"
            reset.explanation = (
                f"the {reset.sender} closed with SO_LINGER {{on, 0 s}}: close() sends RST instead of FIN"
            )
            continue
        received = sum(
            s.payload_len
            for s in connection.segments
            if s.time <= reset.segment.time and connection.sender(s) != reset.sender
        )
        read = sum(length for c in own if c["call"].startswith("recv(") and (length := call_bytes(c)))
        if received > read:
            reset.cause = "unread_data"
            reset.explanation = (
                f"the {reset.sender} closed with {received - read} bytes it had not read: "
                "the kernel answers close() with RST"
            )
