"""What filled each gap in a sender's numbers (Wireshark's "previous segment not captured",
lost_segment in findings/retransmissions.py): the packet first sent, arriving late (reordered
on the way: it is in the capture, nothing was lost), the sender's resend (the first was lost
before the capture point, or the capture missed it), or nothing (the capture missed it).

The segment that fills a gap is the sender's first later one that covers the gap's first
number. It is the packet first sent where its IPv4 identification comes before that of the
segment after the gap (the one flagged): a sender that counts its identifications on (Linux,
Windows, the BSDs by default) gave it the smaller number, so it was sent before, and a resend
gets the next one. Where the identifications tell nothing (IPv6 has none; equal, or too far
apart: a stack that picks them at random, or one counter for a busy host's every packet), the
time decides: a resend answers the loss a round trip later at least (duplicate ACKs, or a
timer), so a filler within half the connection's round trip of the segment after the gap, and
within REORDER_MOST, is the packet first sent; anything later a resend. (Wireshark's out of
order flag is no measure: its threshold is the handshake's round trip, seconds where the
SYN/ACK was slow.)

A long connection kept in part (long_connection.py) files its gaps as its segments come
(GapTracker), before any is let go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.connections import Connection
from analyzer.decode.segment import UNSEEN, Segment, seq_diff

# Two identifications of one sender more than this apart are not one counter's.
ID_REACH = 4_096
# The longest a packet is taken as delayed on the way (reordered) where the identifications
# tell nothing: reordering on a path takes microseconds to a few milliseconds.
REORDER_MOST = 0.010
# Gaps waiting for their filler, per sender: beyond, the oldest is taken as never filled.
PENDING_MOST = 1_024


@dataclass
class GapFills:
    """The frames flagged after a gap, by what filled it, each with its filler's frame."""

    reordered: list[tuple[int, int]] = field(default_factory=list)
    resent: list[tuple[int, int]] = field(default_factory=list)
    unfilled: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "reordered": [{"gap_after": gap, "filled_by": filler} for gap, filler in self.reordered],
            "resent": [{"gap_after": gap, "filled_by": filler} for gap, filler in self.resent],
            "unfilled": self.unfilled,
        }


def gap_fills(connection: Connection, flags: dict[int, list[str]], rtt: float | None) -> GapFills | None:
    """None where nothing is flagged after a gap. `rtt`: the handshake's round trip, where
    measured."""
    if not any("lost_segment" in kinds for kinds in flags.values()):
        return None
    tracker = GapTracker()
    from_client = connection.from_client
    for segment in connection.segments:
        kinds = flags.get(segment.frame)
        tracker.feed(segment, from_client(segment), kinds is not None and "lost_segment" in kinds)
    return tracker.result(rtt)


class GapTracker:
    """Takes a connection's segments in capture order, each with whether Wireshark's rules
    flag it after a gap (a long connection's as they come, long_connection.py); `result`
    files the gaps. Holds the gaps not yet filled (PENDING_MOST at most for each sender) and
    one entry for each gap filled."""

    def __init__(self) -> None:
        self._furthest: dict[bool, int] = {}  # by sender (from the client?): the end of its numbers so far
        self._waiting: dict[bool, list[tuple[int, Segment]]] = {True: [], False: []}  # (gap's start, flagged)
        # (flagged, filler, what the identifications say: 1 sent first, 0 after, -1 nothing;
        # the filler's delay after the flagged one)
        self._filled: list[tuple[int, int, int, float]] = []
        self._unfilled: list[int] = []

    def feed(self, segment: Segment, from_client: bool, after_gap: bool) -> None:
        if not segment.seq_space:
            return
        waiting = self._waiting[from_client]
        if waiting:
            for entry in [e for e in waiting if _covers(segment, e[0])]:
                waiting.remove(entry)
                flagged = entry[1]
                told = _sent_before(segment, flagged)
                verdict = -1 if told is None else int(told)
                self._filled.append((flagged.frame, segment.frame, verdict, segment.time - flagged.time))
        end = self._furthest.get(from_client)
        if end is not None and after_gap and seq_diff(segment.seq, end) > 0:
            waiting.append((end, segment))
            if len(waiting) > PENDING_MOST:
                self._unfilled.append(waiting.pop(0)[1].frame)
        if end is None or seq_diff(segment.seq_end, end) > 0:
            self._furthest[from_client] = segment.seq_end

    def result(self, rtt: float | None) -> GapFills | None:
        """The gaps filed; None without any. A filler the identifications say nothing of is
        the packet first sent within half `rtt` and REORDER_MOST."""
        soon = min(REORDER_MOST, rtt / 2) if rtt else REORDER_MOST
        fills = GapFills()
        for flagged, filler, verdict, delay in self._filled:
            first = verdict == 1 if verdict >= 0 else delay < soon
            (fills.reordered if first else fills.resent).append((flagged, filler))
        unfilled = self._unfilled + [
            flagged.frame for waiting in self._waiting.values() for _, flagged in waiting
        ]
        fills.unfilled = sorted(unfilled)
        return fills if fills.reordered or fills.resent or fills.unfilled else None


def _covers(segment: Segment, number: int) -> bool:
    return seq_diff(segment.seq, number) <= 0 < seq_diff(segment.seq_end, number)


def _sent_before(filler: Segment, flagged: Segment) -> bool | None:
    """Whether the sender's IPv4 identifications put `filler` before `flagged`; None where
    they tell nothing."""
    if UNSEEN in (filler.ip_id, flagged.ip_id) or filler.ip_id == flagged.ip_id:
        return None
    if (flagged.ip_id - filler.ip_id) & 0xFFFF < ID_REACH:
        return True
    if (filler.ip_id - flagged.ip_id) & 0xFFFF < ID_REACH:
        return False
    return None
