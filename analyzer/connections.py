"""Segments -> connections: group by 4-tuple, split where a new connection starts, assign roles.

A SYN (without ACK) on a 4-tuple already in use starts a new connection when its
ISN differs from the one that side opened with, or when the connection on that
4-tuple has already ended (a RST, or FINs from both sides). The second rule is
how Zeek and tcptrace count a refused connect() that is retried from the same
port with the same ISN: each attempt is a connection of its own. A SYN/ACK starts one
when its sender had closed the connection on the 4-tuple (its FIN, or a RST) and answers
with another ISN: no end sends a SYN after its own FIN, and a capture of the server's
direction alone holds no SYN to split on (another ISN before that is a server's SYN/ACKs
of one attempt: findings/handshake.py judges them). A segment of flags no
TCP sends (SYN with FIN or RST, RST with FIN, none of SYN/ACK/RST/FIN:
decode.segment.impossible_flags) neither starts nor ends a connection, nor sets an ISN.
One RST does not end it, the one that answers a challenge ACK:
a SYN that reaches an end still holding a connection on the 4-tuple (a stale one) is
answered by an ACK that does not acknowledge it (RFC 5961 4.2; from TIME_WAIT too),
and the SYN's sender, in SYN_SENT, answers that ACK with a RST whose sequence number is
the ACK's acknowledgment number (RFC 9293 3.10.7.3) and stays in SYN_SENT: the RST
resets the stale connection (which is held back until the new attempt's answers tell, and
told of it: `Connection.reset_by_next`), and the SYN sent again (Linux: TCP_TIMEOUT_MIN, two jiffies,
after the ACK if it had not resent it yet, tcp_rcv_synsent_state_process) belongs to the
same connection. Any segment more
than CLOSE_DELAY after the last one of a connection that is over (a RST, or both
FINs acknowledged) starts a new one too: Zeek's tcp_close_delay, and what lets a
stream forget a connection for good. A new connection names the one before it on its
4-tuple (`reuses_ports_of`) only when it starts within CLOSE_DELAY of it: later, the
tracker may have forgotten it or not, depending on when it last swept (and a share
process sweeps at other moments than one process), and the result must not tell.
All the delays are measured on one clock, the reader's (decode.reader.CLOCK_LEAP): the
latest frame time read, where one frame stamped far ahead moves it nowhere; after a frame
stamped more than a second before it (a clock stepped back), the frames count for the timers
as far after the clock as they are stamped after that one (decode.reader.STAMPED_BACK).

Grouping streams: `ConnectionTracker` hands each connection over as soon as nothing
can join it any more, so memory follows the connections in flight, not the file.

Expiry, like Zeek's timers: a connection that is not over is given up once nothing has
come on it for a while (`Timeouts`), and a later segment on its 4-tuple starts a new one.
An attempt (nothing but SYNs and SYN/ACKs so far, or a SYN whose receiver has sent
nothing since, nor its sender an ACK: Zeek's rule, but for a capture of one direction, where
the client's ACK shows the SYN/ACK came and a pause while typing is no attempt's end; Zeek
gives such a connection up 5 s after its SYN) is given up after `attempt` seconds, or BACKOFF_PATIENCE
times the gap between an end's last two SYNs (SYN/ACKs) if that is longer: a client or server backing
off (1, 2, 4, 8 s ...) is waiting, not gone, and its SYNs stay one connection; a SYN
first resent after more than `attempt` seconds (BSD's 6 s initial timeout) starts a new
connection, as in Zeek (`--attempt-timeout` to keep them together). A partial connection
(one end closed, the other never sent a segment: a capture of one direction) after
`partial_close` seconds; so too, counted from that FIN whatever comes after it, one whose
second end was first seen sending a FIN while the first end had not closed (a capture
that began mid-connection): Zeek's PartialCloseTimer (TCPSessionAdapter::ConnectionClosed
sets it when the closing end's state before the FIN was INACTIVE and the peer is active;
it removes the connection tcp_partial_close_delay later unless both closed or one reset).
Any other after `idle`; a later segment without SYN on its 4-tuple starts a connection
that continues it (Continued). What is
given up is marked (`Connection.expired`): so is a connection still open when the capture
went on past its timeout, so that the mark says the same however the file is read (in one
process or in shares, whenever the tracker looks). A flood or a scan of a million
attempts is thus held a few seconds of attempts at a time.

Capture copies: the same packet captured twice (outside and inside a tunnel, on two
interfaces of one pcapng, by a mirror port and the host) is not a second segment. A
segment equal to one of the connection's latest COPY_LOOK_BACK in every header field that
a resend would change (sequence and acknowledgment numbers, flags, window, length, IPv4's
identification, the TCP checksum, which covers the options and the payload, and the first
SACK block and a SYN's options, read as such: a checksum the sending host left to its NIC
holds only the pseudo-header's sum, the same for every segment of one length) and seen
within CAPTURE_COPY_WINDOW of it, with nothing from the other end in between (unless a
non-zero IPv4 identification says it is the same packet: two mirrored switch ports put the
other end's answer between the copies), is a copy: it is kept apart (`Connection.copies`),
counted in `packets`, shown to what stands for another tool (tshark, Zeek and tcptrace
see every frame), and left out of everything the connection's own analysis reads. The first
copy is analyzed, unless a later one puts a cause back before its effect (a mirror port's
interleaved streams: _Open.later_copy_first). Data whose non-zero identification repeats
too is found further back, within CAPTURE_COPY_WINDOW whatever came between (_numbered_copy:
a path that duplicates packets delivers the copy behind dozens of a fast sender's). A resend
differs: the IPv4 identification counts on, the timestamps option moves, and no resend
timer is as short (Linux's shortest, the tail loss probe, waits more than 2 ms). Without an
identification to tell (IPv6, or 0) a resend without timestamps is the same bytes (only a
SYN's options are read here, so whether timestamps are on is not known): there the copy
must come within CAPTURE_COPY_WINDOW_UNNUMBERED, at most that timer (a mirror port's or a
tunnel's copy comes microseconds after the packet). A SYN with the timestamps option, a
segment with a SACK block, or one whose TTL (hop limit) is one below the other's (a router's
ingress and egress both captured), is told apart as an identification would tell it: a SYN resent
carries another TSval, a duplicate ACK other SACK blocks (or a D-SACK). A pure ACK is a copy
only when one of these says so, or, without any, when it is stamped at the very same time
as the other: duplicate ACKs without SACK blocks (over IPv6, or with identification 0) are
the same bytes each time, and may come in a burst with nothing between them, but each is
sent for a segment that came in, not at one instant (zeek_ssh-dups: one ACK captured four
times at the same microsecond). Two SYN/ACKs alike after the SYN came again are two (_second_answer),
where nothing else of the connection was a copy: a listener's answer and its timer's.

Forwarded copies: a capture on a router of both its sides (`tcpdump -i any` on a
forwarding host, a container host's bridge and uplink) sees each packet as it came in and,
its TTL (hop limit) one lower, as it left, after whatever the outgoing queue held it for: a
slow uplink's buffer holds it hundreds of milliseconds, a cellular one seconds, while the
other end's answers to earlier packets come between. And what came in as one packet
coalesced by the NIC (GRO) may leave in pieces (GSO), each with a share of its data, the
same acknowledgment, window and options, and, in IPv4, the identification counting on from
the packet's, one a piece. A segment from the same end, its TTL one below that end's
highest, that repeats such a packet or a piece of it (as the identification says, or
without one the same checksum for the whole packet) within FORWARD_COPY_WINDOW is a copy
too: its sender did not send it again (a resend leaves with the sender's own TTL and, in
IPv4, the next identification). A bridge lowers no TTL: where the file names each frame's
interface (`tcpdump -i any`'s cooked capture, a pcapng of several interfaces), a segment
captured on another interface than the one its sender's first segment came in on is
likewise the packet, or a piece of it, seen again, its TTL the same or one lower, when it
repeats one that came in there. Only an end seen with two TTLs one apart, or on two
interfaces, is searched that far back (FORWARD_LOOK_BACK of the connection's segments).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple, Protocol

from analyzer.decode.reader import DecodeStats, timer_offset
from analyzer.decode.segment import (
    ACK,
    CWR,
    FIN,
    GAP_LIMIT,
    MOD,
    PSH,
    RST,
    SYN,
    UNSEEN,
    Segment,
    Unreachable,
    frame_of,
    impossible_flags,
    seq_diff,
)
from analyzer.flow_key import FlowKey, attempt_key, flow_key, flow_key_of
from analyzer.held_attempt import MAX_PACKED_RECORDS, HeldAttempt, HeldAttempts, can_pack, same_options
from analyzer.packed_segments import PackedSegments, pack_segments
from analyzer.timefmt import Clock

Endpoint = tuple[str, int]

# Ports below this are services by convention (IANA system ports).
WELL_KNOWN_PORT_LIMIT: Final = 1024


# The two ends of a connection, by role (see the module's rule for which is the client).
Side = Literal["client", "server"]
SIDES: Final[tuple[Side, Side]] = ("client", "server")


def peer_of(side: Side) -> Side:
    """The other end."""
    return "server" if side == "client" else "client"


# Which timer gave a connection up (see the module's expiry rules).
Expiry = Literal["attempt", "partial_close", "idle"]


# What each expiry means, for a reader.
EXPIRY_TEXT: Final[dict[str, str]] = {
    "attempt": "given up as an attempt: nothing but SYNs and SYN/ACKs, then silence past the attempt timeout",
    "partial_close": (
        "given up as partial: one end closed, the other never seen, then silence past the timeout;"
        " or the other end first seen sending its FIN, and the timeout passed since (Zeek's partial close)"
    ),
    "idle": "given up as idle: no segment for longer than the idle timeout",
}


class Timeouts(NamedTuple):
    """Seconds without a segment after which an open connection is given up (Zeek's
    tcp_attempt_delay, tcp_partial_close_delay and tcp_inactivity_timeout). A NamedTuple:
    it travels to share processes, and a compiled frozen dataclass does not unpickle."""

    attempt: float = 5.0
    partial_close: float = 3.0
    idle: float = 300.0

    def of(self, expiry: Expiry) -> float:
        """The timeout of the timer named `expiry`."""
        if expiry == "attempt":
            return self.attempt
        return self.partial_close if expiry == "partial_close" else self.idle


# See the module's rule for capture copies.
CAPTURE_COPY_WINDOW: Final = 0.005
CAPTURE_COPY_WINDOW_UNNUMBERED: Final = 0.002
COPY_LOOK_BACK: Final = 8
# A connection of this many bare segments or fewer from one end, nothing back, is a probe:
# its sender the client (assign_roles), as a scan's ACK probes (findings/scans.py) are two.
LONE_PROBES: Final = 2
FORWARD_COPY_WINDOW: Final = 2.0
FORWARD_LOOK_BACK: Final = 1_024
# What a segmentation offload sets on one piece only: CWR on the first, PSH and FIN on the last.
_PIECE_FLAGS: Final = CWR | PSH | FIN
# Over connections waiting out CLOSE_DELAY in the tracker's queue from which each that joins
# it is held packed (packed_segments.py). Packing and unpacking cost about half a microsecond
# a segment, a tenth of the time of a mix of short connections: below this many (a server
# closing some 400 connections a second), memory is the lesser worry. (The benchmark's real
# mix, 20,000 connections in 5 s: 6,000 -> 2,000 took each share's peak from 97 to 82 MB, in
# about the same time.)
PACK_OVER_FROM: Final = 2_000
# Attempts held as their segments came (held_attempt.py) while fewer than this many newer
# attempts have come since: the oldest is packed as each new one comes. A server's attempts
# end within a round trip, long before (20,000 short connections: a fifth of the time went
# to packing and unpacking them); a flood's are packed, a few MB held as they came at most.
PLAIN_ATTEMPTS: Final = 4_096
# An open connection not yet folded holds its latest segments as they are (what copy_of and
# later_copy_first read: FORWARD_LOOK_BACK back at most) and the older ones packed,
# OPEN_CHUNK at a time (packed_segments.py; about 85 bytes a segment where one held costs
# about 245): a busy server's capture holds thousands of connections of some thousands of
# segments each at once (500 downloads of 4,500 segments at once: 557 -> 418 MB in one
# process). Packing costs about half a microsecond a segment (a long connection is folded at
# LONG_CONNECTION: unpacked then).
OPEN_UNPACKED: Final = FORWARD_LOOK_BACK + COPY_LOOK_BACK
OPEN_CHUNK: Final = 1_024


def _told_apart(segment: Segment) -> bool:
    """Whether `segment` carries what a resend or the next duplicate ACK would change, where no
    IPv4 identification does: a SYN's timestamps option (TSval moves every millisecond or
    so, and no SYN is resent that soon), or a SACK block (each duplicate ACK's blocks, or its
    D-SACK, differ from the last's). The first SACK block is compared as read, not only
    through the TCP checksum: one the sending host left to its NIC holds the pseudo-header's
    sum alone, the same for every segment of one length; a SYN's TSval too is compared as
    read, with its options (_same_sender_and_state)."""
    options = segment.options
    if segment.sack_start != UNSEEN:
        return True
    return bool(segment.flags & SYN) and options is not None and options.timestamps


def one_hop_on(segment: Segment, earlier: Segment) -> bool:
    """`segment`'s TTL (hop limit) is one below `earlier`'s: the same packet a router further on."""
    return segment.ttl >= 0 and earlier.ttl == segment.ttl + 1


def _same_sender_and_state(
    segment: Segment, earlier: Segment, echoes: bool = True, clamped: bool = False
) -> bool:
    """The same end, acknowledging, offering and selectively acknowledging the same, with the
    same options: what a copy of a packet, or of a piece of it, repeats. `echoes`: a SYN's
    timestamps too (a router or firewall may rewrite them: pf's scrub shifts TSval).
    `clamped`: its MSS may differ (a router that clamps it rewrites a SYN's as it forwards it:
    helper-143's nft "maxseg size set", read as the SYN sent again)."""
    same_options = segment.options == earlier.options
    if not same_options and clamped and segment.options is not None and earlier.options is not None:
        same_options = earlier.options.with_mss(segment.options.mss) == segment.options
    if echoes and segment.flags & SYN:
        same_options = same_options and segment.ts_val == earlier.ts_val and segment.ts_ecr == earlier.ts_ecr
    return (
        segment.sport == earlier.sport
        and segment.src == earlier.src
        and segment.ack == earlier.ack
        and segment.window == earlier.window
        and segment.sack_start == earlier.sack_start
        and segment.sack_end == earlier.sack_end
        and same_options
    )


def _second_answer(held: list[Segment], at: int) -> bool:
    """Whether the same bytes again after `held[at]`, a SYN/ACK, may be its sender's second
    SYN/ACK: the other end's SYN came again after the SYN/ACK before it, or before the first
    SYN/ACK captured (see below). A listener answers
    a repeated SYN at once, and its timer may fire in the same millisecond (Linux's first
    timeout and the client's are both 1 s): two SYN/ACKs alike to the byte, the IPv4
    identification 0, the timestamp the same millisecond's (helper-119: the one that got
    through was left out as a copy, and the SYN/ACK timer said never to have fired). Unless
    the capture copies the connection's packets where it sees them (copy_of: a copy already
    found in place): then it is one."""
    synack = held[at]
    if synack.flags & (SYN | ACK | RST | FIN) != SYN | ACK:
        return False
    sender, port = synack.src, synack.sport
    syns = 0
    for earlier in reversed(held[max(0, at - COPY_LOOK_BACK) : at]):
        own = earlier.sport == port and earlier.src == sender
        if not own and earlier.flags & (SYN | ACK | RST) == SYN:
            syns += 1
        elif own and earlier.flags & (SYN | ACK | RST) == SYN | ACK:
            return syns > 0
    # The first SYN/ACK captured after the SYN came again: the listener's first was lost
    # before the capture point, and the SYN again and its timer answer together (helper-149:
    # an nft drop of the server's first SYN/ACK, both of the next 31 us apart).
    return syns > 1


def is_capture_copy(segment: Segment, earlier: Segment) -> bool:
    """`segment` is the packet `earlier` seen again by the capture (see the module's rule)."""
    # A TTL (hop limit) one lower: the same packet seen again a router further on (a capture
    # on a router, of its ingress and egress); a resend leaves with the sender's own TTL.
    told_apart = segment.ip_id > 0 or _told_apart(segment) or one_hop_on(segment, earlier)
    if (
        not (segment.payload_len or segment.flags & (SYN | FIN | RST))
        and not told_apart
        and segment.stamp != earlier.stamp  # the same instant to the nanosecond: a float's is 240 ns
    ):
        return False  # a pure ACK that nothing tells from the next duplicate ACK
    return (
        segment.seq == earlier.seq
        and segment.checksum == earlier.checksum
        and segment.checksum != UNSEEN
        and segment.flags == earlier.flags
        and segment.payload_len == earlier.payload_len
        and segment.ip_id == earlier.ip_id
        and _same_sender_and_state(segment, earlier)
        and abs(segment.time - earlier.time)
        <= (CAPTURE_COPY_WINDOW if told_apart else CAPTURE_COPY_WINDOW_UNNUMBERED)
    )


def _numbered_copy(segment: Segment, held: list[Segment], latest_id: int) -> Segment | None:
    """The earlier capture of `segment`, data whose IPv4 identification says it is the same
    packet, further back than COPY_LOOK_BACK within CAPTURE_COPY_WINDOW: a path that
    duplicated it (a bridge, a link layer's retry) delivers the second copy behind dozens of
    a fast sender's segments. An identification past its sender's latest (`latest_id`, UNSEEN:
    not among the last COPY_LOOK_BACK) was sent after it, no copy of anything before: the
    search stops at once (new data, a resend)."""
    for back in range(COPY_LOOK_BACK + 1, min(FORWARD_LOOK_BACK, len(held)) + 1):
        if latest_id != UNSEEN and 0 < (segment.ip_id - latest_id) & 0xFFFF < 0x8000:
            return None
        earlier = held[-back]
        if earlier.time < segment.time - CAPTURE_COPY_WINDOW:
            return None
        if earlier.sport != segment.sport or earlier.src != segment.src:
            continue
        if latest_id == UNSEEN:
            latest_id = earlier.ip_id
        if earlier.seq == segment.seq and is_capture_copy(segment, earlier):
            return earlier
    return None


def is_forwarded_copy(segment: Segment, earlier: Segment, ingress: int = UNSEEN) -> bool:
    """`segment` is `earlier`, or a piece of it, sent on by a router (or a bridge) the capture
    sees both sides of (see the module's rule on forwarded copies). `ingress`: the interface
    the sender's packets came in on, UNSEEN where the file names none."""
    if not one_hop_on(segment, earlier) and not (
        ingress != UNSEEN
        and earlier.interface == ingress
        and segment.interface != ingress
        and earlier.ttl == segment.ttl
    ):
        return False
    if (
        not _same_sender_and_state(segment, earlier, echoes=False, clamped=bool(segment.flags & SYN))
        or (segment.flags | _PIECE_FLAGS) != (earlier.flags | _PIECE_FLAGS)
        or not -CAPTURE_COPY_WINDOW <= segment.time - earlier.time <= FORWARD_COPY_WINDOW
    ):
        return False
    offset = seq_diff(segment.seq, earlier.seq)
    length = segment.payload_len
    if offset < 0 or offset + length > earlier.payload_len:
        return False
    if offset == 0 and length == earlier.payload_len:  # the whole packet
        if segment.flags != earlier.flags:
            return False
        if segment.ip_id > 0 or earlier.ip_id > 0:
            return segment.ip_id == earlier.ip_id
        if segment.options != earlier.options:
            # The MSS clamped (_same_sender_and_state): the checksum rewritten with it; a
            # SYN/ACK's identification is 0, its timestamp is what tells it.
            return segment.ts_val >= 0 and segment.ts_val == earlier.ts_val
        return segment.checksum == earlier.checksum and segment.checksum != UNSEEN
    if (
        not length  # a segment without data after data is its sender's next, not a piece
        or segment.flags & (SYN | RST)
        or (segment.flags & FIN and offset + length != earlier.payload_len)
    ):
        return False
    if segment.ip_id > 0 or earlier.ip_id > 0:
        piece = (segment.ip_id - earlier.ip_id) % 65536  # the first piece keeps the packet's
        if piece == 0:
            return True  # the first piece, or one of a sender whose pieces all keep it (a fixed ID)
        return offset % piece == 0 and offset // piece >= length  # pieces of equal size, the last shorter
    return True  # IPv6: nothing but the hop limit tells the piece, and nothing but a router lowers it


# A backing-off end's next SYN comes twice the last gap after it (RFC 6298's doubling):
# three times covers the doubling and a timer's slack.
BACKOFF_PATIENCE: Final = 3.0


def quoted_segment(connection: Connection, error: Unreachable) -> Segment | None:
    """The segment an ICMP error about `connection` quotes: the latest of the quoted sender
    at the quoted number sent before the error or, when the error quotes no number, its
    latest (the quote holds the 4-tuple and the sequence number only). A path MTU error may
    quote a number inside a captured segment: the capture was taken at a sender that hands
    its NIC segments to cut (TSO), the router quotes one of the pieces."""
    src, sport, _dst, _dport = error.quoted
    quoted = error.quoted_seq
    inside = error.too_big
    found = None
    for segment in connection.segments:
        if (
            segment.time <= error.time
            and segment.src == src
            and segment.sport == sport
            and (
                quoted < 0
                or segment.seq == quoted
                or (inside and 0 <= seq_diff(quoted, segment.seq) < segment.payload_len)
            )
        ):
            found = segment
    return found


def sequence_bases_of(
    segments: Iterable[Segment], inherited: dict[Endpoint, int] | None = None
) -> dict[Endpoint, int]:
    """Each end's base, as tshark sets it (packet-tcp.c): its own SYN (its ISN), else the base
    `inherited` from the connection this one continues (Wireshark reads the two as one
    conversation), else the first segment that tells it, in capture order: its own first
    segment (one below its seq, so that it reads 1) or the first ACK its peer sent (one below
    the ack: what a capture begun mid-stream shows as 1). A SYN wins over a guess made before
    it (an injected RST ahead of the SYN/ACK). An end nothing tells is not in it."""
    synced: dict[Endpoint, int] = {}
    guessed: dict[Endpoint, int] = {}
    for segment in segments:
        own = (segment.src, segment.sport)
        if segment.flags & SYN and own not in synced:
            synced[own] = segment.seq
        if own not in guessed:
            guessed[own] = (segment.seq - 1) % MOD
        peer = (segment.dst, segment.dport)
        if segment.flags & ACK and peer not in guessed:
            guessed[peer] = (segment.ack - 1) % MOD
    if inherited:
        guessed.update(inherited)
    guessed.update(synced)
    return guessed


class Continued:
    """The connection a later one continues: given up as idle (its timer, Timeouts.idle),
    then its 4-tuple spoke again without a SYN (a keep-alive after two hours, a session
    quiet for ten minutes). Zeek gives up the same and starts anew; Wireshark gives up
    nothing, and reads the later segments with the earlier ones in mind: `last`, each end's
    last segment (in capture order), is what its rules need of them. Named by its first
    frame, which is the same in a share (analyzer.parallel) as in the whole file."""

    def __init__(
        self,
        first_frame: int,
        last_time: float,
        last: list[Segment],
        bases: dict[Endpoint, int] | None = None,
    ) -> None:
        self.first_frame = first_frame
        self.last_time = last_time  # its last segment's
        self.last = last
        # Each end's relative numbers' base in the connection it continues (sequence_bases_of),
        # which Wireshark, reading one conversation, goes on counting from.
        self.bases: dict[Endpoint, int] = bases if bases is not None else {}

    def fits(self, segment: Segment, limit: int = GAP_LIMIT) -> bool:
        """Whether `segment` goes on where its ends left off: its sequence number near its
        sender's last, its acknowledgment number near the other's (`limit` either way),
        not an unrelated session that came to use the same 4-tuple."""
        for earlier in self.last:
            own = earlier.sport == segment.sport and earlier.src == segment.src
            if own:
                gap = seq_diff(segment.seq, earlier.seq_end)
            elif segment.flags & ACK:
                gap = seq_diff(segment.ack, earlier.seq_end)
            else:
                continue
            if not -limit < gap < limit:
                return False
        return True


@dataclass
class Connection:
    """One TCP connection: its segments in capture order and who is client and server."""

    id: int
    family: int
    client: Endpoint
    server: Endpoint
    segments: list[Segment] = field(default_factory=list)
    client_basis: str = "first_syn_sender"
    reuses_ports_of: int | None = None  # the earlier connection on the same 4-tuple
    expired: Expiry | None = None  # the timer that gave it up, if one did
    # That timer's timeout (Timeouts): nothing of it came for at least so long after its last
    # segment; 0.0 if no timer gave it up.
    expired_after: float = 0.0
    # A connection too long to keep whole (long_connection.FoldedConnection): `segments`
    # holds the ones its findings need, `count` all of them, `folded` what was counted.
    count: int = 0
    folded: Folder | None = None
    # The tunnels its segments were captured in ("GRE", "GRE > VXLAN"), in the order first
    # seen, and whether some were captured outside any tunnel as well.
    tunnels: list[str] = field(default_factory=list)
    untunnelled_too: bool = False
    # Capture copies (see the module's rule), each with the frame it copies: all of them,
    # or of a folded connection the first COPIES_KEPT; `copy_count` counts all.
    copies: list[tuple[Segment, int]] = field(default_factory=list)
    copy_count: int = 0
    # When the capture ended, for a connection still open then (not over: handed over at the
    # end of the file, not by a timer or its close): what was still going on lasted at least
    # to it.
    capture_end: float | None = None
    # When the next connection on its 4-tuple began (a new SYN, or a segment after it was
    # over and quiet): the 4-tuple's sockets are that one's from then on.
    succeeded_at: float | None = None
    # That next connection's first segment, where it is a SYN: an end of this one still in
    # TIME_WAIT then gave the 4-tuple up to it (analysis.apply_successor).
    succeeded_by: Segment | None = None
    # The RST that reset it from that next connection: its SYN reached this one's end still
    # open, which answered with a challenge ACK, and the SYN's sender answered that with a RST
    # at its acknowledgment number (see the module's rule; analysis.apply_stale_reset).
    reset_by_next: Segment | None = None
    # Of an attempt whose SYN a connection still open answered with a challenge ACK: the frame
    # at which that connection went on (ConnectionTracker._resume), UNSEEN if it did not.
    went_on_at: int = UNSEEN
    # The connection given up as idle that this one, begun without a SYN, continues.
    continues: Continued | None = None
    # The connection given up as idle on its 4-tuple before this one began with a SYN: what a
    # challenge ACK to that SYN may come from (a NAT that gave its port to another host after
    # its own idle timeout; findings/resets.py names it).
    after_idle: Continued | None = None
    # ICMP destination-unreachable errors that quote its segments (findings/unreachable.py).
    unreachables: list[Unreachable] = field(default_factory=list)

    def __init__(
        self,
        id: int,
        family: int,
        client: Endpoint,
        server: Endpoint,
        segments: list[Segment] | None = None,
        client_basis: str = "first_syn_sender",
        reuses_ports_of: int | None = None,
        expired: Expiry | None = None,
    ) -> None:
        self.id = id
        self.family = family
        self.client = client
        self.server = server
        self.segments = segments if segments is not None else []
        self.client_basis = client_basis
        self.reuses_ports_of = reuses_ports_of
        self.expired = expired
        self.expired_after = 0.0
        self.count = 0
        self.folded = None
        self.tunnels = []
        self.untunnelled_too = False
        self.copies = []
        self.copy_count = 0
        self.capture_end = None
        self.succeeded_at = None
        self.succeeded_by = None
        self.reset_by_next = None
        self.went_on_at = UNSEEN
        self.continues = None
        self.unreachables = []

    @property
    def packets(self) -> int:
        """Its segments, all of them, also those of a folded connection that were let go,
        and the capture copies."""
        return (self.count or len(self.segments)) + self.copy_count

    def with_copies(self) -> list[Segment]:
        """Its segments and capture copies in frame order: every frame, as another tool sees them."""
        if not self.copies:
            return self.segments
        return sorted(self.segments + [copy for copy, _ in self.copies], key=lambda s: s.frame)

    @property
    def first_time(self) -> float:
        return self.segments[0].time

    @property
    def last_time(self) -> float:
        return self.segments[-1].time

    @property
    def first_stamp(self) -> int:
        return self.segments[0].stamp

    @property
    def last_stamp(self) -> int:
        return self.segments[-1].stamp

    @property
    def start_clock(self) -> Clock:
        """A clock from its first segment: where no file gave frame 1's."""
        return Clock(self.first_time, self.first_stamp)

    def stamps_by_frame(self) -> dict[int, int]:
        """Each segment's stamp by its frame: when the states its packets made began."""
        return {s.frame: s.stamp for s in self.segments}

    def from_client(self, segment: Segment) -> bool:
        client = self.client  # compared field by field: no tuple made for every segment
        return segment.sport == client[1] and segment.src == client[0]

    def sender(self, segment: Segment) -> Side:
        return "client" if self.from_client(segment) else "server"

    def quiet_after(self) -> float | None:
        """How long nothing more of it came after its last segment, as far as the capture
        tells: to the capture's end, or the timeout of the timer that gave it up; None where
        neither says (it was over: closed, or handed to the next connection)."""
        if self.capture_end is not None:
            return self.capture_end - self.segments[-1].time
        if self.expired is not None:
            return self.expired_after
        return None

    @property
    def to_itself(self) -> bool:
        """One socket connected to itself (bind and connect() to its own port): its address
        and port are both ends, client and server the same socket."""
        return self.client == self.server


class Folder(Protocol):
    """What takes over a connection too long to keep whole: its segments so far, then each
    later one (long_connection.FoldedConnection)."""

    def add(self, segment: Segment) -> None: ...

    def add_copy(self, segment: Segment) -> None: ...

    def connection(self, number: int) -> Connection: ...


class Fold(Protocol):
    """Makes the Folder of a connection from its segments so far and its capture copies;
    `context`: the last segments of the connection it continues (Continued.last)."""

    def __call__(
        self,
        segments: list[Segment],
        copies: list[Segment] | None = None,
        context: list[Segment] | None = None,
    ) -> Folder: ...


# Segments a connection has when the tracker's `fold` (if any) takes it over.
LONG_CONNECTION: Final = 20_000
# Connections given up as idle that the tracker remembers for a later one that continues
# each (Continued): under a kilobyte each (its key and two segments). Past it, a
# continuation of the oldest is told as a capture begun mid-connection (and which are the
# oldest then depends on when the tracker last looked: the one rule here a share may apply
# otherwise than one process).
IDLE_REMEMBERED = 1 << 14  # not Final: a test sets it, and compiled code reads it then
# Capture copies a folded connection lists (all are counted).
COPIES_KEPT: Final = 10_000


def attempt_gives_up(last_time: float, syn_gap: float, timeouts: Timeouts) -> float:
    """When an attempt's timer fires: `attempt` seconds after its last segment, or longer
    while its SYNs back off (syn_gap: between its last two)."""
    return last_time + max(timeouts.attempt, BACKOFF_PATIENCE * syn_gap)


class _Open:
    """Bookkeeping for the connection currently using a 4-tuple (one made for every
    connection, so a flood's million attempts cost little: the two ends' marks are
    fields of their own, not dictionaries keyed by endpoint)."""

    def __init__(self, key: FlowKey, segments: list[Segment], first_index: int) -> None:
        self.key = key
        self.segments = segments
        self.folder: Folder | None = None  # once it is long: it has the segments
        self.first_index = first_index
        self.reuses: int | None = None  # first_index of the connection this one follows on its 4-tuple
        self.after_idle: Continued | None = None  # Connection.after_idle
        self.reset = False
        self.reset_by_a = False  # the RST that reset it came from a
        # Per end, "a" the first segment's sender and "b" the other: the ISN of its first
        # SYN, the sequence number just past its FIN, whether the peer acknowledged that FIN.
        self.a_src = ""
        self.a_port = 0
        self.isn_a = UNSEEN
        self.isn_b = UNSEEN
        self.syn_end_a = UNSEEN  # just past a's SYN and the data it carried (Fast Open)
        self.a_synchronized = False  # b has acknowledged a's SYN
        # The acknowledgment number of the latest segment while it is b's challenge ACK (see
        # the module's rule): an ACK that does not acknowledge a's SYN, before any that does.
        self.challenge_ack = UNSEEN
        self.fin_end_a = UNSEEN
        self.fin_end_b = UNSEEN
        self.fin_acked_a = False
        self.fin_acked_b = False
        self.b_spoke = False
        # Each end has sent data after its SYN: a SYN of its own ISN after that is no
        # retransmission (no stack resends its SYN once it sent data) but a network's late
        # copy, if it comes within SYN_HELD_BACK of the SYN, or else a new connection by a
        # stack whose ISN is fixed (an embedded one, rebooted).
        self.a_data = False
        self.b_data = False
        # When the other end's first segment was a FIN while a was open: Zeek's partial close
        # (see the module's expiry rules); UNSEEN if not.
        self.b_first_fin_time = float(UNSEEN)
        self.only_syns = True  # nothing but SYNs and SYN/ACKs so far
        # a sent an ACK after its SYN: it had the SYN/ACK, captured or not (one direction passed).
        self.a_answered = False
        self.began_with_syn = False  # its first segment a SYN (without ACK)
        self.syn_seen = False
        self.last_syn_time = 0.0
        # The longer of each end's gap between its last two SYNs (SYN/ACKs): its backoff.
        self.syn_gap = 0.0
        self.a_syn_time = float(UNSEEN)
        self.b_syn_time = float(UNSEEN)
        self.a_syn_gap = 0.0
        self.b_syn_gap = 0.0
        self.last_time = 0.0
        self.queued_at = 0.0  # its last segment's time when it joined the tracker's queue of the over
        self.tunnels: list[str] | None = None  # see Connection.tunnels
        self.untunnelled = False
        self.copies: list[tuple[Segment, int]] | None = None  # see Connection.copies
        self.copy_count = 0
        # A copy found on its original's interface, or where the file names none: the capture
        # copies packets where they are seen (a mirror port, two files merged onto one).
        self.copied_in_place = False
        self.recent: list[Segment] | None = None  # once folded: its latest segments, for copies
        # Each end's highest TTL (hop limit) so far, and whether a copy came a router further on:
        # see the module's rule on forwarded copies.
        self.a_ttl = UNSEEN
        self.b_ttl = UNSEEN
        # Each end's first segment's interface: where its packets come in (UNSEEN: none named).
        self.a_interface = UNSEEN
        self.b_interface = UNSEEN
        self.forwarded = False
        # The packed attempt it began as (held_attempt.py), if it did: the timer that attempt
        # set is this connection's.
        self.attempt: HeldAttempt | None = None
        # Over and waiting: its segments, packed (`segments` is then empty); a segment that
        # comes for it, or its hand-over, unpacks them.
        self.packed: PackedSegments | None = None
        # Open, its older segments packed (OPEN_UNPACKED), in their order before `segments`;
        # a chunk that does not pack (a tunnel's) as it is. older_count: the segments in them.
        self.older: list[PackedSegments | list[Segment]] | None = None
        self.older_count = 0
        # Its entries in the tracker's queue of the over, and how many of those (the oldest)
        # are stale: it was open again since they were made (refused_again).
        self.queued = 0
        self.stale = 0
        self.continues: Continued | None = None  # see Connection.continues
        # The connection this one's SYN found open on its 4-tuple, held back until this
        # attempt shows whether its RST resets that one or it goes on (ConnectionTracker.
        # _displace), and that SYN.
        self.displaced: tuple[_Open, Segment] | None = None
        self.first_frame = 0
        self.bases: dict[Endpoint, int] | None = None  # once folded: read from what it held

    def _inherited(self) -> dict[Endpoint, int] | None:
        return self.continues.bases if self.continues is not None else None

    def continued(self) -> Continued:
        """What a later connection on its 4-tuple reads of it once it is given up as idle:
        each end's segment that went furthest in its sequence space, the latest of those
        (not a keep-alive, one below it, nor a RST), from what it holds and from what it
        continued in turn; and each end's base of relative numbers, from the first it
        continued or from its own start."""
        self.unpack()
        folder = self.folder
        held = self.segments if folder is None or self.recent is None else self.recent
        earlier = self.continues.last if self.continues is not None else []
        furthest: dict[tuple[str, int], Segment] = {}
        for segment in [*earlier, *held]:
            if segment.flags & RST:
                continue
            end = (segment.src, segment.sport)
            best = furthest.get(end)
            if best is None or seq_diff(segment.seq_end, best.seq_end) >= 0:
                furthest[end] = segment
        last = sorted(furthest.values(), key=frame_of)
        bases = self.bases if self.bases is not None else sequence_bases_of(self.segments, self._inherited())
        # Its last segment's own time, not its timers' (decode.reader.STAMPED_BACK).
        last_time = max((segment.time for segment in held), default=self.last_time)
        return Continued(self.first_frame, last_time, last, bases)

    def unpack(self) -> None:
        """All its segments back in `segments`."""
        packed = self.packed
        if packed is not None:
            self.segments = packed.segments()
            self.packed = None
        older = self.older
        if older is not None:
            held: list[Segment] = []
            for chunk in older:
                held.extend(chunk.segments() if isinstance(chunk, PackedSegments) else chunk)
            held.extend(self.segments)
            self.segments = held
            self.older = None
            self.older_count = 0

    def pack_older(self) -> None:
        """The oldest OPEN_CHUNK of `segments` packed into `older`."""
        held = self.segments
        chunk = held[:OPEN_CHUNK]
        del held[:OPEN_CHUNK]
        packed = pack_segments(chunk, self.a_src, self.a_port)
        if self.older is None:
            self.older = []
        self.older.append(packed if packed is not None else chunk)
        self.older_count += len(chunk)

    def copy_of(self, segment: Segment) -> Segment | None:
        """The segment among the latest that `segment` is a capture copy of, if any."""
        if self.packed is not None:
            self.unpack()
        held = self.segments if self.folder is None or self.recent is None else self.recent
        spoke = False
        # The IPv4 identification of its sender's latest segment among them (UNSEEN: none).
        latest_id = UNSEEN
        for back in range(1, min(COPY_LOOK_BACK, len(held)) + 1):
            earlier = held[-back]
            if earlier.sport != segment.sport or earlier.src != segment.src:
                # The other end spoke since: the same bytes again may be a second answer (a
                # RST to each of two segments), unless an IPv4 identification, which counts
                # on with every packet an end sends, says it is the same packet (a mirror of
                # two switch ports sees the other end's answer between the two copies).
                if segment.ip_id <= 0 or earlier.flags & RST:
                    break  # (a RST between answered the first: it was delivered)
                spoke = True
                continue
            if (
                earlier.seq == segment.seq
                and is_capture_copy(segment, earlier)
                and not (
                    # A second SYN/ACK comes in where the first did; a copy on another
                    # interface (tcpdump -i any: a tunnel's outer and inner packet) is one.
                    segment.interface == earlier.interface
                    and not self.copied_in_place
                    # A host with no socket answers each segment with a RST alike to the
                    # byte (its sequence number the segment's acknowledgment, the IPv4
                    # identification 0), back to back where the segments came as a burst
                    # (helper-148: an iperf3 server gone, 4,816 of 4,945 RSTs left out as
                    # copies; a killed ssh server's RST to the FIN after the one to the data).
                    and (earlier.flags & RST or _second_answer(held, len(held) - back))
                )
            ):
                return earlier
            if latest_id == UNSEEN:
                latest_id = earlier.ip_id
            if spoke and earlier.time < segment.time - CAPTURE_COPY_WINDOW:
                break
        else:
            if segment.payload_len and segment.ip_id > 0 and len(held) > COPY_LOOK_BACK:
                copied = _numbered_copy(segment, held, latest_id)
                if copied is not None:
                    return copied
        from_a = segment.sport == self.a_port and segment.src == self.a_src
        ttl = segment.ttl
        ingress = self.a_interface if from_a else self.b_interface
        lower = ttl >= 0 and ttl + 1 == (self.a_ttl if from_a else self.b_ttl)
        if not lower and (segment.interface == UNSEEN or ingress == UNSEEN or segment.interface == ingress):
            return None
        for back in range(1, min(FORWARD_LOOK_BACK, len(held)) + 1):
            earlier = held[-back]
            if earlier.time < segment.time - FORWARD_COPY_WINDOW:
                break
            if is_forwarded_copy(segment, earlier, ingress):
                self.forwarded = True
                return earlier
        return None

    def later_copy_first(self, segment: Segment, original: Segment) -> int:
        """Where `original` lies among the segments if `segment`, its capture copy, takes its
        place (take_later_copy), else -1. It does for a segment without data (a pure ACK, a
        FIN) whose first copy acknowledged what the other end had not sent yet, in the capture,
        where this one comes after the segment it acknowledges; data whose first copy came
        before data its sender sent earlier, first seen after it. A mirror port's two streams
        interleave: one stream's copy can be stamped microseconds before the other's copy of
        what came first (helper-108's span3: 161 of 1,000 handshakes were timed to the next
        data segment, 25 ms, where they took 40 us; 89 FIN/ACKs came before their FIN). Not a
        SYN or a RST. A long connection's segments are analyzed as they come: it keeps the
        first."""
        flags = original.flags
        if (
            self.folder is not None
            or flags & (SYN | RST)
            or not flags & ACK
            or segment.payload_len != original.payload_len  # a piece a router sent on
            or segment.time - original.time > CAPTURE_COPY_WINDOW  # one its queue held
        ):
            return -1
        held = self.segments
        at = len(held) - 1
        while at >= 0 and held[at] is not original:
            at -= 1
        if at < 0:
            return -1
        before, after = held[max(0, at - COPY_LOOK_BACK) : at], held[at + 1 :]
        src, sport = original.src, original.sport
        if original.payload_len:
            # Data: where the first copy came before data its sender sent before it (its
            # IPv4 identification before this one's: not a resend), seen for the first time
            # after it (the later copy puts the sender's data in order).
            start, ip_id = original.seq, original.ip_id
            takes = ip_id > 0 and any(
                later.sport == sport
                and later.src == src
                and later.payload_len
                and seq_diff(later.seq_end, start) <= 0
                and 0 < (ip_id - later.ip_id) & 0xFFFF < _ID_BEFORE
                and later.ip_id > 0
                and not any(
                    earlier.sport == sport
                    and earlier.src == src
                    and seq_diff(earlier.seq, later.seq) <= 0 < seq_diff(earlier.seq_end, later.seq)
                    for earlier in before
                )
                for later in after
            )
            return at if takes else -1
        ack = original.ack
        for earlier in before:
            if (earlier.sport != sport or earlier.src != src) and seq_diff(earlier.seq_end, ack) >= 0:
                return -1  # what it acknowledges came before it
        takes = any(
            (later.sport != sport or later.src != src)
            and seq_diff(later.seq, ack) < 0 <= seq_diff(later.seq_end, ack)
            for later in after
        )
        return at if takes else -1

    def take_later_copy(self, segment: Segment, at: int) -> None:
        """`segment` in the place of the segment at `at` (later_copy_first), its copy now."""
        held = self.segments
        original = held.pop(at)
        held.append(segment)
        self.note_copy(original, segment)

    @property
    def look_back(self) -> int:
        """How many of its latest segments a folded connection keeps for copies."""
        return FORWARD_LOOK_BACK if self.forwarded else COPY_LOOK_BACK

    def note_copy(self, segment: Segment, original: Segment) -> None:
        if self.copies is None:
            self.copies = []
        if self.folder is None or len(self.copies) < COPIES_KEPT:
            self.copies.append((segment, original.frame))
        self.copy_count += 1
        if segment.interface == original.interface:
            self.copied_in_place = True
        if self.folder is not None:
            self.folder.add_copy(segment)

    def note_tunnel(self, tunnel: str, first: bool) -> None:
        """A segment captured in `tunnel` ("" for none); `first`: the connection's first."""
        tunnels = self.tunnels
        if not tunnel:
            self.untunnelled = True
        elif tunnels is None:
            self.tunnels = [tunnel]
            self.untunnelled = not first  # every segment before it came untunnelled
        elif tunnel not in tunnels:
            tunnels.append(tunnel)

    def refused_again(self, syn: Segment) -> bool:
        """Whether `syn`, from a, is its SYN again after b refused it with a RST, all the
        connection holds: Windows sends the same SYN (the same ISN) twice more, 0.5 s apart,
        after each RST of a refused connect(), which fails only then (tshark: one stream,
        the SYNs "retransmissions"). Another connect() from the port would take another ISN."""
        return (
            self.reset
            and not self.reset_by_a
            and syn.flags & (SYN | ACK | RST | FIN) == SYN
            and syn.seq == self.isn_a
            and self.isn_b == UNSEEN
            and not self.a_data
            and not self.b_data
            and self.fin_end_a == UNSEEN
            and self.fin_end_b == UNSEEN
            and not self.a_synchronized
        )

    @property
    def ended(self) -> bool:
        """Closed for good: reset, or both FINs sent. A new SYN may start over."""
        return self.reset or (self.fin_end_a != UNSEEN and self.fin_end_b != UNSEEN)

    @property
    def over(self) -> bool:
        """Nothing more to come: reset, or both FINs acknowledged (an end still resending
        its FIN is in LAST_ACK or CLOSING, however long it waits)."""
        return self.reset or (self.fin_acked_a and self.fin_acked_b)

    def expiry(self, timeouts: Timeouts) -> tuple[Expiry, float]:
        """The timer that applies to it now, and when it fires (see the module's rules)."""
        if not self.b_spoke and self.fin_end_a != UNSEEN:
            return "partial_close", self.last_time + timeouts.partial_close
        if self.b_first_fin_time != UNSEEN and self.fin_end_a == UNSEEN and not self.reset:
            # Counted from that FIN, whatever came since: Zeek's timer is not moved by traffic.
            return "partial_close", self.b_first_fin_time + timeouts.partial_close
        if self.only_syns or (self.began_with_syn and not self.b_spoke and not self.a_answered):
            return "attempt", attempt_gives_up(self.last_time, self.syn_gap, timeouts)
        return "idle", self.last_time + timeouts.idle

    def isn_of(self, from_a: bool) -> int:
        return self.isn_a if from_a else self.isn_b

    def reopened_by(self, synack: Segment, from_a: bool) -> bool:
        """Whether a SYN/ACK opens a new connection on the 4-tuple: its sender had closed this
        one (its FIN, or a RST) and answers with another ISN. No end sends a SYN after its
        own FIN; a capture of the server's direction holds no SYN to split on."""
        closed = self.reset or (self.fin_end_a if from_a else self.fin_end_b) != UNSEEN
        return closed and self.isn_of(from_a) not in (UNSEEN, synack.seq)


# The longest a network holds a copy of a SYN back (a router's queue): a SYN with the same ISN
# later than this, after its sender's data, is a new connection (see _Open.a_data).
SYN_HELD_BACK: Final = 1.0
# How near where a displaced connection's ends left off a segment after the challenge ACK must
# be to go on in it (_resume): within any window a connection keeps (64 KiB scaled by 2^8).
RESUME_GAP: Final = 1 << 24
# Zeek's tcp_close_delay: how long an ended connection still takes stray segments.
CLOSE_DELAY: Final = 5.0
SWEEP_EVERY = 4096  # segments between looks for connections that ended long enough ago
# The most one look hands over; the rest wait for the next. A flood's timers fall due a
# whole second at a time (50,000 attempts at 50,000 SYNs a second), and each attempt handed
# over is a connection made with its segments: all at once, they were 50 MB more at the
# peak. Twice SWEEP_EVERY: a look hands over more than the segments between two looks can
# begin, so what waits is soon gone.
HAND_OVER_AT_ONCE = 2 * SWEEP_EVERY
_NEVER: Final = float(1 << 62)  # a timer set later than this (an infinite timeout) never fires


# How far a sender's IPv4 identification may count between two of its segments for the one
# to be taken as sent before the other (later_copy_first).
_ID_BEFORE: Final = 1024


class ConnectionTracker:
    """Feed segments in capture order with `add`; connections come back, each once, as
    soon as they are final (and all the rest from `finish`). Ids number connections in
    the order of their first segment, whatever order they come back in."""

    def __init__(
        self,
        timeouts: Timeouts | None = None,
        fold: Fold | None = None,
        long_connection: int = LONG_CONNECTION,
        frames: DecodeStats | None = None,
        pack_attempts: bool = True,
        pack_over_from: int = PACK_OVER_FROM,
        pack_open: bool = True,
        plain_attempts: int = PLAIN_ATTEMPTS,
    ) -> None:
        """fold: takes over a connection once it has `long_connection` segments (see Folder);
        without it every connection's segments are kept until it is handed over.
        frames: the reader's statistics, whose clock (the latest frame time read so far, of
        any frame, but for one stamped far ahead: decode.reader.CLOCK_LEAP) drives the
        timers: the same in every share process, which sees only some connections' segments,
        when the capture's times go backwards.
        pack_attempts: hold an attempt packed (held_attempt.py: a SYN, its SYN/ACK or RST,
        a RST after the SYN/ACK) until any other segment comes; the connections, and the
        order they come back in, are the same either way; plain_attempts: the latest so many
        of them are held as they came, not packed (PLAIN_ATTEMPTS). pack_over_from: hold a connection
        that is over packed (packed_segments.py) when it joins a queue of the over at least
        this long; likewise the same either way. pack_open: hold an open connection's older
        segments packed (OPEN_UNPACKED); likewise."""
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        self._frames = frames
        self._fold = fold
        self._long = long_connection
        # Not where a fold could take a connection of as many segments as an attempt holds
        # packed (its records and the RST that ends it; tests set it that low).
        self._pack = pack_attempts and long_connection > MAX_PACKED_RECORDS + 1
        self._pack_over_from = pack_over_from
        self._pack_open_from = OPEN_UNPACKED + OPEN_CHUNK if pack_open else 1 << 62
        self._current: dict[FlowKey, _Open] = {}
        # Attempts held packed (held_attempt.py), by their 4-tuple as one text (attempt_key:
        # 80 bytes where the key with its own address text is 150); a 4-tuple is in one or
        # the other, and both together hold the connections in the order of their ids.
        self._attempts = HeldAttempts()
        self._plain_attempts: deque[HeldAttempt] = deque()  # the latest, oldest first
        self._plain_most = plain_attempts
        # Over, in the order they became so: connections, and packed attempts a RST ended.
        # Each holds its 4-tuple's key: the queue holds the item alone (a scan's attempts
        # ended by RST wait here by the hundred thousand; a pair with its key is 72 bytes).
        self._ended: deque[_Open | HeldAttempt] = deque()
        # The connections given up as idle, by 4-tuple, for the one that continues each (see
        # Continued), IDLE_REMEMBERED at most, the oldest forgotten first.
        self._idle: dict[FlowKey, Continued] = {}
        # Timers by the whole second they may fire in (a wheel: a flood's attempts cost one
        # list slot each, not a heap entry), and those seconds in a heap. Looked at lazily:
        # a connection that has had segments since is put back by its new time.
        self._timers: dict[int, list[_Open | HeldAttempt]] = {}
        self._seconds: list[int] = []
        self._count = 0
        self._since_sweep = 0
        self._clock = float("-inf")  # the latest segment time seen
        self._offset = 0.0  # without a reader's clock: its timer_offset, kept here
        # Given up by a look at the timers past HAND_OVER_AT_ONCE: out of the tracker as at
        # that look, made connections at the next (with the timer that gave them up).
        self._given_up: deque[tuple[_Open | HeldAttempt, Expiry]] = deque()

    def add(self, segment: Segment) -> list[Connection]:
        """Take the next segment; the connections it makes final, if any."""
        done: list[Connection] = []
        self.take(segment, done)
        return done

    def take(self, segment: Segment, done: list[Connection]) -> None:
        """`add`, appending to `done`: no list is made for each segment."""
        key = flow_key(segment)
        open_ = self._current.get(key)
        previous = None
        flags = segment.flags
        time = segment.time
        frames = self._frames
        clock = frames.clock if frames is not None else None
        # Its timers' time: its own, but after a clock's step back (decode.reader.STAMPED_BACK).
        if frames is not None and clock is not None:
            self._clock = clock  # the reader's, of every frame (a share's too): see CLOCK_LEAP
            time += frames.timer_offset
        else:
            self._offset = timer_offset(time, self._clock, self._offset)
            time += self._offset
            if time > self._clock:
                self._clock = time
        if open_ is None:
            attempt = None
            held_as = ""
            if len(self._attempts):
                held_as = attempt_key(segment)
                attempt = self._attempts.get(held_as)
            if attempt is not None:
                if self._stays_packed(attempt, segment):
                    attempt.add_answer(segment, time)
                    self._count_for_sweep(done)
                    return
                reset_from_b = self._ends_packed(attempt, segment)
                if reset_from_b is not None:
                    attempt.add_reset(segment, reset_from_b, time)
                    self._ended.append(attempt)
                    self._count_for_sweep(done)
                    return
                open_ = self._unpack(key, attempt)
            elif (
                self._pack
                and flags & (SYN | ACK | RST | FIN) == SYN
                and can_pack(segment)
                and not (self._idle and key in self._idle)  # its memory goes with it (after_idle)
            ):
                if self._idle:
                    self._idle.pop(key, None)  # a new connection: it continues nothing
                attempt = HeldAttempt(held_as or attempt_key(segment), self._count, segment, time)
                self._attempts.add(attempt)
                plain = self._plain_attempts
                plain.append(attempt)
                if len(plain) > self._plain_most:
                    plain.popleft().pack()  # nothing if gone since (released)
                self._count += 1
                self._time(attempt, time + self.timeouts.attempt)
                self._count_for_sweep(done)
                return
        from_a = True
        first = False
        if open_ is not None:
            original = open_.copy_of(segment)
            if original is not None:
                if segment.tunnel or open_.tunnels is not None:
                    open_.note_tunnel(segment.tunnel, False)
                at = open_.later_copy_first(segment, original)
                if at >= 0:
                    open_.take_later_copy(segment, at)
                else:
                    open_.note_copy(segment, original)
                self._count_for_sweep(done)
                return
            from_a = segment.sport == open_.a_port and segment.src == open_.a_src
            if open_.over:
                if self._clock - open_.last_time > CLOSE_DELAY:
                    # Over and quiet: a new connection, not linked to this one (the sweep
                    # may have let it go already, as it may not: the result must not tell).
                    self._hand_over(key, open_, done)
                    self._succeeded(done[-1], segment, within=False)
                    open_ = None
            elif self._clock > open_.expiry(self.timeouts)[1]:
                # A new connection, no link (see _expire); or the connection its SYN held
                # back, which goes on.
                open_ = self._expire(key, open_, done)
                if open_ is not None:
                    from_a = segment.sport == open_.a_port and segment.src == open_.a_src
            if open_ is not None and from_a and open_.refused_again(segment):
                # The same SYN again after its refusal: the same connect() (see refused_again).
                open_.reset = False
                open_.attempt = None  # its packed attempt's place in the queue of the over is left
                open_.stale = open_.queued  # and so are its own: it is queued anew once over
                open_.b_spoke = False  # its refusals said nothing more: an attempt's timer again
                self._time(open_, open_.expiry(self.timeouts)[1])
            elif open_ is not None and (
                (
                    flags & (SYN | ACK | RST | FIN) == SYN
                    and (
                        open_.ended
                        or open_.isn_of(from_a) not in (UNSEEN, segment.seq)
                        or (
                            (open_.a_data if from_a else open_.b_data)
                            and time - open_.last_syn_time > SYN_HELD_BACK
                        )
                    )
                )
                or (flags & (SYN | ACK | RST | FIN) == SYN | ACK and open_.reopened_by(segment, from_a))
            ):
                previous, open_ = open_, None
                displaced = self._displace(key, previous, segment, done)
        if open_ is None:
            open_ = self._current[key] = _Open(key, [], self._count)
            open_.a_src, open_.a_port = segment.src, segment.sport
            open_.began_with_syn = flags & (SYN | ACK | RST | FIN) == SYN
            if self._idle:
                continued = self._idle.pop(key, None)
                if continued is not None and not flags & SYN and continued.fits(segment):
                    open_.continues = continued
                elif continued is not None and flags & (SYN | ACK | RST | FIN) == SYN:
                    open_.after_idle = continued
            from_a = True
            if previous is not None:
                open_.reuses = previous.first_index
                open_.displaced = displaced
            self._count += 1
            self._time(open_, time + self.timeouts.attempt)
            first = True
        elif not from_a and not open_.b_spoke:
            self._b_spoke(open_, flags, time)
        held = open_.displaced
        if held is not None and not first:
            # Only the SYN's sender shows the SYN was not its (the server's segments fit the
            # held connection's numbers whoever sent the SYN: the challenge ACK itself does);
            # and only while the held connection's timer has not given it up.
            if (
                from_a
                and open_.challenge_ack != UNSEEN
                and not flags & (SYN | RST)
                and self._clock <= held[0].expiry(self.timeouts)[1]
                and held[0].continued().fits(segment, RESUME_GAP)
            ):
                self._resume(key, open_, segment, time, done)
                self._count_for_sweep(done)
                return
            # The RST that answers the challenge ACK (_control's rule), before _apply moves on.
            answers = (
                from_a
                and bool(flags & RST)
                and open_.challenge_ack != UNSEEN
                and segment.seq == open_.challenge_ack
            )
            self._apply(open_, segment, from_a, first, time)
            if answers:
                self._release(open_, done, segment)
            elif from_a and flags & (SYN | ACK | RST | FIN) != SYN:
                self._release(open_, done)  # not the SYN again
            elif not from_a and open_.challenge_ack == UNSEEN:
                self._release(open_, done)  # not a challenge ACK
        else:
            self._apply(open_, segment, from_a, first, time)
        self._count_for_sweep(done)

    def _b_spoke(self, open_: _Open, flags: int, time: float) -> None:
        """The second end's first segment, of `flags`: a partial close's timer if it is a FIN
        (see the module's rules)."""
        open_.b_spoke = True
        if flags & FIN and not flags & RST and open_.fin_end_a == UNSEEN and not open_.reset:
            open_.b_first_fin_time = time
            self._time(open_, time + self.timeouts.partial_close)

    def _displace(
        self, key: FlowKey, open_: _Open, segment: Segment, done: list[Connection]
    ) -> tuple[_Open, Segment] | None:
        """Hand over the connection on `key` that `segment`, a SYN or SYN/ACK, begins the next
        one after. One still open (not ended) is held back (returned, with the SYN), for the
        new attempt's first answers to tell: a challenge ACK its end sent for the SYN, answered
        by the RST that resets it (see the module's rule); a challenge ACK, then a segment that
        goes on in its sequence space (_resume: the SYN was not its client's, injected or a
        stray copy); or anything else, which releases it as it was. The next connection holds
        it (_Open.displaced)."""
        if open_.ended or not segment.flags & SYN or segment.flags & ACK:
            self._hand_over(key, open_, done)
            self._succeeded(done[-1], segment)
            return None
        del self._current[key]
        self._release(open_, done)  # the one it held back in turn (a chain of SYNs): first
        return open_, segment

    def _release(
        self,
        open_: _Open,
        done: list[Connection],
        reset_by: Segment | None = None,
        end: float | None = None,
        capture_end: float | None = None,
    ) -> None:
        """The connection `open_`'s SYN displaced, handed over now (see _displace); `reset_by`:
        the RST that answered its challenge ACK, which reset it (Connection.reset_by_next).
        Unless reset, it is marked given up if its own timer would have fired by now (`end`,
        the clock if not given): held, it had none (helper-118). `capture_end`: at the
        capture's end, as finish_each marks what it holds."""
        held = open_.displaced
        if held is not None:
            open_.displaced = None
            previous, syn = held
            expired: Expiry | None = None
            if reset_by is None and not previous.over:
                kind, when = previous.expiry(self.timeouts)
                if (self._clock if end is None else end) > when:
                    expired = kind
            connection = self._open_connection(previous, expired)
            self._succeeded(connection, syn)
            connection.reset_by_next = reset_by
            if capture_end is not None and not previous.over and expired is None:
                connection.capture_end = capture_end
            done.append(connection)

    def _let_go(self, key: FlowKey, open_: _Open) -> _Open | None:
        """Take `open_`, which its timer gave up, out of the tracker. The connection its SYN
        held back (_displace), if any, is current again, with its timer, and returned: the
        attempt's answers said nothing of it (no RST answered a challenge ACK, nor any answer
        came), and a later segment of it is its own (helper-118: it was handed over with the
        attempt, not given up, and its later segments continued nothing)."""
        del self._current[key]
        held = open_.displaced
        if held is None:
            return None
        open_.displaced = None
        previous = held[0]
        self._current[key] = previous
        self._idle.pop(key, None)  # the attempt's: a later segment continues the connection
        self._time(previous, previous.expiry(self.timeouts)[1])
        return previous

    def _resume(
        self, key: FlowKey, open_: _Open, segment: Segment, time: float, done: list[Connection]
    ) -> None:
        """The connection `open_`'s SYN displaced goes on (`segment`, after the challenge ACK
        its end sent for the SYN, is in its sequence space): the attempt, its SYN and that
        challenge ACK, is handed over as it is, and the connection is current again, with a
        timer (those it had fired while it was held)."""
        held = open_.displaced
        assert held is not None
        previous = held[0]
        open_.displaced = None
        self._hand_over(key, open_, done)
        done[-1].went_on_at = segment.frame
        self._current[key] = previous
        self._time(previous, previous.expiry(self.timeouts)[1])
        from_a = segment.sport == previous.a_port and segment.src == previous.a_src
        if not previous.b_spoke:
            # Its second end has spoken: sent this segment, or else the challenge ACK, which
            # said it holds this connection (a one-sided capture: the partial close's timer).
            self._b_spoke(previous, segment.flags if not from_a else ACK, time)
        self._apply(previous, segment, from_a, False, time)

    def _stays_packed(self, attempt: HeldAttempt, segment: Segment) -> bool:
        """Whether `segment` is a SYN/ACK from the end that did not send the SYN, the first
        or one sent again (not a capture copy: the full bookkeeping would set a copy aside),
        that leaves the attempt one that nothing but its timer ends: anything else is taken
        unpacked. A listener without SYN cookies resends its SYN/ACK five times over 31 s
        (Linux's tcp_synack_retries): a flood's attempts are held that long."""
        if not (
            not attempt.over
            and segment.flags & (SYN | ACK | RST | FIN) == SYN | ACK
            and not attempt.sent_by_a(segment)
            and can_pack(segment)
            and self._clock <= self._gives_up(attempt)
        ):
            return False
        if not attempt.answered:
            return True
        if attempt.records >= MAX_PACKED_RECORDS or not same_options(segment, attempt.options_b):
            return False
        if attempt.answered_a_hop_before(segment, FORWARD_COPY_WINDOW):
            return False  # copy_of judges it
        if not attempt.answered_near(segment.stamp, CAPTURE_COPY_WINDOW):
            return True  # a capture copy comes within the window of what it copies
        answers = attempt.segments()[1:]  # every one a SYN/ACK from this end: see copy_of
        return not any(
            earlier.seq == segment.seq and is_capture_copy(segment, earlier)
            for earlier in answers[-COPY_LOOK_BACK:]
        )

    def _ends_packed(self, attempt: HeldAttempt, segment: Segment) -> bool | None:
        """Whether `segment` is a RST that ends a packed attempt as it would end the full
        bookkeeping (_control), and from which end: from b, the answer to the SYN (a closed
        port); from a, after a SYN/ACK that acknowledged its SYN (no challenge ACK: a half-open
        scan's RST). None for anything else, which is taken unpacked."""
        flags = segment.flags
        if attempt.over or flags & (SYN | RST | FIN) != RST or segment.options is not None:
            return None
        if not can_pack(segment) or self._clock > self._gives_up(attempt):
            return None
        if not attempt.sent_by_a(segment):
            return None if attempt.answered else True
        if not attempt.answered:
            return None
        syn, synack = attempt.segments()[:2]
        acknowledged = seq_diff(synack.ack, syn.seq)
        return False if 0 < acknowledged <= seq_diff(syn.seq_end, syn.seq) else None

    def _gives_up(self, attempt: HeldAttempt) -> float:
        """When a packed attempt's timer fires: _Open.expiry's for an attempt."""
        return attempt_gives_up(attempt.last_time, attempt.syn_gap, self.timeouts)

    def _unpack(self, key: FlowKey, attempt: HeldAttempt) -> _Open:
        """The full bookkeeping of a packed attempt: its segments taken again, as they were
        when they came (its timer stays the attempt's: see _sweep)."""
        held = attempt.segments()
        self._attempts.remove(attempt)
        attempt.release()
        first = held[0]
        open_ = self._current[key] = _Open(key, [], attempt.first_index)
        open_.a_src, open_.a_port = first.src, first.sport
        open_.began_with_syn = True
        open_.attempt = attempt  # before the segments: an attempt over is in the queue already
        # Their timers' times (decode.reader.STAMPED_BACK): the last one's is the attempt's,
        # the others as far before it as they were sent, none after it (a SYN sent before a
        # clock's step back, its SYN/ACK after).
        last = attempt.last_time
        shift = last - held[-1].time
        self._apply(open_, first, True, True, min(first.time + shift, last))
        for segment in held[1:]:
            from_a = attempt.sent_by_a(segment)
            if not from_a:
                open_.b_spoke = True
            self._apply(open_, segment, from_a, False, min(segment.time + shift, last))
        return open_

    def _apply(self, open_: _Open, segment: Segment, from_a: bool, first: bool, time: float) -> None:
        """What a segment, the connection's (`first`: its first) tells its bookkeeping; `time`:
        its timers' (decode.reader.STAMPED_BACK)."""
        flags = segment.flags
        if first:
            open_.first_frame = segment.frame
        if segment.tunnel or open_.tunnels is not None:
            open_.note_tunnel(segment.tunnel, first)
        was_over = open_.over
        folder = open_.folder
        if folder is None:
            held = open_.segments  # never packed whole here: copy_of, which each segment meets first, unpacks
            held.append(segment)
            count = len(held) + open_.older_count
            # Not before the other end has spoken (its first segment sets the machine's
            # start), unless the capture holds only one side.
            if count >= self._long and self._fold is not None and (open_.b_spoke or count >= 8 * self._long):
                open_.unpack()
                held = open_.segments
                copies = [copy for copy, _ in open_.copies] if open_.copies is not None else None
                context = open_.continues.last if open_.continues is not None else None
                open_.folder = self._fold(held, copies, context)
                open_.bases = sequence_bases_of(held, open_._inherited())
                open_.recent = held[-open_.look_back :]
                open_.segments = []
            elif len(held) >= self._pack_open_from:
                open_.pack_older()
        else:
            folder.add(segment)
            recent = open_.recent
            if recent is not None:
                recent.append(segment)
                if len(recent) > open_.look_back:
                    del recent[0]
        if from_a:
            if segment.ttl > open_.a_ttl:
                open_.a_ttl = segment.ttl
            if open_.a_interface == UNSEEN:
                open_.a_interface = segment.interface
        else:
            if segment.ttl > open_.b_ttl:
                open_.b_ttl = segment.ttl
            if open_.b_interface == UNSEEN:
                open_.b_interface = segment.interface
        if time > open_.last_time:  # a frame stamped back shortens no timer
            open_.last_time = time
        if not flags & SYN:
            open_.only_syns = False
            if from_a and flags & (ACK | RST) == ACK:
                open_.a_answered = True
            if segment.payload_len:
                if from_a:
                    open_.a_data = True
                else:
                    open_.b_data = True
        # A scan's or a crafted packet's flags (impossible_flags) start, set and end nothing.
        if flags & (SYN | FIN | RST) and not impossible_flags(flags):
            self._control(open_, segment, from_a, time)
        if flags & ACK:
            # The peer's FIN this acknowledges, if it covers it.
            peer_fin = open_.fin_end_b if from_a else open_.fin_end_a
            if peer_fin != UNSEEN and seq_diff(segment.ack, peer_fin) >= 0:
                if from_a:
                    open_.fin_acked_b = True
                else:
                    open_.fin_acked_a = True
        open_.challenge_ack = UNSEEN
        if not from_a and flags & (ACK | RST) == ACK and not open_.a_synchronized and open_.isn_a != UNSEEN:
            if 0 < seq_diff(segment.ack, open_.isn_a) <= seq_diff(open_.syn_end_a, open_.isn_a):
                open_.a_synchronized = True
            else:  # an ACK a's SYN_SENT does not accept: a challenge ACK, if a answers it with RST
                open_.challenge_ack = segment.ack
        if open_.over and not was_over:
            open_.queued_at = time
            attempt = open_.attempt
            if attempt is None or not attempt.over:
                self._ended.append(open_)
                open_.queued += 1
                if open_.folder is None and len(self._ended) >= self._pack_over_from:
                    packed = pack_segments(open_.segments, open_.a_src, open_.a_port)
                    if packed is not None:
                        open_.packed = packed
                        open_.segments = []
            # else: unpacked, it keeps the packed attempt's place in the queue (see _sweep),
            # and is not packed again: the segment that unpacked it is on its way

    def _control(self, open_: _Open, segment: Segment, from_a: bool, time: float) -> None:
        """What a SYN, FIN or RST tells of the connection's start and end."""
        flags = segment.flags
        if flags & (SYN | FIN):
            if flags & SYN:
                if open_.isn_of(from_a) == UNSEEN:
                    if from_a:
                        open_.isn_a = segment.seq
                    else:
                        open_.isn_b = segment.seq
                if from_a and open_.isn_a == segment.seq:
                    end = segment.seq_end
                    if open_.syn_end_a == UNSEEN or seq_diff(end, open_.syn_end_a) > 0:
                        open_.syn_end_a = end
                # The backoff is each end's own: a listener answers each SYN again at once
                # (helper-119: a client's 4.1 s gap read as the 20 us to that answer, and its
                # attempt given up 5 s on, in four pieces).
                if from_a:
                    if open_.a_syn_time != UNSEEN:
                        open_.a_syn_gap = time - open_.a_syn_time
                    open_.a_syn_time = time
                else:
                    if open_.b_syn_time != UNSEEN:
                        open_.b_syn_gap = time - open_.b_syn_time
                    open_.b_syn_time = time
                open_.syn_gap = max(open_.a_syn_gap, open_.b_syn_gap)
                open_.syn_seen = True
                open_.last_syn_time = time
            if flags & FIN:
                if from_a:
                    partial = open_.fin_end_a == UNSEEN and not open_.b_spoke
                    open_.fin_end_a = segment.seq_end
                    if partial:  # a partial connection now: its shorter timer
                        self._time(open_, open_.expiry(self.timeouts)[1])
                else:
                    open_.fin_end_b = segment.seq_end
        # Not the RST that answers a challenge ACK (the module's rule): its sender stays in
        # SYN_SENT.
        if flags & RST and not (
            from_a and open_.challenge_ack != UNSEEN and segment.seq == open_.challenge_ack
        ):
            open_.reset = True
            open_.reset_by_a = from_a

    def _count_for_sweep(self, done: list[Connection]) -> None:
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self._since_sweep = 0
            self._sweep(self._clock, done)

    def held(self) -> int:
        """Connections held open now."""
        return len(self._current) + len(self._attempts)

    def _time(self, open_: _Open | HeldAttempt, when: float) -> None:
        if when >= _NEVER:
            return  # never fires (an infinite timeout): the connection is held to the end
        second = int(when)
        waiting = self._timers.get(second)
        if waiting is None:
            waiting = self._timers[second] = []
            heapq.heappush(self._seconds, second)
        waiting.append(open_)

    def _sweep(self, now: float, done: list[Connection]) -> None:
        """Hand over connections over and quiet for CLOSE_DELAY, and those their timer
        gave up: no segment can join them now. Those their timer gave up are made
        connections HAND_OVER_AT_ONCE at most: the others leave the tracker all the same,
        as given up by this look, and are made at the next (or by finish)."""
        limit = len(done) + HAND_OVER_AT_ONCE
        given_up = self._given_up
        while given_up and len(done) < limit:
            item, expired = given_up.popleft()
            done.append(self._connection_of(item, expired))
        while self._ended:
            item = self._ended[0]
            if isinstance(item, HeldAttempt):
                if self._attempts.get(item.key) is item:
                    if now - item.last_time > CLOSE_DELAY:
                        self._ended.popleft()
                        self._hand_over_attempt(item, done, None)
                        continue
                    break  # nothing came since it was queued: it waits its turn
                found = self._current.get(flow_key_of(item.key))  # unpacked since, maybe: in its place
                if found is None or found.attempt is not item:
                    self._ended.popleft()
                    continue
                open_ = found
            else:
                open_ = item
            key = open_.key
            own = item is open_  # its own entry, not its packed attempt's (see _Open.queued)
            if own:
                open_.queued -= 1  # each way below, this entry leaves the queue
            if self._current.get(key) is not open_ or (own and open_.stale):
                # Already handed over (replaced by a new SYN), or open again since it was
                # queued (refused_again: queued anew once over).
                self._ended.popleft()
                if own and open_.stale:
                    open_.stale -= 1
                continue
            last = open_.last_time
            if now - last > CLOSE_DELAY:
                self._ended.popleft()
                self._hand_over(key, open_, done)
            elif last > open_.queued_at:
                # Segments came after it was queued: to the back, by its latest, so that
                # one that trickles on never holds back the quiet ones behind it.
                self._ended.popleft()
                open_.queued_at = last
                self._ended.append(open_)
                open_.queued += 1
            else:
                if own:
                    open_.queued += 1  # it stays
                break  # the oldest in the queue is not quiet yet, nor are those behind it
        seconds, clock = self._seconds, self._clock
        while seconds and seconds[0] + 1 <= clock:  # every timer of that second is due
            for due in self._timers.pop(heapq.heappop(seconds)):
                if isinstance(due, HeldAttempt):
                    if self._attempts.get(due.key) is due:
                        if due.over:
                            continue  # the queue of the over has it
                        when = self._gives_up(due)
                        if clock > when:
                            self._attempts.remove(due)
                            self._give_up(due, "attempt", done, limit)
                        else:
                            self._time(due, when)
                        continue
                    # Unpacked since, maybe: its timer is the connection's.
                    found = self._current.get(flow_key_of(due.key))
                    if found is None or found.attempt is not due:
                        continue
                    open_ = found
                else:
                    open_ = due
                    if self._current.get(open_.key) is not open_:
                        continue  # handed over already
                key = open_.key
                if open_.over:
                    continue  # the queue of the over has it
                kind, when = open_.expiry(self.timeouts)
                if clock > when:
                    self._give_up(open_, kind, done, limit)
                    self._let_go(key, open_)  # its timer is in the heap: this loop sees to it
                else:
                    self._time(open_, when)  # segments came since: its timer from the latest

    def _give_up(
        self, item: _Open | HeldAttempt, expired: Expiry, done: list[Connection], limit: int
    ) -> None:
        """A connection out of the tracker, its timer having given it up: made now, or at
        the next look past `limit` (what it holds can no longer change)."""
        if expired == "idle" and isinstance(item, _Open):
            self._remember_idle(item)
        if len(done) < limit:
            done.append(self._connection_of(item, expired))
        else:
            self._given_up.append((item, expired))

    @staticmethod
    def _succeeded(connection: Connection, segment: Segment, within: bool = True) -> None:
        """`segment` begins the next connection on `connection`'s 4-tuple; `within`:
        CLOSE_DELAY after its last segment. Only then is the SYN said to end a TIME_WAIT:
        later, whether the tracker still holds the connection depends on when it last swept,
        and the result must not tell (nor would a TIME_WAIT of Linux's 60 s have lasted)."""
        connection.succeeded_at = segment.time
        if within and segment.flags & (SYN | ACK | RST | FIN) == SYN:
            connection.succeeded_by = segment

    def _connection_of(self, item: _Open | HeldAttempt, expired: Expiry | None) -> Connection:
        if isinstance(item, HeldAttempt):
            return self._attempt_connection(item, expired)
        return self._open_connection(item, expired)

    def _expire(self, key: FlowKey, open_: _Open, done: list[Connection]) -> _Open | None:
        """Give up a connection its timer let go. The one a later segment on its 4-tuple
        starts gets no link to it (reuses_ports_of): whether this one is still held then
        depends on when the tracker last looked, and the result must not. The connection its
        SYN held back goes on (_let_go), returned, unless its own timer gave it up too."""
        expired = open_.expiry(self.timeouts)[0]
        if expired == "idle":
            self._remember_idle(open_)
        restored = self._let_go(key, open_)
        done.append(self._open_connection(open_, expired))
        if restored is not None and self._clock > restored.expiry(self.timeouts)[1]:
            return self._expire(key, restored, done)
        return restored

    def _remember_idle(self, open_: _Open) -> None:
        """Keep what a later connection on its 4-tuple would continue (Continued)."""
        idle = self._idle
        if len(idle) >= IDLE_REMEMBERED:
            del idle[next(iter(idle))]
        idle[open_.key] = open_.continued()

    def _hand_over(
        self, key: tuple, open_: _Open, done: list[Connection], expired: Expiry | None = None
    ) -> None:
        del self._current[key]
        self._release(open_, done)
        done.append(self._open_connection(open_, expired))

    def _open_connection(self, open_: _Open, expired: Expiry | None) -> Connection:
        folder = open_.folder
        if folder is None:
            open_.unpack()
            connection = _connection(open_.first_index, open_.segments)
        else:
            connection = folder.connection(open_.first_index)
        connection.reuses_ports_of = open_.reuses
        self._mark_expired(connection, expired)
        connection.continues = open_.continues
        connection.after_idle = open_.after_idle
        if open_.tunnels is not None:
            connection.tunnels = open_.tunnels
            connection.untunnelled_too = open_.untunnelled
        if open_.copies is not None:
            connection.copies = open_.copies
            connection.copy_count = open_.copy_count
        open_.recent = None
        # A timer may still name it: it must not hold the segments until then.
        open_.segments = []
        open_.folder = None
        return connection

    def _hand_over_attempt(
        self, attempt: HeldAttempt, done: list[Connection], expired: Expiry | None
    ) -> None:
        self._attempts.remove(attempt)
        done.append(self._attempt_connection(attempt, expired))

    def _mark_expired(self, connection: Connection, expired: Expiry | None) -> None:
        connection.expired = expired
        if expired is not None:
            connection.expired_after = self.timeouts.of(expired)

    def _attempt_connection(self, attempt: HeldAttempt, expired: Expiry | None) -> Connection:
        connection = _connection(attempt.first_index, attempt.segments())
        self._mark_expired(connection, expired)
        attempt.release()
        return connection

    def finish(self, end_time: float | None = None) -> list[Connection]:
        """The connections still open. `end_time`: when the capture ended (its last frame,
        of any kind), for the expiry marks; the last segment's time if not given."""
        return list(self.finish_each(end_time))

    def finish_each(self, end_time: float | None = None) -> Iterator[Connection]:
        """`finish`, one connection at a time: a flood's attempts still held at the end are
        made connections one by one, not all at once."""
        end = self._clock if end_time is None else max(end_time, self._clock)
        # The capture's end on its stamps, for what the findings measure to it: after a clock's
        # step back (decode.reader.STAMPED_BACK), not the timers' end but the latest stamp read.
        frames = self._frames
        offset = frames.timer_offset if frames is not None else self._offset
        capture_end = end
        if offset:
            capture_end = end - offset
            if frames is not None and frames.end_time is not None:
                capture_end = max(capture_end, frames.end_time)
        while self._given_up:  # as the look that gave them up made them: no capture_end
            item, expired = self._given_up.popleft()
            yield self._connection_of(item, expired)
        done: list[Connection] = []
        held: list[_Open | HeldAttempt] = [*self._current.values(), *self._attempts.all()]
        held.sort(key=_first_index)  # in the order of their ids, as if none had been packed
        for item in held:
            if isinstance(item, HeldAttempt):
                if item.over:  # as an over connection: no mark (see below)
                    self._hand_over_attempt(item, done, None)
                else:
                    # A timer that had fired by the end marks it given up, as a look before
                    # the end would have, and a look gives no capture_end (helper-121).
                    given_up = end > self._gives_up(item)
                    self._hand_over_attempt(item, done, "attempt" if given_up else None)
                    if not given_up:
                        done[-1].capture_end = capture_end
            else:
                key, open_ = item.key, item
                self._release(open_, done, end=end, capture_end=capture_end)
                kind, when = open_.expiry(self.timeouts)
                given_up = not open_.over and end > when
                self._hand_over(key, open_, done, kind if given_up else None)
                if not open_.over and not given_up:
                    # Over ones may have been let go by the sweep already, or not: no mark for them.
                    done[-1].capture_end = capture_end
            yield from done
            done.clear()
        self._ended.clear()
        self._timers.clear()
        self._seconds.clear()
        self._idle.clear()


def _first_index(held: _Open | HeldAttempt) -> int:
    return held.first_index


def stream_connections(
    segments: Iterable[Segment],
    timeouts: Timeouts | None = None,
    end_time: Callable[[], float | None] | None = None,
    fold: Fold | None = None,
    long_connection: int = LONG_CONNECTION,
    frames: DecodeStats | None = None,
) -> Iterator[Connection]:
    """Connections as they become final (not in id order). `end_time`, asked once the
    segments are exhausted: when the capture ended (see ConnectionTracker.finish); `fold`,
    `long_connection` and `frames`: see ConnectionTracker."""
    tracker = ConnectionTracker(timeouts, fold, long_connection, frames)
    done: list[Connection] = []
    for segment in segments:
        tracker.take(segment, done)
        if done:
            yield from done
            done.clear()
    yield from tracker.finish_each(end_time() if end_time is not None else None)


def group_connections(segments: Iterable[Segment], timeouts: Timeouts | None = None) -> list[Connection]:
    """All connections in `segments`, in id order (the order of their first segment)."""
    return sorted(stream_connections(segments, timeouts), key=lambda c: c.id)


def _connection(number: int, segments: list[Segment]) -> Connection:
    client, server, basis = assign_roles(segments)
    return Connection(number, segments[0].family, client, server, segments, basis)


def assign_roles(segments: list[Segment]) -> tuple[Endpoint, Endpoint, str]:
    """(client, server, basis): the first SYN's sender; else the first SYN/ACK's receiver;
    else the side that sent to the well-known (or else the lower) port. A SYN with FIN or
    RST is neither (decode.segment.impossible_flags)."""
    for segment in segments:
        if segment.flags & (SYN | ACK | RST | FIN) == SYN:
            return (segment.src, segment.sport), (segment.dst, segment.dport), "first_syn_sender"
    for segment in segments:
        if segment.flags & (SYN | ACK | RST | FIN) == SYN | ACK:
            return (
                (segment.dst, segment.dport),
                (segment.src, segment.sport),
                "first_synack_receiver",
            )
    first = segments[0]
    a, b = (first.src, first.sport), (first.dst, first.dport)
    if first.flags & (SYN | ACK | RST | FIN) == RST | ACK and first.seq == 0:
        # A closed port's answer to a SYN, the SYN not captured (one direction, a flood's
        # backscatter): its receiver sent the SYN (helper-147: the refused connect was the
        # refusing end's, the port it dialled the client's).
        return b, a, "refusal_receiver"
    well_known = (a[1] < WELL_KNOWN_PORT_LIMIT, b[1] < WELL_KNOWN_PORT_LIMIT)
    if well_known[0] != well_known[1]:
        return (b, a, "port_heuristic") if well_known[0] else (a, b, "port_heuristic")
    if not first.flags & RST and _answered_by_resets_only(segments, b):
        # Neither port a service's: the end that only reset what came has no connection,
        # and the other sent to it first (an ACK flood's or an ACK scan's probe to a random
        # port, which the lower port's rule gave to the target half the time).
        return a, b, "first_sender_reset"
    if _lone_probes(segments, a):
        # Neither port a service's, and nothing came back: a flood's probe (hping3 -R or -A
        # --rand-source counts its source ports up from a random one: those below the
        # target's made it the client, 10% of helper-141's RST flood left out of the flood).
        return a, b, "first_sender_alone"
    if _service_rank(b[1]) < _service_rank(a[1]):
        return a, b, "port_heuristic"
    if _service_rank(a[1]) < _service_rank(b[1]):
        return b, a, "port_heuristic"
    return a, b, "first_sender"


def _lone_probes(segments: list[Segment], end: Endpoint) -> bool:
    """Whether `segments` are at most LONE_PROBES bare segments (no data, no SYN; a FIN only
    without ACK, a FIN scan's: a FIN/ACK is a connection's close), all `end`'s."""
    return len(segments) <= LONE_PROBES and all(
        (s.src, s.sport) == end
        and not s.payload_len
        and not s.flags & SYN
        and s.flags & (FIN | ACK) != FIN | ACK
        for s in segments
    )


def _answered_by_resets_only(segments: list[Segment], end: Endpoint) -> bool:
    """Whether `end` sent segments, every one a RST."""
    sent = [s for s in segments if (s.src, s.sport) == end]
    return bool(sent) and all(s.flags & RST for s in sent)


def _service_rank(port: int) -> tuple[int, int]:
    return (0 if port < WELL_KNOWN_PORT_LIMIT else 1, port)
