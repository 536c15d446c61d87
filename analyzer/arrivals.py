"""Which of a receiver's state changes the capture proves: a segment in the file reached the
capture point, not necessarily its receiver.

The state machine (tcp_state.py) moves a receiver on every segment it would accept, as if
the capture had been taken at it. This module keeps such a move only where the capture
shows it happened:
- the capture was taken at the receiver, or on the host both ends run on (the vantage,
  findings/vantage.py): what the file holds reached it. Likewise where nothing places the
  capture away from either end (vantage "unknown": both handshake legs at once, both ends'
  TTLs untouched, or nothing to read them from): one host or one LAN, read as if at both;
- or the receiver's later segments show it arrived: one of them acknowledges it (an
  acknowledgment at or past the segment's end; acknowledgments are cumulative).
A SYN/ACK to an end in SYN_SENT is the exception both ways: a socket that takes one
acknowledges it at once, so the move to ESTABLISHED it brings is kept only when the receiver acknowledges it, wherever
the capture was taken (a SYN scan's scanner, which has no socket, never does). A RST is
never acknowledged: its move is kept only where the capture was taken at its receiver.

From the first move the capture does not prove, the end's state is State.UNKNOWN, with a
sentence that says which segment and what the end would be in had it arrived; only the
end's own RST, which closes it whatever it was in, tells its state again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.connections import Connection, Side
from analyzer.decode.segment import ACK, RST, SYN, Segment, seq_diff
from analyzer.findings.vantage import POINT_TEXT
from analyzer.tcp_state import State
from analyzer.timefmt import format_duration


@dataclass
class ProvenStates:
    """Each end's history with the moves the capture does not prove made UNKNOWN."""

    states: dict[Side, list[tuple[float, State]]]
    frames: dict[Side, list[int | None]]
    notes: list[str] = field(default_factory=list)


def prove_states(
    connection: Connection,
    states: dict[Side, list[tuple[float, State]]],
    frames: dict[Side, list[int | None]],
    point: str,
    latest: dict[Side, Segment | None] | None = None,
) -> ProvenStates:
    """`states` and `frames` as the machine made them (not changed); `point`: the vantage;
    `latest`: each end's last segment, for a long connection that kept only some of them."""
    by_frame = {s.frame: s for s in connection.segments}
    proven = ProvenStates({}, {})
    for side in ("client", "server"):
        history, causes = states[side], frames[side]
        sent = [s for s in connection.segments if connection.sender(s) == side]
        last = (latest or {}).get(side)
        if last is not None and (not sent or last.frame > sent[-1].frame):
            sent.append(last)
        cut = _first_unproven(side, history, causes, by_frame, sent, point, connection)
        if cut is None:
            proven.states[side], proven.frames[side] = history, causes
            continue
        index, why = cut
        kept, kept_frames = history[:index], causes[:index]
        kept.append((history[index][0], State.UNKNOWN))
        kept_frames.append(causes[index])
        # Its own RST closes it whatever it was in: from there its state is known again.
        for (time, state), frame in zip(history[index + 1 :], causes[index + 1 :], strict=True):
            segment = by_frame.get(frame) if frame is not None else None
            if segment is not None and segment.flags & RST and connection.sender(segment) == side:
                kept.append((time, state))
                kept_frames.append(frame)
        proven.states[side], proven.frames[side] = kept, kept_frames
        proven.notes.append(why)
    return proven


def _first_unproven(
    side: Side,
    history: list[tuple[float, State]],
    causes: list[int | None],
    by_frame: dict[int, Segment],
    sent: list[Segment],
    point: str,
    connection: Connection,
) -> tuple[int, str] | None:
    """The index of `side`'s first move the capture does not prove, and why; None if all are."""
    at_receiver = point in ("one_host", "unknown", side)
    origin = connection.first_time
    for index in range(1, len(history)):
        frame = causes[index]
        segment = by_frame.get(frame) if frame is not None else None
        if segment is None or connection.sender(segment) == side:
            continue  # its own send, or a timeout from the call log
        state = history[index][1]
        synack = segment.flags & (SYN | ACK) == SYN | ACK
        if synack and state == State.ESTABLISHED and history[index - 1][1] == State.SYN_SENT:
            if _acknowledged(segment, sent):
                continue
            where = "reached it" if at_receiver else "reached the capture point"
            return index, (
                f"the {side}'s state from +{format_duration(segment.time - origin)} is unknown: it never "
                f"acknowledged the SYN/ACK (frame {frame}) that {where}, so no socket took it (a SYN scan's "
                "raw probe, or a connect() given up) or it never arrived; a socket that took it would be "
                "ESTABLISHED"
            )
        if at_receiver or (not segment.flags & RST and _acknowledged(segment, sent)):
            continue
        shown = (
            "a RST is never acknowledged"
            if segment.flags & RST
            else f"nothing the {side} sent after acknowledges it"
        )
        return index, (
            f"the {side}'s state from +{format_duration(segment.time - origin)} is unknown: the capture was "
            f"taken {POINT_TEXT.get(point, point)}, frame {frame} may not have reached the {side} ({shown}); "
            f"had it, the {side} would be in {state.value}"
        )
    return None


def _acknowledged(segment: Segment, sent: list[Segment]) -> bool:
    """Whether a segment in `sent` after `segment` acknowledges all of it."""
    end = segment.seq_end
    return any(
        later.frame > segment.frame and later.flags & ACK and seq_diff(later.ack, end) >= 0 for later in sent
    )
