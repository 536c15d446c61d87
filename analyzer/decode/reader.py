"""The decoder's entry point: a capture file in, TCP segments out, with what was skipped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from analyzer.decode.capture_file import CaptureFile
from analyzer.decode.fields import u16, u32
from analyzer.decode.fragments import Fragment, Reassembler
from analyzer.decode.interface_clocks import ClockCheck, keeps
from analyzer.decode.ip_tcp import BeyondFrame, Elsewhere, HeaderCut, Malformed, parse_ip_tcp
from analyzer.decode.link_layer import (
    IP_OFFSET,
    LINK_HEADER_LEAST,
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    SLL2_IFINDEX,
    ethernet,
    linktype_name,
)
from analyzer.decode.point_clocks import PointClockCheck
from analyzer.decode.segment import UNSEEN, Datagram, Segment, Unreachable, capture_interface
from analyzer.decode.undecodable import Undecodable
from analyzer.errors import CaptureFileError
from analyzer.parallel.partition import Share
from analyzer.timefmt import Clock, between, format_duration, wall_clock

# Snapshot lengths that keep the headers a segment is read by: Ethernet, IPv6 and TCP with
# its timestamps (14 + 40 + 32 = 86; tcpdump's default of old, 96: options cut past it are
# read as cut, 60 bytes of them at most); IPv6 over VXLAN over IPv6 the same way (14 + 40 +
# 8 + 8 + 14 + 40 + 60 = 184: QinQ tags, GENEVE options or IPv6 extension headers take more).
HEADERS_SNAPLEN: Final = 96
TUNNEL_HEADERS_SNAPLEN: Final = 192

# The reasons frames were left unread that a file's stats keep apart, and show a line each.
REASONS_KEPT: Final = 256
REASONS_SHOWN: Final = 8
OTHER_REASONS: Final = "other reasons"


@dataclass
class DecodeStats:
    """What the reader saw besides the segments it yielded."""

    format: str = "unknown"
    snaplen: int = 0  # the snapshot length the file names (capture_file.CaptureFile.snaplen)
    frames_cut: int = 0  # frames kept shorter than they were on the wire (a snapshot length)
    # The shortest and longest a cut frame was kept: the snapshot length where both are it.
    cut_shortest: int = 0
    cut_longest: int = 0
    frames: int = 0
    tcp_segments: int = 0
    malformed: int = 0
    headers_cut: int = 0  # frames the snapshot length cut inside their link-layer, IP or TCP header
    headers_cut_in_tunnels: int = 0  # of them, cut inside a tunnel's headers or its packet's
    fragments_incomplete: int = 0  # fragmented datagrams never made whole (decode/fragments.py)
    fragment_copies: int = 0  # fragments again of a datagram made whole, that made no other
    # IP fragments read (frames), and the datagrams put together from them: read as if they
    # had come whole, in the frame of each one's last fragment.
    fragment_frames: int = 0
    reassembled: int = 0
    unsupported_linktypes: dict[int, int] = field(default_factory=dict)
    undecodable: dict[str, int] = field(default_factory=dict)  # frames by what stopped the decoder
    # The malformed frames by what is wrong with them: how many, and the first one's number.
    malformed_by: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    end_time: float | None = None  # the latest frame's time, of any kind: when the capture ended
    # The clock the connections' timers run on (see CLOCK_LEAP), of every frame read so far.
    clock: float | None = None
    # What the timers add to the latest frame's time (see STAMPED_BACK): 0 until a clock
    # stepped back.
    timer_offset: float = 0.0
    # Frame 1's time: Wireshark's clock (frame.time_relative) counts from it. And its stamp.
    start_time: float | None = None
    start_stamp: int | None = None
    # Frames stamped earlier than one before them (a clock step, captures merged from
    # several interfaces): how many, the first, and the largest step back in seconds.
    backwards: int = 0
    first_backwards: int = 0
    most_backwards: float = 0.0
    # The largest step back before a frame of the frame's own interface: a clock that stepped
    # back. Where it is below a millisecond (several CPUs' buffers), each interface's frames
    # are in time order but for microseconds and only their interleaving is not (dumpcap -i a
    # -i b writes each interface's packets in batches): the file can be sorted.
    most_backwards_within: float = 0.0
    # Frames stamped far ahead of the frames before and after them (CLOCK_LEAP): likewise.
    ahead: int = 0
    first_ahead: int = 0
    most_ahead: float = 0.0
    # Whole frames whose IP length claims more TCP payload than they hold (ip_tcp.BeyondFrame):
    # how many, the first.
    beyond_frame: int = 0
    first_beyond: int = 0

    @property
    def origin(self) -> Clock | None:
        """Frame 1's time, the clock every time shown counts from; None before any frame."""
        if self.start_time is None:
            return None
        return Clock(self.start_time, self.start_stamp)

    def cut_frame(self, kept: int) -> None:
        """One frame kept to `kept` bytes, shorter than it was on the wire."""
        if not self.frames_cut or kept < self.cut_shortest:
            self.cut_shortest = kept
        if kept > self.cut_longest:
            self.cut_longest = kept
        self.frames_cut += 1

    def header_cut(self, tunnelled: bool) -> None:
        """One frame the snapshot length cut inside its headers (`tunnelled`: a tunnel's)."""
        self.headers_cut += 1
        self.headers_cut_in_tunnels += tunnelled

    def headers_cut_warning(self) -> str:
        count = self.headers_cut
        if self.headers_cut_in_tunnels:
            # A tunnel's headers come before the TCP header (helper-149: IPv6 in GRE, 98 bytes).
            advice = (
                f"{self.headers_cut_in_tunnels:,} of them inside a tunnel, whose headers come first: tcpdump "
                f"-s {TUNNEL_HEADERS_SNAPLEN} or more keeps those of IPv6 in VXLAN over IPv6, -s 0 whole frames"
            )
        else:
            advice = f"tcpdump -s {HEADERS_SNAPLEN} or more keeps an IPv6 TCP header"
        return (
            f"{count:,} frame{'s' if count != 1 else ''} skipped: cut inside their link-layer, IP or TCP header "
            f"(the capture's snapshot length kept too little of them: {advice})"
        )

    def went_back(self, frame: int, step: float, own_step: float) -> None:
        """Frame `frame` is stamped `step` seconds before the latest frame before it, and
        `own_step` before the latest of its own interface (in a file of one, `step`)."""
        if own_step > self.most_backwards_within:
            self.most_backwards_within = own_step
        if not self.backwards:
            self.first_backwards = frame
        self.backwards += 1
        if step > self.most_backwards:
            self.most_backwards = step

    def stamped_ahead(self, frame: int, step: float) -> None:
        """Frame `frame` is stamped `step` seconds after the frames around it."""
        if not self.ahead:
            self.first_ahead = frame
        self.ahead += 1
        if step > self.most_ahead:
            self.most_ahead = step

    def one_time_warning(self) -> str | None:
        """Every frame of three or more stamped alike (helper-120: gopacket's test file, 32
        frames of one time, read as round trips of 0 us, "one host or one LAN")."""
        start = self.start_time
        if self.frames < 3 or start is None or self.end_time != start or self.backwards:
            return None
        return (
            f"all {self.frames:,} frames carry one time, {wall_clock(start)}: the clock that stamped them did not "
            "move (a writer that set one time for all, or one too coarse to time them), so the times, round trips "
            "and timers below, and the capture point read from them, say nothing"
        )

    def ahead_warning(self) -> str | None:
        if not self.ahead:
            return None
        return (
            f"{self.ahead:,} frame{'s' if self.ahead != 1 else ''} stamped far ahead of the frames before and after "
            f"{'them' if self.ahead != 1 else 'it'} (the first: frame {self.first_ahead}, by up to "
            f"{format_duration(self.most_ahead)}): read with the time recorded, but the connections' timers "
            "(idle, attempt) pass over it, as over one stamp gone wrong"
        )

    def skip(self, reason: str) -> None:
        """One frame that may hold TCP left unread, for `reason` (counted, said once; past
        REASONS_KEPT distinct reasons, counted among the others: a file of random protocol
        numbers brings one each)."""
        undecodable = self.undecodable
        if reason not in undecodable and len(undecodable) >= REASONS_KEPT:
            reason = OTHER_REASONS
        undecodable[reason] = undecodable.get(reason, 0) + 1

    def malformed_frame(self, frame: int, reason: str) -> None:
        """Frame `frame` skipped: its IP or TCP lengths cannot be (`reason` says which)."""
        self.malformed += 1
        by = self.malformed_by
        if reason not in by and len(by) >= REASONS_KEPT:
            reason = OTHER_REASONS
        seen = by.get(reason)
        if seen is None:
            by[reason] = [1, frame]
        else:
            seen[0] += 1

    def malformed_warning(self) -> str:
        """One line: how many, and each reason with its count and first frame, most first."""
        ranked = sorted(self.malformed_by.items(), key=lambda item: (item[0] == OTHER_REASONS, -item[1][0]))
        named = "; ".join(
            f"{reason} ({f'{count:,} frames, the first {first}' if count > 1 else f'frame {first}'})"
            for reason, (count, first) in ranked[:REASONS_SHOWN]
        )
        more = len(ranked) - REASONS_SHOWN
        if more > 0:
            named += f"; and {more:,} other reason{'s' if more != 1 else ''}"
        count = self.malformed
        return f"{count:,} frame{'s' if count != 1 else ''} with impossible IP/TCP lengths skipped: {named}"

    def undecodable_warnings(self) -> list[str]:
        """A line for each reason frames that may hold TCP were left unread, most first, the
        first REASONS_SHOWN; one line for the rest."""
        ranked = sorted(
            self.undecodable.items(), key=lambda item: (item[0] == OTHER_REASONS, -item[1], item[0])
        )
        lines = [
            f"{count:,} frame{'s' if count != 1 else ''} skipped that may hold TCP: {reason}"
            for reason, count in ranked[:REASONS_SHOWN]
        ]
        rest = ranked[REASONS_SHOWN:]
        if rest:
            frames = sum(count for _reason, count in rest)
            kinds = sum(1 for reason, _count in rest if reason != OTHER_REASONS)
            more = " or more" if any(reason == OTHER_REASONS for reason, _count in rest) else ""
            lines.append(
                f"{frames:,} more frame{'s' if frames != 1 else ''} skipped that may hold TCP, for {kinds:,}{more} "
                f"other reasons (as {rest[0][0]})"
            )
        return lines

    def fragments_clause(self) -> str:
        """What the first line says of IP fragments: how many, and what they made ("" for none)."""
        if not self.fragment_frames:
            return ""
        frames, made = self.fragment_frames, self.reassembled
        if not made:
            return f", {frames:,} of them IP fragments of datagrams never made whole"
        return (
            f", {frames:,} of them IP fragments put together into {made:,} datagram{'s' if made != 1 else ''}"
        )

    def fragment_copies_warning(self) -> str:
        count = self.fragment_copies
        return (
            f"{count:,} IP fragment{'s' if count != 1 else ''} came again after {'their' if count != 1 else 'its'} "
            "datagram was whole, and made no datagram of their own (duplicated on the way, or captured twice): "
            "left out"
        )

    def fragments_warning(self) -> str:
        count = self.fragments_incomplete
        return (
            f"{count:,} IP datagram{'s' if count != 1 else ''} sent in fragments left out: a fragment "
            "missing from the capture (Wireshark leaves such a datagram unread too)"
        )

    def backwards_warning(self) -> str | None:
        if not self.backwards:
            return None
        return (
            f"time goes backwards at {self.backwards:,} frame{'s' if self.backwards != 1 else ''} "
            f"(first at frame {self.first_backwards}, by up to {_step_back(self.most_backwards)}): "
            "the frames are analyzed and drawn in the file's order, as Wireshark does, with their "
            "times as recorded (a clock step, captures merged from several interfaces, or several CPUs' "
            "capture buffers: microseconds)"
            + (_TIMERS_HINT if self.most_backwards > STAMPED_BACK else "")
            + (_SORT_HINT if self.sortable else "")
        )

    def picture_warnings(self) -> list[str]:
        """The warnings a picture carries in its strip (output/figures.py): all but a step back
        below a millisecond (several CPUs' capture buffers), which no picture can show and which
        took a sixth of every picture of a 373k-frame capture (helper-122); the command's own
        output still says it."""
        if not self.backwards or self.most_backwards >= 1e-3:
            return self.warnings
        benign = self.backwards_warning()
        return [warning for warning in self.warnings if warning != benign]

    @property
    def sortable(self) -> bool:
        """Time went back by a millisecond or more, each time to a frame of another interface
        than the latest: each interface's packets in order, written out of order among them."""
        return self.most_backwards >= 1e-3 > self.most_backwards_within


# What a step back of more than STAMPED_BACK does to the connections' timers.
_TIMERS_HINT: Final = (
    "; the timers that give a connection up after a silence count on across the step from the latest "
    "time read before it"
)
# What a file of several interfaces written out of time order does to the analysis.
_SORT_HINT: Final = (
    "; here several interfaces' packets were written out of time order: a packet forwarded from one "
    "to another may come before the packet it forwards and read as its retransmission, and states "
    "change in the file's order; `reordercap FILE SORTED` writes them sorted by time"
)


def _step_back(seconds: float) -> str:
    """A step back in time: below a microsecond it is no "0 µs" (a pcapng of nanoseconds)."""
    return f"{seconds * 1e9:.0f} ns" if seconds < 1e-6 else format_duration(seconds)


def untimed_warning(count: int) -> str:
    which = (
        "1 packet in a Simple Packet Block, which carries no time: it is"
        if count == 1
        else f"{count:,} packets in Simple Packet Blocks, which carry no time: each is"
    )
    return (
        f"{which} given the time of the packet before it (0 before any), so durations that involve "
        f"{'it are not measured ones' if count == 1 else 'them are not measured ones'}"
    )


def read_segments(path: str, stats: DecodeStats | None = None) -> Iterator[Segment]:
    """Stream the TCP segments of a pcap or pcapng file, frame numbers 1-based.

    Raises CaptureFileError for a file that is not a capture at all, or one whose
    every frame has a link type this reader does not decode.
    """
    for record in read_packets(path, stats):
        if type(record) is Segment:
            yield record


# The timers' clock (DecodeStats.clock) is the latest frame time, but a leap ahead of more than
# this many seconds only where the next frame leaps as far: one frame stamped an hour late (or
# a second interface's clock ahead of the first's, interleaved) would otherwise give up every
# connection open at once. It never goes back: where it would, a connection given up or not
# would depend on when the tracker last swept, which a share process does at other moments.
CLOCK_LEAP: Final = 1.0
# A frame stamped more than this before the timers' clock (a clock stepped back; captures
# merged out of order) counts for the timers as at the clock, and every frame after it as far
# after that as it is stamped after it (DecodeStats.timer_offset, the step added): from their
# own times the timers would fire at once (an attempt given up before its SYN/ACK came, each
# segment after a pause a connection of its own), and by the clock alone never until the
# stamps caught up (an hour-old file merged after a newer one held whole). A frame stamped
# back by less (several CPUs' capture buffers, interfaces' clocks: microseconds to
# milliseconds) keeps its own time. Told by the reader, of every frame: the same in each
# share process.
STAMPED_BACK: Final = 1.0


def timer_offset(time: float, clock: float, offset: float) -> float:
    """The timers' offset from the frame of `time` on (see STAMPED_BACK)."""
    return clock - time if time + offset < clock - STAMPED_BACK else offset


Progress = Callable[[int, int], None]  # (frames read, bytes read)
PROGRESS_EVERY = 1 << 16  # frames
# Below any frame's stamp (1897), and a machine word compiled (docs/mypyc.md).
_BEFORE_ANY_STAMP: Final = -(1 << 61)


def read_packets(
    path: str, stats: DecodeStats | None = None, progress: Progress | None = None, share: Share | None = None
) -> Iterator[Segment | Datagram | Unreachable]:
    """Like read_segments, with UDP datagrams and ICMP unreachables among the TCP segments.
    `progress`, if given, is called every PROGRESS_EVERY frames. With a share, the TCP
    segments of the other shares' connections are counted in the stats, not yielded."""
    stats = stats if stats is not None else DecodeStats()
    capture = CaptureFile(path)
    fragments = Reassembler()
    # In a file of several interfaces, whether their clocks agree (share 0 tells it, of every
    # connection: the shares' warnings are the same but for this one, and share 0's are told).
    clocks: ClockCheck | None = None
    # Whether two capture points' clocks disagree (share 0 tells it, as the interfaces').
    points = PointClockCheck() if share is None or share.index == 0 else None
    try:
        with capture:
            number = 0
            # The link type's header finder, looked up when the link type changes (a pcap
            # file has one; a pcapng file one per interface).
            linktype, locate = -1, IP_OFFSET.get(-1)
            latest = clock = float("-inf")
            # The clock's stamp: a step back is told and measured on it, to the nanosecond (two
            # frames 90 ns apart can have one float time).
            clock_stamp = _BEFORE_ANY_STAMP
            peeked = False  # the next frame read already, to tell a clock's step from one bad stamp
            interface_stamps: list[int] = []  # in a file of several interfaces, each one's latest stamp
            while peeked or capture.next_frame():
                peeked = False
                # A packet block left unread keeps its number (CaptureFile.skipped).
                number = capture.frames_read
                stats.frames = number
                time, stamp, data, whole = capture.time, capture.stamp, capture.data, capture.whole
                # Read before the next frame may be read ahead (a frame stamped far ahead).
                interface, many_interfaces, section = (
                    capture.interface,
                    capture.many_interfaces,
                    capture.section,
                )
                if not whole:
                    stats.cut_frame(len(data))
                if time > latest:
                    latest = stats.end_time = time
                    # Frame 1, or the first with a time (a custom block's has none).
                    if stats.start_time is None:
                        stats.start_time = clock = latest
                        stats.start_stamp = clock_stamp = stamp
                own_step = 0.0  # how far it is stamped before its own interface's latest frame
                if many_interfaces:
                    # Each interface's latest stamp: a step back to another's frame is an
                    # interleaving, not a clock's step.
                    while len(interface_stamps) <= interface:
                        interface_stamps.append(_BEFORE_ANY_STAMP)
                    own = interface_stamps[interface]
                    own_step = between(stamp, own) if stamp < own else 0.0
                    if stamp > own:
                        interface_stamps[interface] = stamp
                if stamp < clock_stamp:
                    step = between(stamp, clock_stamp)
                    stats.went_back(number, step, own_step if many_interfaces else step)
                if capture.linktype != linktype:
                    linktype = capture.linktype
                    locate = IP_OFFSET.get(linktype)
                offset = timer_offset(time, clock, stats.timer_offset)
                if offset != stats.timer_offset:
                    # Stamped far back. Where the next frame is on the clock again, that was
                    # this frame's stamp, not the clock's step (a SYN/ACK stamped 21 years
                    # early, helper-124's suricata-verify bug-1450: the frames after it counted
                    # 21 years later gave up the attempt): the timers go on as before, as past
                    # one frame stamped far ahead (CLOCK_LEAP).
                    peeked = capture.next_frame()
                    if (
                        peeked
                        and capture.time + stats.timer_offset >= clock - STAMPED_BACK
                        and (not many_interfaces or capture.interface == interface)
                    ):  # (another interface's next frame tells nothing of this one's clock)
                        offset = stats.timer_offset
                stats.timer_offset = offset
                timed = time + offset
                if timed <= clock + CLOCK_LEAP:
                    if timed > clock:
                        clock = timed
                    if stamp > clock_stamp:
                        clock_stamp = stamp
                else:
                    if not peeked:
                        peeked = capture.next_frame()
                    if not peeked or capture.time + offset > clock + CLOCK_LEAP:
                        clock, clock_stamp = timed, stamp
                    elif not many_interfaces or capture.interface == interface:
                        stats.stamped_ahead(number, between(clock_stamp, stamp))
                    # Else the next frame is another interface's, written out of time order
                    # (dumpcap writes each interface's packets in batches): no sign of a bad
                    # stamp, nothing said; the clock waits for the frames after it all the same.
                stats.clock = clock
                if progress is not None and not number % PROGRESS_EVERY:
                    progress(number, capture.bytes_read)
                if locate is None:
                    stats.unsupported_linktypes[linktype] = stats.unsupported_linktypes.get(linktype, 0) + 1
                    continue
                if many_interfaces and clocks is None and (share is None or share.index == 0):
                    clocks = ClockCheck()
                watching = (clocks is not None and not clocks.full) or (
                    points is not None and not points.full
                )
                try:
                    # Ethernet called by name: through the table it is a call through Python.
                    at = ethernet(data) if linktype == LINKTYPE_ETHERNET else locate(data)
                    if at is None:
                        if len(data) < LINK_HEADER_LEAST.get(linktype, 0):
                            stats.header_cut(False)
                        continue
                    segment = parse_ip_tcp(data, at, number, stamp, None if watching else share, "", whole)
                    if isinstance(segment, Fragment):
                        stats.fragment_frames += 1
                        datagram = fragments.add(segment, time)
                        if datagram is None:
                            continue
                        stats.reassembled += 1
                        # Read as if it had come whole, in the frame of its last fragment (its
                        # fragments may have been cut by a snapshot length: no length judged).
                        segment = parse_ip_tcp(datagram, 0, number, stamp, share, segment.tunnel)
                        if isinstance(segment, Fragment):
                            continue  # fragmented again inside: not a datagram anyone sends
                except BeyondFrame as beyond:
                    if not stats.beyond_frame:
                        stats.first_beyond = number
                    stats.beyond_frame += 1
                    if beyond.segment is None:  # another share's connection's
                        stats.tcp_segments += 1
                        continue
                    segment = beyond.segment
                except HeaderCut as cut:
                    if whole:  # no snapshot length cut it: a length field is wrong
                        stats.malformed_frame(
                            number, f"{cut} inside a whole frame (a length field claims more)"
                        )
                    else:
                        stats.header_cut(cut.tunnelled)
                    continue
                except Malformed as impossible:
                    stats.malformed_frame(number, str(impossible))
                    continue
                except Undecodable as what:
                    reason = str(what)
                    stats.skip(reason)
                    continue
                if segment is None:
                    continue
                if isinstance(segment, Elsewhere):
                    stats.tcp_segments += 1
                    continue
                if type(segment) is Segment:
                    stats.tcp_segments += 1
                    if linktype == LINKTYPE_LINUX_SLL2 and len(data) >= SLL2_IFINDEX + 4:
                        segment.interface = capture_interface(
                            interface, many_interfaces, u32(data, SLL2_IFINDEX), UNSEEN
                        )
                    elif linktype == LINKTYPE_LINUX_SLL and len(data) >= 2:
                        segment.interface = capture_interface(
                            interface, many_interfaces, UNSEEN, u16(data, 0)
                        )
                    elif many_interfaces:
                        segment.interface = capture_interface(interface, True, UNSEEN, UNSEEN)
                    if watching:
                        if clocks is not None and not clocks.full:
                            clocks.feed(segment, section, interface)
                        if points is not None and not points.full:
                            points.feed(segment)
                        if share is not None and not keeps(share, segment):
                            continue
                yield segment
    finally:
        stats.format = capture.format
        stats.snaplen = capture.snaplen
        stats.warnings[:0] = (
            capture.warnings
            + capture.skipped_warnings()
            + capture.length_warnings()
            + capture.drop_warnings()
        )
        if capture.untimed:
            stats.warnings.append(untimed_warning(capture.untimed))
        stats.warnings.extend(capture.stamp_warnings())
        stats.fragments_incomplete = fragments.finish()
        stats.fragment_copies = fragments.copies
    if stats.unsupported_linktypes:
        if stats.tcp_segments == 0 and sum(stats.unsupported_linktypes.values()) == stats.frames:
            types = ", ".join(linktype_name(t) for t in sorted(stats.unsupported_linktypes))
            raise CaptureFileError(path, f"unsupported {types} (try --decoder tshark)")
        for linktype, count in sorted(stats.unsupported_linktypes.items()):
            stats.warnings.append(
                f"{count:,} frames of {linktype_name(linktype)} skipped: the fast decoder does not "
                "read it (--decoder tshark may)"
            )
    stats.warnings.extend(stats.undecodable_warnings())
    # Packets given the time before them (no time of their own, or stamped 0) are said so.
    one_time = stats.one_time_warning() if not capture.untimed and not capture.zero_stamped[0] else None
    if one_time is not None:
        stats.warnings.append(one_time)
    backwards = stats.backwards_warning()
    if backwards is not None:
        stats.warnings.append(backwards)
    if clocks is not None:
        stats.warnings.extend(clocks.warnings(capture.interface_names))
    if points is not None:
        stats.warnings.extend(points.warnings(capture.interface_names))
    ahead = stats.ahead_warning()
    if ahead is not None:
        stats.warnings.append(ahead)
    if stats.fragments_incomplete:
        stats.warnings.append(stats.fragments_warning())
    if stats.fragment_copies:
        stats.warnings.append(stats.fragment_copies_warning())
    if stats.headers_cut:
        stats.warnings.append(stats.headers_cut_warning())
    if stats.malformed:
        stats.warnings.append(stats.malformed_warning())
    if stats.beyond_frame:
        count = stats.beyond_frame
        stats.warnings.append(
            f"{count:,} frame{'s' if count != 1 else ''} whose IP length claims more than the frame holds, though "
            f"no snapshot length cut {'them' if count != 1 else 'it'} (the first: frame {stats.first_beyond}): "
            'read with the TCP payload the frame holds, as Wireshark reads it ("IPv4 total length exceeds '
            'packet length", "IPv6 payload length exceeds framing length")'
        )
