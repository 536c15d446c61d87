"""Clocks of a pcapng's interfaces that disagree, told from the packets themselves.

A tap that splits a link's two directions onto two ports, captured on two interfaces (or two
captures merged with mergecap), stamps each direction with its own interface's clock. Where
one clock runs behind the other, a file merged by time puts a segment after the ACK that
acknowledges it: the analysis reads the segment as missed by the capture and then resent, its
RTT wrong by the offset, its states in the wrong order (helper-104's two-interface files:
100 us of offset made a retransmission in every connection; 5 ms, every handshake "ACK not
taken"). Nothing in the file says so but causality: an acknowledgment comes after what it
acknowledges. Each ACK captured before the segment it acknowledges bounds the offset from
below; each ACK captured after it, from the other side, so the two together bound it.

Only a connection whose each direction came on one interface, the two on two different ones,
tells: where an interface saw both directions (two capture points, each seeing all), copies
of one packet are the same packet seen twice (connections.py's forwarded copies).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Final

from analyzer.decode.segment import ACK, Segment, seq_diff
from analyzer.parallel.partition import Share
from analyzer.timefmt import format_duration

# Segments read for it, at most: an offset between two clocks shows in the first connections,
# and a file of many millions pays for no more than this many.
FEED_LIMIT: Final = 200_000
# Connections followed at once, at most: past it, the one followed longest is dropped (a
# flood's or a scan's attempts each take one, and left the connections after them unread).
FLOW_LIMIT: Final = 20_000
# An acknowledgment captured this much before what it acknowledges, or less, is no evidence:
# one interface's packets reach the capture through its own buffer (microseconds).
LEAST_OFFSET: Final = 0.000_010
# ... nor one that came further ahead than this: the segment that covers it is then more
# likely a resend the capture saw, of a copy it missed, than the same packet stamped late
# (an offset of 150 ms went untold at 100 ms: helper-105).
MOST_OFFSET: Final = 5.0
# A pcapng numbers its interfaces in each section anew: (section, interface) as one number.
_SECTION: Final = 1 << 16
# Acknowledgments ahead of their segment followed in one direction at once, at most.
AHEAD_LIMIT: Final = 8
# Acknowledgments ahead of their segment it takes, at least, to say so.
LEAST_EVIDENCE: Final = 2


def _after(a: int, b: int) -> bool:
    """a comes after b in sequence space."""
    return seq_diff(a, b) > 0


@dataclass
class _Direction:
    interface: int  # -1 until its first segment
    end: int = -1  # the highest sequence number sent, plus one (-1: nothing yet)
    last_stamp: int = 0  # when the segment that reached `end` was captured
    # The peer's ACKs beyond `end`, the first of each number: (it, its time, its interface).
    ahead: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class _Pair:
    """What the connections say of interface `late` against interface `early`."""

    low: float = float("-inf")  # the offset is at least this
    evidence: int = 0  # acknowledgments captured before their segment
    connections: set[tuple] = field(default_factory=set)


@dataclass
class ClockCheck:
    """Feed it each TCP segment with its interface; then `warnings(names)`."""

    fed: int = 0
    _flows: dict[tuple, dict[tuple[str, int], _Direction]] = field(default_factory=dict)
    _mixed: dict[tuple, None] = field(default_factory=dict)  # in the order they were found
    # (i, j) -> lower bound on how far interface i's stamps run behind interface j's.
    _pairs: dict[tuple[int, int], _Pair] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.fed >= FEED_LIMIT

    def feed(self, segment: Segment, section: int, file_interface: int) -> None:
        """`file_interface`: the pcapng's interface id, in its `section`."""
        self.fed += 1
        interface = section * _SECTION + file_interface
        sender, receiver = (segment.src, segment.sport), (segment.dst, segment.dport)
        key = (sender, receiver) if sender < receiver else (receiver, sender)
        if key in self._mixed:
            return
        flow = self._flows.get(key)
        if flow is None:
            if len(self._flows) >= FLOW_LIMIT:
                del self._flows[next(iter(self._flows))]
            flow = self._flows[key] = {}
        mine = flow.get(sender)
        if mine is None:
            mine = flow[sender] = _Direction(interface)
        elif mine.interface < 0:  # acknowledged before its first segment came
            mine.interface = interface
        peer = flow.get(receiver)
        if peer is None:
            peer = flow[receiver] = _Direction(-1)
        if mine.interface != interface or peer.interface == interface:
            if len(self._mixed) >= FLOW_LIMIT:
                del self._mixed[next(iter(self._mixed))]
            self._mixed[key] = None
            del self._flows[key]
            return
        stamp = segment.stamp  # integer nanoseconds: epoch seconds as floats are good to 240 ns
        end = segment.seq_end
        while mine.ahead and not _after(mine.ahead[0][0], end):
            number, acked_at, acker = mine.ahead.pop(0)
            if _after(number, segment.seq):
                # The segment that holds what the peer acknowledged before it: captured late.
                early = (stamp - acked_at) / 1e9
                if LEAST_OFFSET < early <= MOST_OFFSET:
                    self._bound(interface, acker, early, key)
        if mine.end < 0 or _after(end, mine.end):
            mine.end, mine.last_stamp = end, stamp
        if not segment.flags & ACK:
            return
        if peer.end < 0 or _after(segment.ack, peer.end):
            if not peer.ahead or (len(peer.ahead) < AHEAD_LIMIT and _after(segment.ack, peer.ahead[-1][0])):
                peer.ahead.append((segment.ack, stamp, interface))
        elif segment.ack == peer.end:
            # In order: at least this far back (a bound from the other side, mostly negative).
            self._bound(peer.interface, interface, (peer.last_stamp - stamp) / 1e9, None)

    def _bound(self, late: int, early: int, offset: float, key: tuple | None) -> None:
        pair = self._pairs.get((late, early))
        if pair is None:
            pair = self._pairs[(late, early)] = _Pair()
        if offset > pair.low:
            pair.low = offset
        if key is not None:
            pair.evidence += 1
            pair.connections.add(key)

    def warnings(self, names: list[list[str]]) -> list[str]:
        """One line for each pair of interfaces whose clocks the packets show apart; `names`:
        each section's interfaces' names."""

        def name(interface: int) -> str:
            section, number = divmod(interface, _SECTION)
            given = names[section][number] if section < len(names) and number < len(names[section]) else ""
            plain = f"interface {number}"
            text = plain if not given or given == plain else f"{plain} ({given})"
            return f"section {section + 1}'s {text}" if len(names) > 1 else text

        def shown(pair: _Pair | None) -> bool:
            return pair is not None and pair.evidence >= LEAST_EVIDENCE and pair.low > LEAST_OFFSET

        said = []
        for (late, early), pair in sorted(self._pairs.items()):
            back = self._pairs.get((early, late))
            if not shown(pair) or (shown(back) and late > early):
                continue  # told with its reverse where both are, once
            low = format_duration(pair.low)
            changes = " (the offset changes: a clock drifts or steps)"
            evidence, connections = pair.evidence, set(pair.connections)
            if back is None:
                by = f"at least {low} later than {name(early)}'s clock"
            elif shown(back):
                by = (f"up to {low} later than {name(early)}'s clock at times, and up to "
                      f"{format_duration(back.low)} earlier at others{changes}")  # fmt: skip
                evidence, connections = evidence + back.evidence, connections | back.connections
            elif -back.low >= pair.low:
                by = f"{low} to {format_duration(-back.low)} later than {name(early)}'s clock"
            elif back.low < 0:
                by = (f"{low} later than {name(early)}'s clock at times, and less than "
                      f"{format_duration(-back.low)} later at others{changes}")  # fmt: skip
            else:
                by = (f"{low} later than {name(early)}'s clock at times, and {format_duration(back.low)} "
                      f"earlier at others{changes}")  # fmt: skip
            count = len(connections)
            said.append(
                f"{name(late)} stamps its packets {by}: {evidence:,} acknowledgments, in {count:,} "
                f"connection{'s' if count != 1 else ''} whose two directions came on the two interfaces, "
                "were captured before the segment they acknowledge. In the file's order such a segment "
                "reads as missed by the capture, then resent, RTTs are off by the offset and states change "
                "out of order; shift one interface's times (editcap -t on its packets) and merge them again "
                "(mergecap), or capture both directions on one interface"
            )
        return said


def keeps(share: Share, segment: Segment) -> bool:
    """Whether `share` keeps the segment's connection, from its address texts: the decoder
    tells it from the header's bytes, but read whole for this check, the segment has no others."""
    family = socket.AF_INET if segment.family == 4 else socket.AF_INET6
    raw = socket.inet_pton(family, segment.src) + socket.inet_pton(family, segment.dst)
    addresses = sum(int.from_bytes(raw[at : at + 4], "big") for at in range(0, len(raw), 4))
    return share.keeps(segment.sport, segment.dport, addresses)
