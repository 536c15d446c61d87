"""Every RST: who sent it, the state its sender was in, and its cause in one sentence.

Causes, tried in this order (the first that fits):
- impossible_flags: the RST comes with SYN or FIN, flags no TCP sends: a scan's or a
  crafted packet (decode.segment.impossible_flags), applied to neither end.
- challenge_ack_answer: the sender, in SYN_SENT, answers the peer's ACK that does not
  acknowledge its SYN with a RST at that ACK's acknowledgment number (RFC 9293
  3.10.7.3) and stays in SYN_SENT. The ACK is a challenge ACK (RFC 5961 4.2): a stale
  connection on the same ports (ESTABLISHED, or TIME_WAIT, after the other end lost
  it: a reboot, a connection forgotten by a middlebox) took the SYN; the RST, exactly at
  its RCV.NXT, resets it, and the SYN sent again reaches the listener. (An old SYN/ACK
  that does not acknowledge the SYN is answered the same way: RFC 9293's recovery from
  an old duplicate SYN.)
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from analyzer.connections import Connection, Side
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment, impossible_flags
from analyzer.findings.handshake import Handshake
from analyzer.sidecar import CallRecord, call_bytes
from analyzer.tcp_state import SYNCHRONIZED, State, Step

ResetCause = Literal[
    "impossible_flags", "challenge_ack_answer", "refused", "accept_queue_overflow", "after_close",
    "data_after_close", "no_connection", "abort", "linger_abort", "unread_data", "unknown",
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
        if step.dropped and cause != "impossible_flags":
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


def _answered_unacceptable_ack(
    before: list[Step], step: Step, sender: Side, side: Callable[[Segment], Side]
) -> Segment | None:
    """The peer's segment a RST from SYN_SENT answers while its sender stays in SYN_SENT
    (tcp_state: an ACK that does not acknowledge the SYN, answered at its acknowledgment
    number), if it is one."""
    if step.sender_before != State.SYN_SENT or step.sender_after != State.SYN_SENT:
        return None
    for earlier in reversed(before):
        if side(earlier.segment) != sender:
            answered = earlier.segment
            return answered if answered.flags & ACK and answered.ack == step.segment.seq else None
    return None


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
    crafted = impossible_flags(segment.flags)
    if crafted:
        return (
            "impossible_flags",
            f"{crafted}, an impossible flag combination (a scan or a crafted packet): no TCP sends it",
            [],
        )
    answered = _answered_unacceptable_ack(before, step, sender, side)
    if answered is not None:
        syn = next(
            (s.segment for s in reversed(before) if side(s.segment) == sender and s.segment.flags & SYN), None
        )
        if answered.flags & SYN:
            what = (
                f"an old SYN/ACK from the {peer} (frame {answered.frame}) that does not acknowledge its SYN "
                "(RFC 9293's recovery from an old duplicate SYN)"
            )
        else:
            what = (
                f"the {peer}'s challenge ACK (frame {answered.frame}, RFC 5961): a stale connection on the same "
                f"ports took the SYN and answered with an ACK that does not acknowledge it"
            )
        return (
            "challenge_ack_answer",
            f"RST answering {what}; from SYN_SENT the {sender} answers such an ACK with a RST at its "
            "acknowledgment number (RFC 9293 3.10.7.3), which resets the stale connection, and stays in "
            "SYN_SENT to send its SYN again",
            [*([syn.frame] if syn is not None else []), answered.frame],
        )

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
