"""How the connection ended: who closed first, the shape of the close, who holds TIME_WAIT.

Shapes (the first FIN of each side decides):
- four-way: FIN, a separate ACK of it, then the other side's FIN, ACK.
- three-segment: the other side's FIN itself acknowledges the first FIN (FIN, FIN/ACK, ACK).
- simultaneous: the second FIN does not acknowledge the first: both were in flight at once.
- half-close: after the first FIN the other side still sent data, then its own FIN.
- one-fin: only one side sent a FIN (the other still open when the capture ends).
- fin-then-reset: one side sent a FIN and the connection then ended with a RST.
- reset: no FIN; the connection ended with a RST after it was established.
- none: neither FIN nor a RST of an established connection.
A segment of flags no TCP sends (SYN with FIN, RST with FIN: decode.segment.impossible_flags)
is no FIN and no RST here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analyzer.connections import Connection, Side
from analyzer.decode.segment import FIN, RST, SYN, Segment, seq_diff
from analyzer.tcp_state import SYNCHRONIZED, State, Step

CloseShape = Literal[
    "four-way", "three-segment", "simultaneous", "half-close", "one-fin", "fin-then-reset", "reset", "none"
]
TimeWaitHolder = Literal["client", "server", "both"]


@dataclass
class Close:
    first_fin: Side | None = None
    shape: CloseShape = "none"
    time_wait: TimeWaitHolder | None = None
    fins: dict[Side, Segment] | None = None

    def __init__(
        self,
        first_fin: Side | None = None,
        shape: CloseShape = "none",
        time_wait: TimeWaitHolder | None = None,
        fins: dict[Side, Segment] | None = None,
    ) -> None:
        self.first_fin = first_fin
        self.shape = shape
        self.time_wait = time_wait
        self.fins = fins

    def explain(self) -> str:
        if self.shape == "none":
            return "no close seen"
        if self.shape == "reset":
            return "ended by RST without FIN"
        text = f"{self.first_fin} closed first; {self.shape} close"
        if self.time_wait:
            holder = "both sides hold" if self.time_wait == "both" else f"the {self.time_wait} holds"
            text += f"; {holder} TIME_WAIT"
        return text


def find_close(connection: Connection, steps: list[Step], final: dict[Side, State]) -> Close:
    """`final` maps "client"/"server" to the state each end is in after the last segment."""
    fins: dict[Side, Segment] = {}
    for step in steps:
        segment = step.segment
        if segment.flags & (FIN | RST | SYN) == FIN:
            fins.setdefault(connection.sender(segment), segment)
    holders: list[Side] = [side for side in ("client", "server") if final[side] == State.TIME_WAIT]
    result = Close(fins=fins or None)
    result.time_wait = "both" if len(holders) == 2 else (holders[0] if holders else None)
    reset_after_open = any(
        s.segment.flags & RST and s.dropped is None and s.sender_before in SYNCHRONIZED for s in steps
    )
    if not fins:
        result.shape = "reset" if reset_after_open else "none"
        return result
    first_side = min(fins, key=lambda side: fins[side].frame)
    result.first_fin = first_side
    first = fins[first_side]
    if len(fins) == 1:
        ended_by_rst = any(
            s.segment.flags & (RST | SYN | FIN) == RST and s.segment.frame > first.frame for s in steps
        )
        result.shape = "fin-then-reset" if ended_by_rst else "one-fin"
        return result
    second = fins["server" if first_side == "client" else "client"]
    first_end = first.seq_end
    if seq_diff(second.ack, first_end) < 0:
        result.shape = "simultaneous"
        return result
    between = [
        s.segment
        for s in steps
        if first.frame < s.segment.frame < second.frame and connection.sender(s.segment) != first_side
    ]
    if any(segment.payload_len > 0 for segment in [*between, second]):
        result.shape = "half-close"
    elif any(seq_diff(segment.ack, first_end) >= 0 for segment in between):
        result.shape = "four-way"
    else:
        result.shape = "three-segment"
    return result
