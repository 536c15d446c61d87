"""Resends: which segments are copies of one their sender sent before, and which copy each is.

Rule: a segment that carries data, a SYN or a FIN is a copy of an earlier one from the same
sender with the same sequence number and the same SYN and FIN flags, and, for data alone, the
same length; or, for data alone that lies wholly below the furthest its sender had sent, of
the latest earlier segment of its sender whose data holds it (of the latest DATA_LOOK_BACK
with data): a capture on a sender whose NIC cuts the segments (TSO), or on a receiver or
router whose NIC coalesces them (GRO), holds packets of tens of kilobytes, of which a timer
resends one segment's worth; or, where no one holds it, of the latest of those that hold it
together (data sent again in other bounds: a lowered path MTU's smaller segments). A SYN or FIN is the same SYN or FIN whatever data rides with it: Linux resends a
Fast Open SYN that went unanswered without its data. The ACK flag is not compared (an end's
SYN/ACK after its own SYN repeats that SYN: simultaneous open) and neither is RST. One byte
of data sent while the peer's latest window is zero is a window probe (the persist timer's,
Wireshark's zero window probe), no copy and not copied: the probes that follow carry the same
byte and are no retransmissions. Nor is one byte its sender had sent before and its peer
had acknowledged, one below the sender's next: Windows's keep-alive (Linux's carries none;
Wireshark's keep-alive), sent again every interval while the peer is silent.

Two rules read the copies: loss inference (a SYN or FIN sent again was lost) and the
ladder (the n-th resend, drawn dashed with the time since the copy before). Wireshark's
out-of-order does not: it compares times only (findings/retransmissions.py). Zeek's retransmitted-data count
is not about copies and keeps its own rule (findings/zeek_conn.py): any data below the
highest sequence number seen, a hole filled late included.
"""

from __future__ import annotations

from array import array
from collections.abc import MutableSequence
from itertools import pairwise
from typing import Final

from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment, seq_diff
from analyzer.timefmt import STAMP_BOUND

_CONTROL: Final = SYN | FIN
# Data segments of each sender searched for one that holds a resend of part of it: a window's worth of
# Linux's TSO packets (64 KB each) and far more of full-sized segments.
DATA_LOOK_BACK: Final = 4_096
# Ranges below a sender's furthest data that none of its data segments carried yet (the
# capture missed them, or they come late), kept per sender: at most this many, each for at
# most HOLE_REACH bytes behind the furthest (so that sequence arithmetic stays sound).
HOLES: Final = 32
HOLE_REACH: Final = 1 << 30


def earlier_copies(segments: list[Segment]) -> dict[int, int]:
    """Index (in `segments`) of every copy -> index of the copy just before it."""
    earlier: dict[int, int] = {}
    if not segments:
        return earlier
    finder = CopyFinder(segments[0])
    for index, segment in enumerate(segments):
        before = finder.feed(index, segment)
        if before >= 0:
            earlier[index] = before
    return earlier


# The places and ring of a finder without a bound, which are never written (see CopyFinder).
_NOTHING: Final = array("q")


class _Sender:
    """What a CopyFinder keeps of one end (-1: not seen yet): native attributes, read and set
    for every segment without an int object made each time as in a list by sender."""

    def __init__(self, bounded: bool) -> None:
        self.window = -1  # the latest window it advertised
        self.next = -1  # the furthest its numbers went
        self.acked = -1  # the latest it acknowledged
        # Its data segments (not SYN or FIN), as seq, end, index, stamp one after the other,
        # of which the latest DATA_LOOK_BACK are searched: trimmed now and then. Machine
        # integers, not a tuple of four int objects each: a folded connection's 8,192 took
        # 1.6 MB (every concurrent long download held that much).
        self.data: MutableSequence[int] = array("q")
        # The furthest end of its data segments, and the holes below it, as [start, end,
        # start, end, ...] oldest first. A segment that lies partly in a hole holds data never
        # sent before: no one copies it, and its look-back need not be searched (behind
        # reordering every late segment is such a one).
        self.reach = -1
        self.holes: list[int] = []
        # When bounded, the places of its segments that started at or beyond the furthest it
        # had reached then (nearly all: a flow's data in order). Their numbers only grow, so a
        # resend finds such a first copy by bisection, and they stay out of _places, which
        # would cost three dictionary operations each; from fresh_start on still remembered.
        self.fresh: array[int] = array("q") if bounded else _NOTHING
        self.fresh_start = 0
        self.in_order = True  # fresh is kept (CopyFinder._out_of_order)

    def unsent(self, seq: int, end: int) -> bool:
        """Whether some of seq..end is in none of its data segments so far."""
        reach = self.reach
        if reach < 0:
            return False  # nothing known: the look-back (empty or short) decides
        if seq_diff(end, reach) > 0:
            return True
        holes = self.holes
        for at in range(0, len(holes), 2):
            if seq_diff(holes[at + 1], seq) > 0 and seq_diff(end, holes[at]) > 0:
                return True
        return False

    def carried(self, seq: int, end: int) -> None:
        """Marks seq..end as sent in a data segment: fills the holes it lies in, opens one
        where it starts beyond the furthest."""
        reach = self.reach
        if reach < 0:
            self.reach = end
            return
        holes = self.holes
        if seq_diff(seq, reach) >= 0:  # the common path: the next data, or beyond it
            if seq != reach:
                if len(holes) >= 2 * HOLES:
                    del holes[0:2]  # forgetting a hole only costs a search
                holes.append(reach)
                holes.append(seq)
            self.reach = end
            if holes and seq_diff(end, holes[1]) > HOLE_REACH:
                del holes[0:2]
            return
        if seq_diff(end, reach) > 0:
            self.reach = end
        if not holes:
            return
        left: list[int] = []
        for at in range(0, len(holes), 2):
            start, stop = holes[at], holes[at + 1]
            if seq_diff(stop, seq) <= 0 or seq_diff(end, start) <= 0:
                left.append(start)
                left.append(stop)
                continue
            if seq_diff(seq, start) > 0:
                left.append(start)
                left.append(seq)
            if seq_diff(stop, end) > 0:
                left.append(end)
                left.append(stop)
        holes[:] = left


class CopyFinder:
    """The rule applied as the segments come, one at a time: `feed` tells the index of the
    copy just before each one (-1 for none). With `memory`, only that many of the latest
    segments that can be copied are remembered (a connection too long to keep: a copy of
    one older than that, a resend after more than `memory` segments, counts as new) and the
    numbered resends are kept as they are found (`resends`, as numbered_resends makes them)."""

    def __init__(self, first: Segment, memory: int = 0) -> None:
        self._first_src, self._first_port = first.src, first.sport
        self._latest: dict[int, int] = {}  # copy key -> index of its latest copy (unbounded)
        self._memory = memory
        # When bounded, the latest `memory` segments remembered, in a ring: the n-th in slot
        # n % memory (its copy key, index and stamp), and by copy key the n of its latest
        # copy. No object a segment where a queue of (key, index) pairs and a dictionary of
        # stamps made three: a folded connection remembers every segment that carries data.
        self._places: dict[int, int] = {}
        self._remembered = 0
        # Machine integers: lists of int objects made a folded connection's ring 2 MB.
        # Unbounded, none is written: the one empty array (a connection's finder is made for
        # every connection, and three arrays made cost it a microsecond).
        self._ring_keys: array[int] = array("q", bytes(8 * memory)) if memory else _NOTHING
        self._ring_indexes: array[int] = array("q", bytes(8 * memory)) if memory else _NOTHING
        self._ring_stamps: MutableSequence[int] = array("q", bytes(8 * memory)) if memory else _NOTHING
        self._wide = False  # stamps held as int objects (timefmt.STAMP_BOUND)
        # Whether the slot's copy key still leads to it in _places (not remembered again since):
        # what its eviction deletes, known without looking the key up.
        self._ring_current = bytearray(memory)  # 1 where current
        self._numbers: dict[int, int] = {}  # index of a copy -> n, when bounded
        self.resends: dict[int, tuple[int, int]] = {}  # when bounded: see numbered_resends
        self._senders = [
            _Sender(memory > 0),
            _Sender(memory > 0),
        ]  # the other end's, then the first segment's
        # The most a sender's numbers may move on at once for its fresh places to stay within
        # 2**31 of each other over the `memory` remembered, and a new segment's to differ from
        # theirs (a 64 KB segment, or a gap of one, is below it): past it, _out_of_order.
        self._step_most = (1 << 31) // (memory + 1) - 1
        if not memory:
            for sender in self._senders:
                sender.in_order = False  # unbounded, every segment is looked up

    def feed(self, index: int, segment: Segment) -> int:
        if not self._wide and not -STAMP_BOUND < segment.stamp < STAMP_BOUND:
            self._widen()
        control = segment.flags & _CONTROL
        length = segment.payload_len
        sender = 1 if segment.sport == self._first_port and segment.src == self._first_src else 0
        here, peer = self._senders[sender], self._senders[1 - sender]
        peer_window = peer.window
        if not segment.flags & RST:  # a RST's window field says nothing
            here.window = segment.window
            if segment.flags & ACK:
                here.acked = segment.ack
        if not (control or length):
            return -1
        end = segment.seq_end
        furthest = here.next
        known = furthest >= 0  # the sender's first segment has nothing before it
        # How far beyond the furthest it starts and ends (read below, each worked out once).
        starts = seq_diff(segment.seq, furthest) if known else 0
        beyond = seq_diff(end, furthest) if known else 0
        if here.in_order and known and (starts > self._step_most or beyond > self._step_most):
            self._out_of_order(here)
        if not known or beyond > 0:
            here.next = end
        if length == 1 and not control:
            if peer_window == 0:
                if here.in_order and beyond > 0:
                    self._out_of_order(here)  # moved its numbers on, not remembered
                return -1
            acked = peer.acked
            if end == furthest and acked >= 0 and seq_diff(acked, end) >= 0:
                return -1
        # One int: the sender, SYN/FIN, the sequence number, then the length (data alone):
        # under 2**62 for any real segment, so that compiled it stays unboxed.
        key = segment.seq << 3 | control << 1 | sender
        if not control:
            key |= length << 35
        # When bounded, a segment that starts at or beyond the furthest its sender reached has
        # the numbers of none remembered before it (each of those ends at the furthest at
        # most, less than 2**31 behind while its sender is in_order): not looked up.
        memory = self._memory
        new = here.in_order and (not known or starts >= 0)  # never in_order when unbounded
        place = -1
        if memory:
            if not new:
                place = self._places.get(key, -1)
                if place < 0:
                    place = self._fresh_place(here, segment.seq, key)
            before = self._ring_indexes[place % memory] if place >= 0 else -1
            before_stamp = self._ring_stamps[place % memory] if place >= 0 else 0
        else:
            before = self._latest.get(key, -1)
            before_stamp = 0
        held = False  # `before` holds it among more data
        if not control:
            data = here.data
            if before < 0 and known and beyond <= 0 and not here.unsent(segment.seq, end):
                # What overlaps it, gathered on the way: where no one segment holds it, the
                # pieces that may hold it together.
                overlapping: list[tuple[int, int, int, int]] = []
                entries = len(data) >> 2
                for at in range(4 * entries - 4, 4 * max(entries - DATA_LOOK_BACK, 0) - 4, -4):
                    seq, data_end, earlier, stamp = data[at], data[at + 1], data[at + 2], data[at + 3]
                    if seq_diff(data_end, segment.seq) <= 0 or seq_diff(end, seq) <= 0:
                        continue
                    if seq_diff(segment.seq, seq) >= 0 and seq_diff(end, data_end) <= 0:
                        before, before_stamp, held = earlier, stamp, True
                        break
                    overlapping.append((seq, data_end, earlier, stamp))
                else:
                    before, before_stamp = _covered(overlapping, segment.seq, end)
                    held = before >= 0
            data.append(segment.seq)
            data.append(end)
            data.append(index)
            data.append(segment.stamp)
            if len(data) >= 8 * DATA_LOOK_BACK:
                del data[: 4 * DATA_LOOK_BACK]
            here.carried(segment.seq, end)
        if memory:
            self._remember(key, place, here if new else None, index, before, before_stamp, held, segment)
        else:
            self._latest[key] = index
        return before

    def _widen(self) -> None:
        """Stamps from now on held as int objects: one is beyond a machine integer's reach."""
        self._wide = True
        self._ring_stamps = list(self._ring_stamps)
        for sender in self._senders:
            sender.data = list(sender.data)

    def _out_of_order(self, sender: _Sender) -> None:
        """A segment of `sender` starts or ends more than _step_most beyond its furthest, or
        one not remembered moved that on: the numbers of what it sends may no longer tell
        what is new (they may come round to those of a segment remembered). Its fresh places
        go to _places (where no later copy of the same key is), and from now on every
        segment of it does."""
        memory, current = self._memory, self._ring_current
        for place in sender.fresh[self._forget_fresh(sender) :]:
            key = self._ring_keys[place % memory]
            if key not in self._places:  # one there is a later copy's
                self._places[key] = place
                current[place % memory] = 1
        del sender.fresh[:]
        sender.fresh_start = 0
        sender.in_order = False

    def _fresh_place(self, sender: _Sender, seq: int, key: int) -> int:
        """The place of the segment of `sender` remembered in its `fresh` with `key` (at `seq`),
        -1 if there is none."""
        places, memory = sender.fresh, self._memory
        low = self._forget_fresh(sender)
        high = len(places)
        keys = self._ring_keys
        while low < high:
            middle = (low + high) // 2
            if seq_diff(keys[places[middle] % memory] >> 3 & 0xFFFFFFFF, seq) < 0:
                low = middle + 1
            else:
                high = middle
        if low < len(places) and keys[places[low] % memory] == key:
            return places[low]
        return -1

    def _forget_fresh(self, sender: _Sender) -> int:
        """Moves the sender's fresh_start past the places forgotten; returns it."""
        places, start = sender.fresh, sender.fresh_start
        oldest = self._remembered - self._memory
        while start < len(places) and places[start] < oldest:
            start += 1
        if start > self._memory:
            del places[:start]
            start = 0
        sender.fresh_start = start
        return start

    def _remember(
        self,
        key: int,
        latest: int,
        new: _Sender | None,
        index: int,
        before: int,
        before_stamp: int,
        held: bool,
        segment: Segment,
    ) -> None:
        """`latest`: the place of the key's latest copy in the ring (-1: none); `new`: its
        sender, if it starts at or beyond the furthest that sender reached (kept in its
        `fresh`, not in _places)."""
        if before >= 0:
            # A segment that holds more than this one may have more resent: its number stays.
            number = (self._numbers.get(before, 0) if held else self._numbers.pop(before, 0)) + 1
            self._numbers[index] = number
            self.resends[segment.frame] = (number, before_stamp)
        memory, place = self._memory, self._remembered
        self._remembered = place + 1
        current = self._ring_current
        if new is not None:
            new.fresh.append(place)
            if len(new.fresh) >= 3 * memory:
                self._forget_fresh(new)
        else:
            self._places[key] = place
            if latest >= 0:
                current[latest % memory] = 0
        slot = place % memory
        # The slot's segment, remembered `memory` ago, is forgotten where not copied since
        # (an unwritten slot is not current).
        if current[slot]:
            del self._places[self._ring_keys[slot]]
            if self._numbers:
                self._numbers.pop(self._ring_indexes[slot], None)
        current[slot] = 1 if new is None else 0
        self._ring_keys[slot] = key
        self._ring_indexes[slot] = index
        self._ring_stamps[slot] = segment.stamp


def _covered(pieces: list[tuple[int, int, int, int]], seq: int, end: int) -> tuple[int, int]:
    """(index, stamp) of the latest of `pieces`, the earlier data segments that overlap
    seq..end, as (seq, end, index, stamp), if together they hold all of it, no one of them
    alone: data sent again in other bounds (a path's MTU lowered, the segment size with it:
    1,448-byte segments resent as 1,148-byte ones, each across two); (-1, 0) if some of it was
    not among them."""
    pieces.sort(key=lambda piece: seq_diff(piece[0], seq))
    reached = seq
    for start, stop, _index, _stamp in pieces:
        if seq_diff(start, reached) > 0:
            return -1, 0  # a hole: not all of it sent before
        if seq_diff(stop, reached) > 0:
            reached = stop
    if not pieces or seq_diff(end, reached) > 0:
        return -1, 0
    latest = max(pieces, key=lambda piece: piece[2])
    return latest[2], latest[3]


def numbered_resends(segments: list[Segment], earlier: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Frame of the n-th resend of a segment -> (n, the stamp of the copy before it): what
    the ladder draws dashed, with the interval a reader wants beside it."""
    numbers: dict[int, int] = {}  # index -> n
    resends: dict[int, tuple[int, int]] = {}
    for index, before in earlier.items():  # in index order: a copy's predecessor comes first
        number = numbers.get(before, 0) + 1
        numbers[index] = number
        resends[segments[index].frame] = (number, segments[before].stamp)
    return resends


def without_answers(
    resends: dict[int, tuple[int, int]], segments: list[Segment], answers: set[int]
) -> dict[int, tuple[int, int]]:
    """`resends` less the copies of a SYN sent at once in answer to the peer's SYN
    (findings/handshake.py, Handshake.answer_copies): no timer sent them. The timer's copies
    of the same SYN are numbered again among themselves."""
    if not answers:
        return resends
    kept = dict(resends)
    for copy in segments:
        if copy.frame not in answers:
            continue
        chain = [
            s
            for s in segments
            if s.flags & SYN and s.seq == copy.seq and s.src == copy.src and s.sport == copy.sport
        ]
        for segment in chain:
            kept.pop(segment.frame, None)
        timers = [s for s in chain if s.frame not in answers]
        for number, (before, segment) in enumerate(pairwise(timers), start=1):
            kept[segment.frame] = (number, before.stamp)
    return kept
