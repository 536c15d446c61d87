"""How the connection ended: who closed first, the shape of the close, who holds TIME_WAIT.

Shapes (the first FIN of each side decides):
- four-way: FIN, a separate ACK of it, then the other side's FIN, ACK.
- three-segment: the other side's FIN itself acknowledges the first FIN (FIN, FIN/ACK, ACK).
- simultaneous: the second FIN does not acknowledge the first: both were in flight at once.
- half-close: after the first FIN the other side still sent data, then its own FIN.
- one-fin: only one side sent a FIN (the other still open when the capture ends).
- fin-then-reset: one side sent a FIN and the connection then ended with a RST.
Both sides' FINs followed by a RST the receiver took before the second FIN was acknowledged
(the FIN that found the first closer's socket gone, findings/resets.py fin_wait_2_expired)
keep the FINs' shape in `shape` (the JSON's field since its first version) and end
`fin-then-reset` in `ending`: the close never completed, a reset ended it. `ending` is the
shape the text and the summary tell.
- reset: no FIN; the connection ended with a RST after it was established.
- none: neither FIN nor a RST of an established connection.
A FIN its peer never acknowledged (no later segment of the peer's acknowledges it, however
often it was sent) is named in `unacknowledged`: the shape is what the FINs made, but that
close did not complete, and no end is said to hold TIME_WAIT on its strength. Where the
capture ended less than FIN_ACK_WAIT after it (stopped during the close), the text says the
ACK is not in the capture, not that it never came (`capture_ended_after`), unless the FIN was
sent again (its sender's timer waited for that ACK).
A FIN the capture missed, which its peer's ACK shows (tcp_state.py, "A FIN the capture
missed"), counts as sent just before that ACK and is named in `missed`.
One FIN captured, from one end, where the capture missed the other end's last numbers (its
peer acknowledged them, or its later segments start past them: tcpdump's buffer overran)
names that end in `unseen_tail` with how many: its FIN may have been among them, so it may
have closed first; the states shown take it that it had not.
A segment of flags no TCP sends (SYN with FIN, RST with FIN: decode.segment.impossible_flags)
is no FIN and no RST here, nor is a FIN scan's probe (tcp_state.Step.probe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from analyzer.connections import SIDES, Connection, Side, peer_of
from analyzer.decode.segment import ACK, FIN, RST, SYN, UNSEEN, Segment, seq_diff
from analyzer.tcp_state import SYNCHRONIZED, Endpoint, State, Step
from analyzer.timefmt import format_duration

# A peer acknowledges a FIN within a round trip and its delayed-ACK timer (200 ms at the most),
# or the FIN is sent again: a capture that ended sooner after it cannot say it never was.
FIN_ACK_WAIT: Final = 1.0

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
    # The RST that ended the connection (a reset, or a close begun with FINs: fin-then-reset),
    # and its sender.
    reset: Segment | None = None
    reset_by: Side | None = None
    # The FINs (each side's first) no segment of the peer acknowledged.
    unacknowledged: list[Segment] | None = None
    # The end none of whose packets are in the capture (one direction passed): whether it
    # closed, and so which end closed first, the packets cannot tell.
    unseen: Side | None = None
    self_connected: bool = False  # one socket connected to itself closed it
    # The next connection's SYN on the 4-tuple, which ended the TIME_WAIT held (analysis.py).
    time_wait_ended: Segment | None = None
    # The RST answered the FIN as for no connection: its sender's had ended unseen before.
    ended_unseen_before: bool = False
    # `reset` is the next connection's on the 4-tuple (analysis.apply_stale_reset).
    reset_by_next: bool = False
    # The capture began mid-connection (no handshake): a FIN sent before it is not seen.
    began_mid: bool = False
    # The FINs the capture missed, each at the frame that shows it: the peer's ACK of it, or
    # (those in `missed_skipped`) its end's next segment, one number past it.
    missed: list[Segment] | None = None
    missed_skipped: list[Segment] | None = None
    # Of `unacknowledged`: the capture ended this soon after the last of them, sooner than
    # FIN_ACK_WAIT: its ACK may have come after (a capture stopped during the close); None
    # where the capture went on long enough to tell.
    capture_ended_after: float | None = None
    # The end without a FIN whose last numbers the capture missed, how many, and the frame of
    # its peer's that acknowledges them (None: its own later segments start past them).
    unseen_tail: tuple[Side, int, int | None] | None = None

    def __init__(
        self,
        first_fin: Side | None = None,
        shape: CloseShape = "none",
        time_wait: TimeWaitHolder | None = None,
        fins: dict[Side, Segment] | None = None,
        reset: Segment | None = None,
        reset_by: Side | None = None,
        unacknowledged: list[Segment] | None = None,
        unseen: Side | None = None,
    ) -> None:
        self.first_fin = first_fin
        self.shape = shape
        self.time_wait = time_wait
        self.fins = fins
        self.reset = reset
        self.reset_by = reset_by
        self.unacknowledged = unacknowledged
        self.unseen = unseen
        self.self_connected = False
        self.time_wait_ended = None
        self.ended_unseen_before = False
        self.reset_by_next = False
        self.began_mid = False
        self.missed = None
        self.missed_skipped = None
        self.capture_ended_after = None
        self.unseen_tail = None

    @property
    def ending(self) -> CloseShape:
        """How the connection ended: the shape, but fin-then-reset when a RST ended a close
        begun with FINs (see the module docstring)."""
        return (
            "fin-then-reset" if self.reset is not None and self.fins and self.shape != "reset" else self.shape
        )

    def _at(self, fin: Segment) -> str:
        """Where `fin` is: its frame, or the frame that shows it where the capture missed it."""
        if self.missed and fin in self.missed:
            return f"not captured; {self._shown(fin)}"
        return f"frame {fin.frame}"

    def _shown(self, fin: Segment) -> str:
        if self.missed_skipped and fin in self.missed_skipped:
            return f"frame {fin.frame}, its end's next segment, starts one number past it"
        return f"frame {fin.frame} acknowledges it"

    def _tail_clause(self) -> str:
        """What the capture missed of the end without a FIN, which may have held its FIN."""
        if self.unseen_tail is None or self.first_fin is None:
            return ""
        side, numbers, frame = self.unseen_tail
        shown = (
            f"the {self.first_fin}'s frame {frame} acknowledges them"
            if frame is not None
            else f"the {side}'s later segments start past them"
        )
        text = (
            f"; but the capture missed the {side}'s last {numbers:,} sequence number{'s' if numbers != 1 else ''} "
            f"({shown}), which may have held its FIN: the {side} may have closed first; the states shown "
            "take it that it had not"
        )
        if self.reset is None:
            text += (
                f" (had it, the {self.first_fin}'s FIN took the {self.first_fin} from CLOSE_WAIT to LAST_ACK "
                f"and the {side} from FIN_WAIT_2 to TIME_WAIT)"
            )
        return text

    def explain(self) -> str:
        if self.shape == "none":
            return "no close seen"
        if self.shape == "reset" and self.fins and self.reset is not None:
            fins = "; ".join(f"the {side}'s FIN ({self._at(fin)})" for side, fin in self.fins.items())
            return (
                f"ended by RST (frame {self.reset.frame}, from the {self.reset_by}) before any FIN; {fins} "
                "came after it"
            )
        if self.shape == "reset" and self.reset_by_next and self.reset is not None:
            return (
                f"ended by RST without FIN: the next connection's on these ports (frame {self.reset.frame}), "
                "answering this one's challenge ACK"
            )
        if self.shape == "reset":
            return "ended by RST without FIN"
        if self.self_connected and self.fins:
            fin = next(iter(self.fins.values()))
            held = "; it holds TIME_WAIT" if self.time_wait else ""
            return (
                f"the socket's FIN (frame {fin.frame}) came back to it (FIN_WAIT_1 -> CLOSING), then its ACK: "
                f"a simultaneous close with one socket{held}"
            )
        if self.unseen is not None and self.fins:
            [(side, fin)] = self.fins.items()
            text = (
                f"the {side}'s FIN (frame {fin.frame}) is the only one in the capture: none of the "
                f"{self.unseen}'s packets are, so whether it closed too, and which end closed first, "
                "cannot be told"
            )
            if self.reset is not None:
                text += f"; a RST from the {self.reset_by} (frame {self.reset.frame}) ended the connection"
            return text
        if self.ended_unseen_before and self.reset is not None and self.fins and self.first_fin is not None:
            first = self.fins[self.first_fin]
            return (
                f"the {self.reset_by}'s connection had ended without a packet before the {self.first_fin} "
                f"closed (FIN, {self._at(first)}): the {self.reset_by}'s RST (frame {self.reset.frame}) "
                "answered that FIN as for no connection"
            )
        if self.reset is not None and self.fins and self.first_fin is not None:
            first = self.fins[self.first_fin]
            other = [
                f"the {side}'s FIN followed ({self._at(fin)})"
                for side, fin in self.fins.items()
                if fin is not first
            ]
            text = f"{self.first_fin} closed first (FIN, {self._at(first)}); " + "".join(
                f"{o}; " for o in other
            )
            text += (
                f"a RST from the {self.reset_by} (frame {self.reset.frame}) ended the connection "
                f"{'before the close completed' if other else 'before the other side closed'}: fin-then-reset close"
            )
            return text + self._tail_clause()
        if self.shape == "one-fin" and self.began_mid and self.fins and self.first_fin is not None:
            silent = peer_of(self.first_fin)
            fin = self.fins[self.first_fin]
            return (
                f"the {self.first_fin}'s FIN (frame {fin.frame}) is the only one in the capture, which began "
                f"mid-connection: the {silent} may have closed before it began (its FIN not captured) or not at "
                f"all, so which end closed first cannot be told; one-fin close; the states shown take it that "
                f"the {silent} had not (had it, this FIN took the {self.first_fin} from CLOSE_WAIT to LAST_ACK "
                f"and the {silent} from FIN_WAIT_2 to TIME_WAIT)"
            )
        # "half-close" names itself; the others are shapes of a close.
        text = f"{self.first_fin} closed first; {self.shape}{'' if self.shape == 'half-close' else ' close'}"
        if self.unacknowledged and self.fins:
            sides = [side for side, fin in self.fins.items() if fin in self.unacknowledged]
            named = " and ".join(f"the {side}'s FIN (frame {self.fins[side].frame})" for side in sides)
            if self.capture_ended_after is None:
                text += f", not completed: {named} never acknowledged"
            else:
                text += (
                    f", not completed in the capture: {named} not acknowledged before it ended "
                    f"{format_duration(self.capture_ended_after)} after (an ACK may have come later)"
                )
        for fin in self.missed or ():
            side = next(side for side, sent in (self.fins or {}).items() if sent is fin)
            text += f"; the {side}'s FIN is not in the capture ({self._shown(fin)}: the capture missed it)"
        text += self._tail_clause()
        if self.time_wait and self.time_wait_ended is not None:
            holder = "both sides held" if self.time_wait == "both" else f"the {self.time_wait} held"
            text += (
                f"; {holder} TIME_WAIT until the next connection's SYN on these ports "
                f"(frame {self.time_wait_ended.frame})"
            )
        elif self.time_wait:
            holder = "both sides hold" if self.time_wait == "both" else f"the {self.time_wait} holds"
            text += f"; {holder} TIME_WAIT"
        return text


def _sent_again(connection: Connection, fin: Segment) -> bool:
    """Whether `fin` was sent again: its sender's timer waited for the ACK and it did not come."""
    return any(
        s.frame > fin.frame
        and s.flags & FIN
        and s.seq == fin.seq
        and (s.src, s.sport) == (fin.src, fin.sport)
        for s in connection.segments
    )


def find_close(
    connection: Connection,
    steps: list[Step],
    final: dict[Side, State | None],
    ends: dict[Side, Endpoint],
    silent: frozenset[Side] = frozenset(),
) -> Close:
    """`final` maps "client"/"server" to the state each end is shown in after the last
    segment (None: unknown); `ends`, to each end as the state machine left it (what it keeps
    for every segment, also of a long connection whose steps are not all kept); `silent`: the
    ends none of whose segments are in the capture."""
    close = _find_close(connection, steps)
    fins = close.fins or {}
    if len(silent) == 1 and len(fins) == 1:
        # Its one FIN is the captured end's: the other's would show only in acknowledgments,
        # where a FIN and a byte of data look alike.
        [close.unseen] = silent
        close.first_fin = None
    elif len(fins) == 1 and close.first_fin is not None:
        close.unseen_tail = _unseen_tail(peer_of(close.first_fin), ends)
    unacknowledged: list[Segment] = []
    if close.reset is None:
        for side, fin in fins.items():
            acked = ends[peer_of(side)].most_acked
            # A peer that acknowledged nothing at all (a capture of one direction) says nothing.
            if acked is not None and seq_diff(acked.ack, fin.seq_end) < 0:
                unacknowledged.append(fin)
    close.unacknowledged = unacknowledged or None
    end = connection.capture_end
    last = max(unacknowledged, key=lambda f: f.time) if unacknowledged else None
    if (
        last is not None
        and end is not None
        and end - last.time < FIN_ACK_WAIT
        and not _sent_again(connection, last)
    ):
        close.capture_ended_after = end - last.time
    # TIME_WAIT is entered on taking the peer's FIN, which its ACK would show.
    holders = [
        side
        for side in SIDES
        if final[side] == State.TIME_WAIT and fins.get(peer_of(side)) not in unacknowledged
    ]
    close.time_wait = "both" if len(holders) == 2 else (holders[0] if holders else None)
    if connection.to_itself and fins and close.reset is None:
        # One socket connected to itself: its FIN comes back to it (FIN_WAIT_1 -> CLOSING),
        # a simultaneous close with one socket; no end closed first.
        close.shape, close.first_fin, close.self_connected = "simultaneous", None, True
        close.time_wait = "client" if holders else None
    return close


def _unseen_tail(side: Side, ends: dict[Side, Endpoint]) -> tuple[Side, int, int | None] | None:
    """The numbers `side` sent past its last SYN or data byte captured, which its peer's
    ACKs or its own later segments show (a FIN among them would be its close), and the
    peer's frame that acknowledges them; None where the capture holds all it sent."""
    end = ends[side]
    if end.data_end == UNSEEN:
        return None
    reach, frame = end.snd_max, None
    acked = ends[peer_of(side)].most_acked
    if acked is not None and (reach == UNSEEN or seq_diff(acked.ack, reach) >= 0):
        reach, frame = acked.ack, acked.frame
    numbers = seq_diff(reach, end.data_end) if reach != UNSEEN else 0
    return (side, numbers, frame) if numbers > 0 else None


def _find_close(connection: Connection, steps: list[Step]) -> Close:
    """The FINs, the shape and the RST that ended it (find_close adds the rest)."""
    fins: dict[Side, Segment] = {}
    missed: list[Segment] = []
    skipped: list[Segment] = []
    for step in steps:
        segment = step.segment
        fin = step.missed_fin
        if fin is not None and connection.sender(fin) not in fins:
            fins[connection.sender(fin)] = fin
            missed.append(fin)
            if connection.sender(segment) == connection.sender(fin):
                skipped.append(fin)
        if segment.flags & (FIN | RST | SYN) == FIN and not step.probe:
            fins.setdefault(connection.sender(segment), segment)
    result = Close(fins=fins or None)
    result.missed = missed or None
    result.missed_skipped = skipped or None
    reset_after_open = next(
        (
            s.segment
            for s in steps
            if s.segment.flags & RST
            and s.dropped is None
            # Or one from an end already gone that closed a synchronized peer: the RST a kernel
            # answers a challenge ACK with, after the abort's RST was challenged.
            and (
                s.sender_before in SYNCHRONIZED
                or (
                    s.sender_before == State.CLOSED
                    and s.receiver_before in SYNCHRONIZED
                    and s.receiver_after == State.CLOSED
                )
            )
        ),
        None,
    )
    if not fins:
        result.shape = "reset" if reset_after_open is not None else "none"
        if reset_after_open is not None:
            result.reset, result.reset_by = reset_after_open, connection.sender(reset_after_open)
        return result
    if reset_after_open is not None and all(reset_after_open.frame < fin.frame for fin in fins.values()):
        # A RST its receiver took before any FIN ended the connection: a FIN after it finds
        # an end already closed (it may not know: a firewall's RST in its name).
        result.shape = "reset"
        result.reset, result.reset_by = reset_after_open, connection.sender(reset_after_open)
        return result
    first_side = min(fins, key=lambda side: fins[side].frame)
    if len(fins) == 2:
        other = fins[peer_of(first_side)]
        if fins[first_side].flags & ACK and seq_diff(fins[first_side].ack, other.seq_end) >= 0:
            # The FIN captured first acknowledges the other: sent after that one arrived, the
            # capture saw them out of order (tcp_state.py, "Captured before what it answers").
            first_side = peer_of(first_side)
    result.first_fin = first_side
    first = fins[first_side]
    if len(fins) == 1:
        rst = next(
            (
                s.segment
                for s in steps
                if s.segment.flags & (RST | SYN | FIN) == RST and s.segment.frame > first.frame
            ),
            None,
        )
        result.shape = "fin-then-reset" if rst is not None else "one-fin"
        if rst is not None:
            result.reset, result.reset_by = rst, connection.sender(rst)
        return result
    second_side: Side = "server" if first_side == "client" else "client"
    second = fins[second_side]
    result.reset = _reset_before_closed(connection, steps, first, second, first_side)
    if result.reset is not None:
        result.reset_by = connection.sender(result.reset)
    first_end = first.seq_end
    if seq_diff(second.ack, first_end) < 0:
        result.shape = "simultaneous"
        return result
    # In the order sent: a segment captured before the one it acknowledges (tcp_state.py,
    # "Captured before what it answers") right after that one.
    placed = [(_sent_order(s), s.segment) for s in steps]
    first_at, second_at = _sent_order_of(first, steps, missed), _sent_order_of(second, steps, missed)
    between = [
        segment
        for at, segment in placed
        if first_at < at < second_at and connection.sender(segment) != first_side
    ]
    # New data, not a resend of what it had sent before the first FIN (helper-119: a tail loss
    # probe of the server's reply, sent before the client's FIN and resent after it, read as a
    # half-close).
    sent_before = UNSEEN
    for at, segment in placed:
        if (
            at < first_at
            and segment.payload_len
            and connection.sender(segment) == second_side
            and (sent_before == UNSEEN or seq_diff(segment.data_end, sent_before) > 0)
        ):
            sent_before = segment.data_end
    # Data that acknowledges the first FIN was sent after it arrived, wherever the capture
    # put it: behind the second FIN where the path reordered them (helper-140's jitter).
    behind = [
        segment
        for at, segment in placed
        if at > second_at
        and connection.sender(segment) == second_side
        and segment.flags & ACK
        and seq_diff(segment.ack, first_end) >= 0
        and seq_diff(segment.data_end, second.seq) <= 0
    ]
    if any(
        segment.payload_len > 0 and (sent_before == UNSEEN or seq_diff(segment.data_end, sent_before) > 0)
        for segment in [*between, second, *behind]
    ):
        result.shape = "half-close"
    elif any(seq_diff(segment.ack, first_end) >= 0 for segment in between):
        result.shape = "four-way"
    else:
        result.shape = "three-segment"
    return result


def _sent_order(step: Step) -> tuple[int, int]:
    """Where a step stands in the order its segments were sent: its frame, or right after the
    frame of the segment it acknowledges where the capture saw it before that one."""
    if step.answers_later >= 0:
        return (step.answers_later, 1)
    return (step.segment.frame, 0)


def _sent_order_of(segment: Segment, steps: list[Step], missed: list[Segment]) -> tuple[int, int]:
    if segment in missed:
        return (segment.frame, -1)  # sent before the ACK that shows it
    return next((_sent_order(s) for s in steps if s.segment is segment), (segment.frame, 0))


def _reset_before_closed(
    connection: Connection, steps: list[Step], first: Segment, second: Segment, first_side: Side
) -> Segment | None:
    """The RST its receiver took after the first FIN and before both FINs were
    acknowledged, if any: the close never completed, the reset ended it. A RST after both
    acknowledgments comes after a complete close and ends nothing (the first FIN's may come
    last: in a simultaneous close, the second closer acknowledges it after its own FIN)."""
    first_end, second_end = first.seq_end, second.seq_end
    first_acked = second_acked = False
    # The first FIN may be captured after the second (the second acknowledges it: captured
    # before what it answers): read from whichever came first in the file.
    start = min(first.frame, second.frame)
    for step in steps:
        segment = step.segment
        if segment.frame < start:
            continue
        if segment.flags & (RST | SYN | FIN) == RST:
            return segment if step.dropped is None else None
        if not segment.flags & ACK:
            continue
        if connection.sender(segment) == first_side:
            second_acked = second_acked or (
                segment.frame > second.frame and seq_diff(segment.ack, second_end) >= 0
            )
        else:
            first_acked = first_acked or seq_diff(segment.ack, first_end) >= 0
        if first_acked and second_acked:
            return None
    return None
