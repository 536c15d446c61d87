"""Clocks of two capture points merged into one file, told from the packets they both saw.

Two captures of one exchange, one taken at each end (or at an end and a router), merged by
time (mergecap) hold each packet twice: once as it left its sender's side, once as it reached
the other. Two hosts' clocks are never the same: where they differ by more than the time a
packet takes between the two points, the merged file has the packet reach the far point
before it left the near one, or, offset the other way, its copies further apart than any
copy rule waits. Every copy then reads as a resend, every ACK as taken before its data, the
states as stuck (helper-136: one 300 kB upload, captured at both ends and merged with one
side 0.5 s late, read as a SYN/ACK resent after 0.5 s and a server that never left
SYN_RCVD; 0.3 ms early, as 269 resends where the client made 18).

Nothing in the file says so but causality. The same packet is known at both points by what
no resend repeats: its IPv4 identification, or its timestamps option's TSval, with the
numbers, flags, length and window. Which copy was taken nearer the sender tells its TTL (hop
limit): each router between the points lowers it by one. Where the TTL is the same at both
(one LAN), the file's interfaces tell the points apart, if it names them (mergecap -I none),
but not which is nearer whom: only that a linear path passes each direction through the two
points in turns, so one point cannot see both directions first. Between hosts lo and hi
(their addresses in order), x = when the copy nearer hi was captured, less the one nearer lo:
lo's packets bound hi's point's clock offset from above (x = the path's delay + offset), hi's
bound it from below (x = offset - delay). An offset whose bounds leave out zero by more than
LEAST_OFFSET, shown by LEAST_EVIDENCE packets or more, is warned of with its range and how to
mend the file. One capture point that saw a packet twice (a router's two sides, one host's
clock) gives bounds around zero: nothing said.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from analyzer.decode.segment import ACK, SYN, UNSEEN, Segment
from analyzer.timefmt import format_duration

# Segments read for it, at most (share 0 decodes every connection's while it reads them): the
# copies of a merged file come from its first connections on.
FEED_LIMIT: Final = 50_000
# ... or this many, where none of them was seen at two points in MOST_APART.
QUIET_LIMIT: Final = 20_000
# Packets held, waiting for their copy from the other point, at most: the oldest go first.
HELD_LIMIT: Final = 65_536
# The furthest apart two copies of one packet are taken to be: the clocks' offset and the
# path between the points (interface_clocks' MOST_OFFSET).
MOST_APART: Final = 5_000_000_000  # nanoseconds
# Less than this past zero is no evidence: a capture's own buffer holds packets microseconds.
LEAST_OFFSET: Final = 10_000  # nanoseconds
LEAST_EVIDENCE: Final = 2
# Copies further apart than this (the copy rules' longest wait for one, CAPTURE_COPY_WINDOW)
# are misread whatever put them so far apart.
FAR_APART: Final = 5_000_000  # nanoseconds
# An offset's upper bound where the bounds cross: it changed in the capture.
CHANGES: Final = -(1 << 63)
# Copies of one packet held, at most (a host's, a router's two sides).
SIGHTINGS: Final = 4


@dataclass
class _Sighting:
    stamp: int
    ttl: int
    interface: int


@dataclass
class _TtlBounds:
    """What the copies between two hosts say of the offset of the point nearer hi against the
    point nearer lo, where the TTL tells the points apart."""

    upper: int = 1 << 62  # lo's packets: the least x
    lower: int = -(1 << 62)  # hi's packets: the highest x
    late_hi: int = 0  # hi's packets taken at lo's side first (x > LEAST_OFFSET)
    late_lo: int = 0  # lo's packets taken at hi's side first (x < -LEAST_OFFSET)
    # The TTLs seen at the point nearer hi (hi's packets', lo's), and nearer lo (lo's, hi's).
    ttls: tuple[int, int, int, int] = (UNSEEN, UNSEEN, UNSEEN, UNSEEN)


@dataclass
class _InterfaceBounds:
    """What the copies between two hosts say of interface `far`'s clock against `near`'s,
    where only the interfaces tell the points apart: x is far's copy less near's."""

    # lo's and hi's packets' least and highest x.
    lo_least: int = 1 << 62
    lo_most: int = -(1 << 62)
    hi_least: int = 1 << 62
    hi_most: int = -(1 << 62)
    lo_count: int = 0
    hi_count: int = 0
    # ... and how many of each were taken at `far` after (ahead: x > LEAST_OFFSET) or before
    # (behind: x < -LEAST_OFFSET) `near`.
    lo_ahead: int = 0
    lo_behind: int = 0
    hi_ahead: int = 0
    hi_behind: int = 0


@dataclass
class PointClockCheck:
    """Feed it each TCP segment; then `warnings(names)`."""

    fed: int = 0
    _start: int = 0  # the first segment's stamp
    _held: dict[tuple, list[_Sighting]] = field(default_factory=dict)
    _order: deque[tuple[int, tuple]] = field(default_factory=deque)  # (stamp, key), oldest first
    # By (lo, hi, interface nearer lo, interface nearer hi) where the TTL tells the points
    # apart; by (lo, hi, near interface, far interface) where only the interfaces do.
    _by_ttl: dict[tuple[str, str, int, int], _TtlBounds] = field(default_factory=dict)
    _by_interfaces: dict[tuple[str, str, int, int], _InterfaceBounds] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.fed >= FEED_LIMIT

    def feed(self, segment: Segment) -> None:
        self.fed += 1
        if self.fed == 1:
            self._start = segment.stamp
        elif (
            self.fed >= QUIET_LIMIT
            and not self._by_ttl
            and not self._by_interfaces
            and segment.stamp - self._start > MOST_APART
        ):
            self.fed = FEED_LIMIT  # no copy from two points in the first seconds: there are none
        if self.fed >= FEED_LIMIT:
            self._held, self._order = {}, deque()
            return
        if segment.ttl < 0 or (segment.ip_id <= 0 and segment.ts_val == UNSEEN):
            return  # nothing tells this packet's copy from its resend
        if segment.flags & (SYN | ACK) == SYN:
            return  # a flood's or a scan's bulk, held for nothing: what follows a SYN tells
        key = (
            segment.src,
            segment.sport,
            segment.dst,
            segment.dport,
            segment.seq,
            segment.ack,
            segment.flags,
            segment.payload_len,
            segment.window,
            segment.ip_id,
            segment.ts_val,
            segment.tunnel,
        )
        stamp, ttl, interface = segment.stamp, segment.ttl, segment.interface
        held = self._held
        seen = held.get(key)
        sighting = _Sighting(stamp, ttl, interface)
        if seen is None:
            # The oldest go (a dict's first key, found past the deleted ones, would cost a scan).
            order = self._order
            while order and (len(order) >= HELD_LIMIT or order[0][0] < stamp - MOST_APART):
                oldest = order.popleft()
                sightings = held.get(oldest[1])
                if sightings is not None and sightings[0].stamp == oldest[0]:
                    del held[oldest[1]]
            held[key] = [sighting]
            order.append((stamp, key))
            return
        for earlier in seen:
            if earlier.ttl == ttl and (interface == UNSEEN or interface == earlier.interface):
                return  # the same point again: a path's duplicate, a resend alike to the byte
        # Each point's copy with each other's: a router's own two sides (tcpdump -i any) pair
        # with each other too, and must not keep a host's copy from its pairs (helper-138).
        from_hi = segment.src > segment.dst
        for earlier in seen:
            if stamp - earlier.stamp <= MOST_APART:
                self._pair(earlier, sighting, from_hi, segment)
        if len(seen) < SIGHTINGS:
            seen.append(sighting)

    def _pair(self, first: _Sighting, then: _Sighting, from_hi: bool, segment: Segment) -> None:
        """What one packet's copies at two points say of their clocks."""
        lo, hi = (segment.dst, segment.src) if from_hi else (segment.src, segment.dst)
        if first.ttl != then.ttl:
            # The copy with the higher TTL was taken nearer its sender.
            first_near_hi = (first.ttl > then.ttl) == from_hi
            x = first.stamp - then.stamp if first_near_hi else then.stamp - first.stamp
            at_hi, at_lo = (first, then) if first_near_hi else (then, first)
            key = (lo, hi, at_lo.interface, at_hi.interface)
            bounds = self._by_ttl.get(key)
            if bounds is None:
                bounds = self._by_ttl[key] = _TtlBounds()
            near_ttl, far_ttl = max(first.ttl, then.ttl), min(first.ttl, then.ttl)
            hi_at_hi, lo_at_hi, lo_at_lo, hi_at_lo = bounds.ttls
            if from_hi:
                hi_at_hi, hi_at_lo = near_ttl, far_ttl
                bounds.lower = max(bounds.lower, x)
                bounds.late_hi += x > LEAST_OFFSET
            else:
                lo_at_lo, lo_at_hi = near_ttl, far_ttl
                bounds.upper = min(bounds.upper, x)
                bounds.late_lo += x < -LEAST_OFFSET
            bounds.ttls = (hi_at_hi, lo_at_hi, lo_at_lo, hi_at_lo)
            return
        near, far = min(first.interface, then.interface), max(first.interface, then.interface)
        x = then.stamp - first.stamp if then.interface == far else first.stamp - then.stamp
        key = (lo, hi, near, far)
        apart = self._by_interfaces.get(key)
        if apart is None:
            apart = self._by_interfaces[key] = _InterfaceBounds()
        if from_hi:
            apart.hi_least, apart.hi_most = min(apart.hi_least, x), max(apart.hi_most, x)
            apart.hi_count += 1
            apart.hi_ahead += x > LEAST_OFFSET
            apart.hi_behind += x < -LEAST_OFFSET
        else:
            apart.lo_least, apart.lo_most = min(apart.lo_least, x), max(apart.lo_most, x)
            apart.lo_count += 1
            apart.lo_ahead += x > LEAST_OFFSET
            apart.lo_behind += x < -LEAST_OFFSET

    def warnings(self, names: list[list[str]]) -> list[str]:
        """One line for the points the TTLs tell apart, one for each pair of interfaces; `names`:
        each section's interfaces' names."""
        said = []
        told = [(key, b, *_ttl_verdict(b)) for key, b in self._by_ttl.items()]
        shown = [(key, b, late, low, high, evidence) for key, b, late, low, high, evidence in told if late]
        if shown:
            key, bounds, late, low, high, evidence = shown[0]
            lo, hi = key[0], key[1]
            hi_at_hi, lo_at_hi, lo_at_lo, hi_at_lo = bounds.ttls
            late_host, early_host = (hi, lo) if late == "hi" else (lo, hi)
            own, other = (hi_at_hi, lo_at_hi) if late == "hi" else (lo_at_lo, hi_at_lo)
            point = f"nearer {late_host} (its packets TTL {own}"
            point += f", {early_host}'s {other})" if other != UNSEEN else ")"
            said.append(
                f"the capture holds packets captured at two points whose clocks disagree: the point "
                f"{point} stamps them {_later(low, high, ' than the other')}: {evidence:,} of "
                f"{late_host}'s packets between it and {early_host} were captured at the far point "
                f"before they left the near one{_also(len(shown) - 1)}. In the file's order a packet's "
                "second copy reads as a resend, acknowledgments as come before their data and states "
                f"change out of order; shift that capture's times ({_mend(low, high)}) and merge them "
                "again (mergecap)"
            )
        # Where the TTLs told it, the same offset again between two interfaces (a host's copy
        # and a router side's of one TTL) is not told twice.
        by_interfaces = [
            (key, verdict)
            for key, b in sorted(self._by_interfaces.items())
            if not said and (verdict := _interface_verdict(b)) is not None
        ]
        if by_interfaces:
            (lo, hi, near, far), (low, high, evidence) = by_interfaces[0]
            behind, ahead = (far, near) if low > 0 else (near, far)
            if low < 0:
                low, high = -high, -low
            said.append(
                f"{_name(behind, names)} and {_name(ahead, names)} hold the same packets captured "
                f"at two points whose clocks disagree: {_name(behind, names)} stamps them "
                f"{_later(low, high, '')}: {evidence:,} packets between {lo} and {hi} were "
                f"captured at the far point before they left the near one{_also(len(by_interfaces) - 1)}. "
                "In the file's order a packet's second copy reads as a resend, acknowledgments as come "
                "before their data and states change out of order; shift that interface's times "
                f"({_mend(low, high)} on its packets) and merge them again (mergecap)"
            )
        return said


def _ttl_verdict(bounds: _TtlBounds) -> tuple[str, int, int, int]:
    """Which point stamps late ("hi", "lo" or "" for neither shown) and by how much at least
    and at most (at most unbounded: 1 << 62), and how many packets show it."""
    # (A packet late past LEAST_OFFSET puts its bound past it too.) Bounds that cross (a
    # lower above the upper): the offset changed (CHANGES).
    if bounds.late_hi >= LEAST_EVIDENCE:
        high = bounds.upper if bounds.lower <= bounds.upper else CHANGES
        return "hi", bounds.lower, high, bounds.late_hi
    if bounds.late_lo >= LEAST_EVIDENCE:
        high = -bounds.lower if bounds.lower > -(1 << 62) else 1 << 62
        return "lo", -bounds.upper, high if bounds.lower <= bounds.upper else CHANGES, bounds.late_lo
    return "", 0, 0, 0


def _interface_verdict(bounds: _InterfaceBounds) -> tuple[int, int, int] | None:
    """The far interface's clock less the near one's, at least and at most, and the packets that
    show it, where the copies of both directions say so; None where they do not."""
    if not bounds.lo_count or not bounds.hi_count:
        return None
    # Near nearer lo: lo's packets reach far later (x = delay + offset), hi's earlier; each
    # the other way round captured before it left.
    near_at_lo = (bounds.hi_most, bounds.lo_least, bounds.lo_behind + bounds.hi_ahead)
    near_at_hi = (bounds.lo_most, bounds.hi_least, bounds.hi_behind + bounds.lo_ahead)
    # The two points at two places: a packet's two copies further apart one way than the other
    # (by the path's round trip between them). Copies as far apart both ways are one place's,
    # delivered late (a mirror port's): no clock tells from them.
    fits = [fit for fit in (near_at_lo, near_at_hi) if fit[1] - fit[0] >= LEAST_OFFSET]
    if not fits:  # (one at most: each needs the other's ends the other way round)
        # Copies of both directions as far apart, further than any copy rule waits: a clock's
        # or a mirror's delay alike misread (helper-138: a LAN's two ends, stamped within
        # microseconds of each other both ways, 2 s apart, went untold).
        least, most = min(bounds.lo_least, bounds.hi_least), max(bounds.lo_most, bounds.hi_most)
        if least > FAR_APART or most < -FAR_APART:
            return least, most, bounds.lo_count + bounds.hi_count
        return None
    low, high, evidence = fits[0]
    if evidence >= LEAST_EVIDENCE and (low > LEAST_OFFSET or high < -LEAST_OFFSET):
        return low, high, evidence
    return None


def _also(more: int) -> str:
    """The other pairs of hosts or capture points that show an offset too."""
    return f" (so do {more:,} more pair{'s' if more != 1 else ''} of hosts or capture points)" if more else ""


def _later(low: int, high: int, than: str) -> str:
    """How much later `than` (" than the other", ""): the range the bounds leave."""
    if high == CHANGES:
        return f"up to {format_duration(low / 1e9)} later{than} at times (the offset changes: a clock drifts or steps)"
    if high >= 1 << 61:
        return f"at least {format_duration(low / 1e9)} later{than}"
    shown = (format_duration(low / 1e9), format_duration(high / 1e9))
    if shown[0] == shown[1]:  # ("2.000 s to 2.000 s", helper-138): to the microsecond
        shown = (f"{low / 1e9:.6f} s", f"{high / 1e9:.6f} s")
    return f"{shown[0]} to {shown[1]} later{than}"


def _mend(low: int, high: int) -> str:
    shift = low if high >= 1 << 61 or high == CHANGES else (low + high) // 2
    return f"editcap -t -{shift / 1e9:.6f}"


def _name(interface: int, names: list[list[str]]) -> str:
    """A segment's interface (Segment.interface: a pcapng's, in its first section) by name."""
    number = interface >> 32 if interface >= 1 << 32 else interface
    given = names[0][number] if names and number < len(names[0]) else ""
    plain = f"interface {number}"
    return plain if not given or given == plain else f"{plain} ({given})"
