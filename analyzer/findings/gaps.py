"""What filled each gap in a sender's numbers (Wireshark's "previous segment not captured",
lost_segment in findings/retransmissions.py): the packet first sent, arriving late (reordered
on the way: it is in the capture, nothing was lost), the sender's resend (the first was lost
before the capture point, or the capture missed it), or nothing (the capture missed it).

The segment that fills a gap is the sender's first later one that covers the gap's first
number. It is the packet first sent where its IPv4 identification comes before that of the
segment after the gap (the one flagged): a sender that counts its identifications on (Linux,
Windows, the BSDs by default) gave it the smaller number, so it was sent before, and a resend
gets the next one. Only a sender whose identifications are seen to count on is read so (its
in-order segments' steps small and forward: random ones, OpenBSD's or a NAT's scrub, would
put a resend "before" one time in sixteen); for others, only identifications ID_ADJACENT or
less apart. Where the identifications tell nothing (IPv6 has
none; equal, or too far apart; random), the time decides: a resend answers the loss a round
trip later at least (duplicate ACKs, or a timer), so a filler within half the connection's
round trip of the segment after the gap, and within REORDER_MOST, is the packet first sent;
anything later a resend; and without a measured round trip (no handshake captured), a resend
(on a LAN one comes within a millisecond). (Wireshark's out of order flag is no measure: its
threshold is the handshake's round trip, seconds where the SYN/ACK was slow.)

A resend can fill a gap before the packet first sent arrives: a path that delays some packets
by more than the sender waits before resending (RACK's reordering window, a few milliseconds)
delivers the resend, then the original. Where the original comes after all, the gap was
reordering, not loss (the resend spurious), and it is filed so, with the original as its
filler: where its identification comes before both the flagged segment's and the resend's,
ID_REACH apart at most, from a sender whose identifications count on (random ones put a
later copy "before" half the time).

A long connection kept in part (long_connection.py) files its gaps as its segments come
(GapTracker), before any is let go.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment, seq_diff

# Two identifications of one sender more than this apart are not one counter's.
ID_REACH: Final = 4_096
# The longest a packet is taken as delayed on the way (reordered) where the identifications
# tell nothing: reordering on a path takes microseconds to a few milliseconds.
REORDER_MOST: Final = 0.010
# A sender's identifications count on where this share of the steps between its segments
# that advance its numbers are forward and at most ID_STEP_MOST (a counter per connection,
# or a busy host's one), ID_STEPS_LEAST steps at least; else they tell nothing.
ID_STEP_MOST: Final = 64
ID_COUNTER_SHARE: Final = 0.9
ID_STEPS_LEAST: Final = 1
# Without a counter seen, identifications this near tell the order still: random ones fall so
# near one time in 8,192.
ID_ADJACENT: Final = 8
# Gaps waiting for their filler, per sender: beyond, the oldest is taken as never filled.
PENDING_MOST = 1_024  # not Final: a test sets it, and compiled code reads it then
# Gaps filled by a resend (its identification after the flagged segment's), per sender,
# watched for the packet first sent coming after it: beyond, the oldest is no longer.
WATCHED_MOST: Final = 64


@dataclass
class GapFills:
    """The frames flagged after a gap, by what filled it, each with its filler's frame."""

    reordered: list[tuple[int, int]] = field(default_factory=list)
    resent: list[tuple[int, int]] = field(default_factory=list)
    unfilled: list[int] = field(default_factory=list)
    # The bytes of the gaps never filled (before the segments of `unfilled`): how much the
    # capture or the path lost, told in bytes where a count of segments hides it (helper-147:
    # 357 segments after a gap, 276 MB never captured).
    unfilled_bytes: int = 0
    # ACKs of data not yet seen (Wireshark's "ACKed segment that wasn't captured") whose data
    # the file holds after them, stamped before them: (the ACK's frame, the data's). The
    # file's order is not its times' (several CPUs' capture buffers): nothing was missed.
    filed_late: list[tuple[int, int]] = field(default_factory=list)
    # The fillers of `reordered` that only their time said were the packet first sent (no
    # identification told): the weaker reading, which a fast retransmission can meet.
    timed: list[int] = field(default_factory=list)
    # Flagged only because the capture began with an end's keep-alive or window probes (no
    # data, one below its next number, sent more than once before any of its numbers): the
    # peer's ACK one past them ("ACKed segment that wasn't captured") and that end's first
    # segment with numbers, one past them ("previous segment not captured"). Nothing missed
    # (helper-131's mid2). Frames flagged for acknowledging, then for a gap.
    probe_acks: list[int] = field(default_factory=list)
    after_probes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "reordered": [{"gap_after": gap, "filled_by": filler} for gap, filler in self.reordered],
            "resent": [{"gap_after": gap, "filled_by": filler} for gap, filler in self.resent],
            "unfilled": self.unfilled,
            "unfilled_bytes": self.unfilled_bytes,
            "filed_after_their_ack": [{"ack": ack, "data": data} for ack, data in self.filed_late],
            "after_probes": sorted(self.probe_acks + self.after_probes),
        }


def gap_fills(connection: Connection, flags: dict[int, list[str]], rtt: float | None) -> GapFills | None:
    """None where nothing is flagged after a gap. `rtt`: the handshake's round trip, where
    measured."""
    if not any("lost_segment" in kinds or "ack_lost_segment" in kinds for kinds in flags.values()):
        return None
    tracker = GapTracker()
    from_client = connection.from_client
    for segment in connection.segments:
        kinds = flags.get(segment.frame)
        tracker.feed(
            segment,
            from_client(segment),
            kinds is not None and "lost_segment" in kinds,
            kinds is not None and "ack_lost_segment" in kinds,
        )
    return tracker.result(rtt)


class _Side:
    """What a GapTracker keeps of one sender: native attributes, where dictionaries by the
    sender were looked up for every segment."""

    def __init__(self) -> None:
        self.furthest = -1  # the end of its numbers so far (-1: none yet)
        self.isn = -1  # its latest SYN's sequence number (-1: none yet)
        # (gap's start, the segment flagged after it, whether a filler filled its beginning
        # already: the rest of a gap of several segments), oldest first
        self.waiting: deque[tuple[int, Segment, bool]] = deque()
        # Oldest first: the gaps a resend filled, watched for the packet first sent
        # (WATCHED_MOST), as (gap's start, its entry in _filled, the flagged segment's
        # identification, its time, the resend's identification); made at the first.
        self.watched: deque[tuple[int, int, int, float, int]] | None = None
        # Its IPv4 identifications from one segment that advanced its numbers to the next: the
        # last one (0: none yet), and how many steps were small and forward of how many. A
        # counter's are (Linux, Windows); random ones (OpenBSD, macOS's random_id, a NAT's
        # scrub) tell nothing of order.
        self.last_id = 0
        self.small_steps = 0
        self.steps = 0
        # ACKs of its data not yet seen, as (the last number acknowledged, the ACK's frame, its
        # stamp), PENDING_MOST of them; made at the first.
        self.acked_ahead: deque[tuple[int, int, int]] | None = None
        # The number of its bare segments (no data, SYN, FIN or RST) before any of its numbers
        # (-1: none yet, or not all at one number), and how many: probes, where the peer
        # acknowledges one past it.
        self.bare_seq = -1
        self.bare_count = 0
        self.bare_time = 0.0  # the latest one's time
        self.probe_acked = False  # the peer acknowledged one past them, with a bare ACK
        self.resumed = False  # its first segment with numbers began one past them


class GapTracker:
    """Takes a connection's segments in capture order, each with whether Wireshark's rules
    flag it after a gap (a long connection's as they come, long_connection.py); `result`
    files the gaps. Holds the gaps not yet filled (PENDING_MOST at most for each sender) and
    one entry for each gap filled."""

    def __init__(self) -> None:
        self._sides = [_Side(), _Side()]  # the server's, the client's
        # (flagged, filler, sender, how far the filler's identification comes before the
        # flagged one's (_id_order); the filler's delay after the flagged one)
        self._filled: list[tuple[int, int, bool, int, float]] = []
        self._unfilled: list[int] = []
        self._unfilled_bytes = 0  # the bytes of the gaps before them (GapFills.unfilled_bytes)
        # Gaps the packet first sent came to after its resend, as (entry in _filled, its frame,
        # how far its identification comes before the flagged one's, its delay after it):
        # refiled by `result` where the sender's identifications count on.
        self._late: list[tuple[int, int, int, float]] = []
        self._filed_late: list[tuple[int, int]] = []
        # Frames flagged after a gap that an end's probes may explain, with whether that end
        # is the client (GapFills.probe_acks, after_probes).
        self._probe_acks: list[tuple[int, bool]] = []
        self._after_probes: list[tuple[int, bool]] = []

    def feed(self, segment: Segment, from_client: bool, after_gap: bool, acked_ahead: bool = False) -> None:
        """`acked_ahead`: Wireshark's rules flag it for acknowledging data not seen."""
        side, peer = (self._sides[1], self._sides[0]) if from_client else (self._sides[0], self._sides[1])
        if side.furthest < 0 and not segment.seq_space and not segment.flags & RST:
            if side.bare_count and (
                segment.seq != side.bare_seq or segment.time - side.bare_time < PROBES_APART
            ):
                side.bare_count = -1  # numbers of several, or sooner than a timer's: no probes
            elif side.bare_count >= 0:
                side.bare_seq, side.bare_count = segment.seq, side.bare_count + 1
            side.bare_time = segment.time
        # One past the probes (the peer's ACK shows them one below the end's next number); then
        # the end's first segment with numbers, one past them; then, Wireshark's numbers one
        # short of the end's since, what the capture holds of that end: filed by `result`
        # where the end probed twice or more (helper-133's middl: a downloading client's pure
        # ACKs at its next number, a segment of its missed, are no probes).
        one_past = (
            peer.furthest < 0 and peer.bare_count > 0 and (segment.ack - 1) & 0xFFFFFFFF == peer.bare_seq
        )
        if (
            one_past
            and segment.flags & ACK
            and not segment.payload_len
            and not segment.flags & (SYN | FIN | RST)
        ):
            peer.probe_acked = True  # a bare ACK, as an answer to a probe is
        if acked_ahead and (
            (one_past and segment.flags & ACK)
            or (peer.furthest >= 0 and peer.resumed and seq_diff(segment.ack, peer.furthest) <= 0)
        ):
            self._probe_acks.append((segment.frame, not from_client))
            acked_ahead = False
        if (
            after_gap
            and side.furthest < 0
            and side.probe_acked
            and not segment.flags & RST
            and segment.seq == (side.bare_seq + 1) & 0xFFFFFFFF
        ):
            self._after_probes.append((segment.frame, from_client))
            side.resumed = True
        if acked_ahead:
            acks = peer.acked_ahead
            if acks is None:
                acks = peer.acked_ahead = deque(maxlen=PENDING_MOST)
            acks.append(((segment.ack - 1) & 0xFFFFFFFF, segment.frame, segment.stamp))
        early_acks = side.acked_ahead
        if early_acks and segment.seq_space:
            for ack in [ack for ack in early_acks if _covers(segment, ack[0])]:
                early_acks.remove(ack)
                if segment.stamp <= ack[2]:
                    self._filed_late.append((ack[1], segment.frame))
        if not segment.seq_space:
            return
        if segment.flags & SYN:
            if side.isn >= 0 and segment.seq != side.isn:
                # A new ISN: its numbers start again, and no later segment fills a gap of
                # the old ones.
                for start, flagged, rest in side.waiting:
                    if not rest:
                        self._unfilled.append(flagged.frame)
                        self._unfilled_bytes += seq_diff(flagged.seq, start)
                side.waiting.clear()
                side.watched = None
                side.furthest = -1
            side.isn = segment.seq
        end = side.furthest
        waiting = side.waiting
        # Only a segment that starts below the furthest end can fill a gap.
        if end >= 0 and seq_diff(segment.seq, end) < 0:
            watched = side.watched
            if watched:
                self._late_original(segment, watched)
            for entry in [entry for entry in waiting if _fills(segment, entry)]:
                waiting.remove(entry)
                flagged = entry[1]
                if seq_diff(segment.seq_end, flagged.seq) < 0:
                    # The gap held more than this segment: the next that covers the rest
                    # fills it too (each segment of the gap is a resend, or reordered).
                    waiting.append((segment.seq_end, flagged, True))
                ahead = id_order(segment, flagged)
                if ahead < 0:
                    if watched is None:
                        watched = side.watched = deque(maxlen=WATCHED_MOST)
                    watched.append((entry[0], len(self._filled), flagged.ip_id, flagged.time, segment.ip_id))
                self._filled.append(
                    (flagged.frame, segment.frame, from_client, ahead, segment.time - flagged.time)
                )
        if end >= 0 and after_gap and seq_diff(segment.seq, end) > 0:
            waiting.append((end, segment, False))
            if len(waiting) > PENDING_MOST:
                start, oldest, rest = waiting.popleft()
                if not rest:
                    self._unfilled.append(oldest.frame)
                    self._unfilled_bytes += seq_diff(oldest.seq, start)
        if end < 0 or seq_diff(segment.seq_end, end) > 0:
            side.furthest = segment.seq_end
            if segment.ip_id > 0:  # 0: not set (a Linux SYN/ACK's, many a DF packet's)
                if side.last_id > 0:
                    side.small_steps += _counts_on_step(side.last_id, segment.ip_id)
                    side.steps += 1
                side.last_id = segment.ip_id

    def _late_original(self, segment: Segment, watched: deque[tuple[int, int, int, float, int]]) -> None:
        """Notes `segment` for the watched gaps it covers where its identification comes
        before both the flagged segment's and the resend's (the packet first sent, after its
        resend), ID_REACH apart at most."""
        for entry in [entry for entry in watched if _covers(segment, entry[0])]:
            _start, at, flagged_id, flagged_time, resend_id = entry
            ahead = _ids_ahead(segment.ip_id, flagged_id)
            if 0 < ahead < ID_REACH and 0 < _ids_ahead(segment.ip_id, resend_id) < ID_REACH:
                watched.remove(entry)
                self._late.append((at, segment.frame, ahead, segment.time - flagged_time))

    def counts_on(self, from_client: bool) -> bool:
        """Whether the sender's identifications count on (ID_COUNTER_SHARE of its steps small
        and forward, ID_STEPS_LEAST of them at least)."""
        side = self._sides[1 if from_client else 0]
        return _counter(side.small_steps, side.steps)

    def result(self, rtt: float | None) -> GapFills | None:
        """The gaps filed; None without any. Where the identifications tell nothing, a filler
        within half `rtt` and REORDER_MOST is the packet first sent; without a measured round
        trip, none is (a resend on a LAN comes within a millisecond)."""
        fills = GapFills()
        trusted = {side: self.counts_on(side) for side in (True, False)}
        filled = list(self._filled)
        for at, frame, ahead, delay in self._late:
            flagged, _resend, side, _ahead, _delay = filled[at]
            if trusted[side]:
                filled[at] = (flagged, frame, side, ahead, delay)
        for flagged, filler, side, ahead, delay in filled:
            reach = ID_REACH if trusted[side] else ID_ADJACENT
            if 0 < ahead < reach:
                first = True
            elif 0 < -ahead < reach:
                first = False
            else:
                first = rtt is not None and rtt > 0 and delay < min(REORDER_MOST, rtt / 2)
                if first:
                    fills.timed.append(filler)
            (fills.reordered if first else fills.resent).append((flagged, filler))
        fills.reordered.sort()  # by the segment flagged: a late original refiled its gap
        fills.resent.sort()
        waiting = [
            (start, flagged) for side in self._sides for start, flagged, rest in side.waiting if not rest
        ]
        fills.unfilled = sorted(self._unfilled + [flagged.frame for _start, flagged in waiting])
        fills.unfilled_bytes = self._unfilled_bytes + sum(
            seq_diff(flagged.seq, start) for start, flagged in waiting
        )
        fills.filed_late = sorted(self._filed_late)
        probed = {side: self._sides[1 if side else 0].bare_count >= PROBES_LEAST for side in (True, False)}
        fills.probe_acks = [frame for frame, side in self._probe_acks if probed[side]]
        fills.after_probes = [frame for frame, side in self._after_probes if probed[side]]
        return (
            fills
            if fills.reordered
            or fills.resent
            or fills.unfilled
            or fills.filed_late
            or fills.probe_acks
            or fills.after_probes
            else None
        )


# Bare segments at one number before any of an end's numbers: a keep-alive's or a window
# probe's timer sends them again; one alone may be a pure ACK before data the capture missed.
PROBES_LEAST: Final = 2
# And a timer's interval apart at least (the persist timer's least, TCP_RTO_MIN): pure ACKs
# 50 ms apart are an interactive end's (helper-134's g2key).
PROBES_APART: Final = 0.2


def ids_count_on(segments: list[Segment]) -> bool:
    """Whether one sender's IPv4 identifications, over its `segments` that advance its
    numbers (in capture order), count on: ID_COUNTER_SHARE of the steps small and forward."""
    small = steps = 0
    end = last = -1
    for segment in segments:
        if not segment.seq_space or (end >= 0 and seq_diff(segment.seq_end, end) <= 0):
            continue
        end = segment.seq_end
        if segment.ip_id > 0:
            if last >= 0:
                small += _counts_on_step(last, segment.ip_id)
                steps += 1
            last = segment.ip_id
    return _counter(small, steps)


def _counts_on_step(last: int, ip_id: int) -> bool:
    return 0 < (ip_id - last) & 0xFFFF <= ID_STEP_MOST


def _counter(small: int, steps: int) -> bool:
    return steps >= ID_STEPS_LEAST and small >= ID_COUNTER_SHARE * steps


def _fills(segment: Segment, entry: tuple[int, Segment, bool]) -> bool:
    """Whether `segment` fills the gap of `entry`: covers its first number or, the rest of a
    gap begun (its beginning filled), lies in it: a piece of the rest the capture missed too
    leaves the next filler starting past it."""
    start, flagged, rest = entry
    return _covers(segment, start) or (
        rest and seq_diff(segment.seq, start) > 0 and seq_diff(segment.seq, flagged.seq) < 0
    )


def _covers(segment: Segment, number: int) -> bool:
    return seq_diff(segment.seq, number) <= 0 < seq_diff(segment.seq_end, number)


def id_order(filler: Segment, flagged: Segment) -> int:
    """How many identifications the filler's comes before the flagged segment's (negative:
    after), the nearer way round the 16-bit counter; 0 where they tell nothing (either
    unknown or 0, the same)."""
    return _ids_ahead(filler.ip_id, flagged.ip_id)


def _ids_ahead(first: int, then: int) -> int:
    """How many identifications `first` comes before `then` (negative: after), the nearer
    way round the 16-bit counter; 0 where they tell nothing (either unknown or 0, the same)."""
    if first <= 0 or then <= 0 or first == then:
        return 0
    ahead = (then - first) & 0xFFFF
    return ahead if ahead < 0x8000 else ahead - 0x10000
