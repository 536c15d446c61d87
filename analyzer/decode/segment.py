"""The normalized record every later layer works on: one TCP segment."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

from analyzer.timefmt import stamp_of

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10
URG: Final = 0x20
ECE: Final = 0x40
CWR: Final = 0x80
# Accurate ECN's third flag (RFC 9768 3.2.2: AE), once ECN-nonce's NS (RFC 3540): the lowest bit of
# the byte that holds the data offset, read with the flags as their ninth.
AE: Final = 0x100

RST_DATA_KEPT: Final = 256  # bytes of a RST's data kept (Segment.payload)
MOD: Final = 1 << 32  # sequence numbers wrap here
# A sequence or acknowledgment number, or a window, not seen yet: none is negative. A plain
# int rather than None, as these are set on nearly every segment (docs/mypyc.md).
UNSEEN: Final = -1


def seq_diff(a: int, b: int) -> int:
    """a - b in sequence space (RFC 1982 serial arithmetic): negative when a is before b."""
    d = (a - b) % MOD
    return d - MOD if d >= MOD // 2 else d


_FLAG_NAMES = (
    (SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"), (AE, "AE"),
)  # fmt: skip


def impossible_flags(flags: int) -> str:
    """What makes a flag combination one no TCP sends ("" for a possible one): SYN with FIN
    or RST, RST with FIN (each opens, closes or aborts, and none of them with another), or
    none of SYN, ACK, RST and FIN (every segment but the first SYN and a RST answering a
    segment without ACK carries ACK: RFC 9293 3.10.7.4). Scans send them (nmap's NULL and
    SYN/FIN/PSH/URG probes), and crafted packets. A FIN without ACK is not among them: a
    real stack closing in SYN_SENT was seen to send one (Zeek's fin_retransmission.pcap)."""
    if not flags & (SYN | ACK | RST | FIN):
        return "no flags" if not flags else "none of SYN, ACK, RST and FIN"
    if flags & SYN and flags & (FIN | RST):
        others = " and ".join(name for bit, name in ((FIN, "FIN"), (RST, "RST")) if flags & bit)
        return "SYN with " + others
    if flags & RST and flags & FIN:
        return "RST with FIN"
    return ""


def scan_probe(flags: int) -> str:
    """The scan whose probe a connection's first segment is, by its flags, when they are
    none a connection begins with: nmap's NULL (no flags), Xmas (FIN, PSH and URG) and FIN
    (FIN without ACK) probes; "" for other flags. A FIN without ACK counts only from an end
    that had sent nothing: a stack closing in SYN_SENT sent one too (Zeek's
    fin_retransmission.pcap)."""
    if not flags:
        return "a NULL scan's probe (no flags)"
    if flags & (SYN | ACK | RST | FIN) != FIN:
        return ""
    if flags & (PSH | URG) == PSH | URG:
        return "an Xmas scan's probe (FIN, PSH and URG)"
    return "a FIN scan's probe (FIN without ACK)"


@dataclass(eq=True)
class TcpOptions:
    """The handshake options that matter for a connection's life cycle."""

    mss: int | None = None
    window_scale: int | None = None
    sack_permitted: bool = False
    timestamps: bool = False
    fast_open: bool = False
    # The bytes of the cookie in the Fast Open option: 0 where it is empty, a client's
    # request for one (not in as_dict: the handshake's fast_open reads it).
    fast_open_cookie: int = 0
    # The capture's snapshot length cut the option list: what is not found may still have
    # been sent (None in as_dict, not false).
    cut: bool = False
    # A RST's Multipath TCP options (RFC 8684 3.6, 3.5), read on RSTs only: MP_TCPRST's
    # reason code (-1: none), and whether MP_FASTCLOSE closed the whole MPTCP connection.
    # Not in as_dict, which is a SYN's.
    mptcp_reset: int = -1
    mptcp_fastclose: bool = False
    # A SYN's Multipath TCP option (RFC 8684 3.1, 3.2): MP_CAPABLE's version (-1: none) and
    # the sender's key where it carries one (a SYN/ACK's; version 0's SYN too; -1: none), or
    # MP_JOIN's token of the receiver's MPTCP connection (-1: none).
    mptcp_version: int = -1
    mptcp_key: int = -1
    mptcp_join_token: int = -1

    def __init__(
        self,
        mss: int | None = None,
        window_scale: int | None = None,
        sack_permitted: bool = False,
        timestamps: bool = False,
        fast_open: bool = False,
        cut: bool = False,
        fast_open_cookie: int = 0,
        mptcp_reset: int = -1,
        mptcp_fastclose: bool = False,
        mptcp_version: int = -1,
        mptcp_key: int = -1,
        mptcp_join_token: int = -1,
    ) -> None:
        self.mss = mss
        self.window_scale = window_scale
        self.sack_permitted = sack_permitted
        self.timestamps = timestamps
        self.fast_open = fast_open
        self.cut = cut
        self.fast_open_cookie = fast_open_cookie
        self.mptcp_reset = mptcp_reset
        self.mptcp_fastclose = mptcp_fastclose
        self.mptcp_version = mptcp_version
        self.mptcp_key = mptcp_key
        self.mptcp_join_token = mptcp_join_token

    def with_mss(self, mss: int | None) -> TcpOptions:
        """The same options with another MSS: as a router that clamps it sends a SYN on."""
        return replace(self, mss=mss)

    @property
    def mptcp(self) -> bool:
        """Whether a RST carries an MPTCP reason (see mptcp_reset)."""
        return self.mptcp_reset >= 0 or self.mptcp_fastclose

    def as_dict(self) -> dict:
        unknown = None if self.cut else False  # an option not found in a cut list: not known
        return {
            "mss": self.mss,
            "window_scale": self.window_scale,
            "sack_permitted": self.sack_permitted or unknown,
            "timestamps": self.timestamps or unknown,
            "fast_open": self.fast_open or unknown,
            "cut": self.cut,
            "mptcp": self.multipath(),
        }

    def multipath(self) -> dict | None:
        """The SYN's Multipath TCP option as the JSON holds it: MP_CAPABLE with its version,
        and its sender's key and the token that names the MPTCP connection to its peer's
        MP_JOINs (RFC 8684 2.2: SHA-256's first 32 bits of the key, SHA-1's in version 0); or
        MP_JOIN with the token of the connection it joins. None without."""
        if self.mptcp_join_token >= 0:
            return {"option": "MP_JOIN", "token": f"0x{self.mptcp_join_token:08x}"}
        if self.mptcp_version < 0:
            return None
        key = self.mptcp_key
        return {
            "option": "MP_CAPABLE",
            "version": self.mptcp_version,
            "key": f"0x{key:016x}" if key >= 0 else None,
            "token": f"0x{mptcp_token(key, self.mptcp_version):08x}" if key >= 0 else None,
        }


# The options of SYNs without values of their own (an MPTCP key or token), by their fields: one object for each, up to the limit (a flood's or one host's
# SYNs carry the same few, and each held attempt would otherwise hold its own).
_SHARED_OPTIONS: Final[
    dict[tuple[int | None, int | None, bool, bool, bool, bool, int, int, bool], TcpOptions]
] = {}
_SHARED_OPTIONS_LIMIT: Final = 4096


def shared_options(
    mss: int | None,
    window_scale: int | None,
    sack_permitted: bool,
    timestamps: bool,
    fast_open: bool,
    cut: bool,
    fast_open_cookie: int,
    mptcp_reset: int,
    mptcp_fastclose: bool,
) -> TcpOptions:
    """The options of these fields (no MPTCP key or token), shared."""
    key = (
        mss,
        window_scale,
        sack_permitted,
        timestamps,
        fast_open,
        cut,
        fast_open_cookie,
        mptcp_reset,
        mptcp_fastclose,
    )
    options = _SHARED_OPTIONS.get(key)
    if options is None:
        options = TcpOptions(*key)
        if len(_SHARED_OPTIONS) < _SHARED_OPTIONS_LIMIT:
            _SHARED_OPTIONS[key] = options
    return options


def frame_of(segment: Segment) -> int:
    """A segment's frame number: the key a connection's segments, in file order, are searched
    by (bisect)."""
    return segment.frame


def mptcp_token(key: int, version: int) -> int:
    """The token of an MPTCP connection whose end's key is `key`, as its peer's MP_JOINs name
    it: the most significant 32 bits of the key's SHA-256 (SHA-1 in version 0), RFC 8684 2.2."""
    digest = (hashlib.sha1 if version == 0 else hashlib.sha256)(key.to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(eq=True)
class Segment:
    """One TCP segment as seen on the wire. `frame` is the 1-based frame number.

    A class with its own __init__, not a NamedTuple, like every record the per-packet path
    makes (docs/mypyc.md)."""

    frame: int
    time: float  # epoch seconds
    family: int  # 4 or 6
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int
    ack: int
    window: int
    payload_len: int
    options: (
        TcpOptions | None
    )  # parsed for SYN segments only (and a RST's MPTCP reason); ts_val, ts_ecr and the SACK block are read for every segment
    tunnel: str  # the tunnels it was captured in, outermost first ("GRE > VXLAN"); "" for none
    # What tells a copy of this very packet (seen twice by the capture) from a resend of it:
    # IPv4's identification (UNSEEN for IPv6) and the TCP checksum (UNSEEN if not read).
    ip_id: int
    checksum: int
    ttl: int  # IPv4's TTL or IPv6's hop limit; UNSEEN if not read
    # The data of a RST that carries some (a diagnostic text, RFC 9293 3.5.3), up to
    # RST_DATA_KEPT bytes; empty for every other segment: only those are ever shown.
    payload: bytes
    # Some of the payload is not in the capture (a snapshot length shorter than the frame):
    # Zeek does not reassemble such data, so an ACK of it is a content gap (findings/zeek_conn).
    # On a segment without data: its options are cut, so a SACK block or timestamps not
    # found may have been sent (findings/diagnoses reads no D-SACK into it).
    payload_cut: bool
    # The first SACK block (RFC 2018) of a segment that has one, as absolute sequence numbers
    # of the other direction; UNSEEN for none. The first block is the one the receiver's
    # latest arrival made, and a duplicate SACK's (RFC 2883 4): what a tail loss probe's
    # outcome is read from (findings/diagnoses.py).
    sack_start: int
    sack_end: int
    # The interface it was captured on, where the file tells one (capture_interface); UNSEEN
    # where it does not: a copy seen on another interface than its sender's packets came in
    # on is the same packet (connections.py's rule on forwarded copies).
    interface: int
    # `time` exactly: integer nanoseconds since 1970, as the capture file gave them (a float of
    # epoch seconds is good to about 240 ns). Times shown to the microsecond, and two packets'
    # "same instant", are read from stamps (timefmt.Clock).
    stamp: int
    # The timestamps option's TSval and TSecr (RFC 7323), UNSEEN where it has none or the
    # capture cut it. An end's TSecr is the TSval of the latest segment it took in at or below
    # what it had acknowledged (RFC 7323 4.3): what tells which of a SYN's copies a SYN/ACK
    # answers (loss_inference.py), and that an ACK captured on its way never arrived (the
    # peer goes on echoing an older one: loss_inference.unechoed_acks).
    ts_val: int
    ts_ecr: int

    def __init__(
        self,
        frame: int,
        time: float,
        family: int,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        flags: int,
        seq: int,
        ack: int,
        window: int,
        payload_len: int,
        options: TcpOptions | None,
        tunnel: str = "",
        ip_id: int = UNSEEN,
        checksum: int = UNSEEN,
        ttl: int = UNSEEN,
        payload: bytes = b"",
        payload_cut: bool = False,
        sack_start: int = UNSEEN,
        sack_end: int = UNSEEN,
        stamp: int = UNSEEN,
        interface: int = UNSEEN,
        ts_val: int = UNSEEN,
        ts_ecr: int = UNSEEN,
    ) -> None:
        self.frame = frame
        self.time = time
        self.family = family
        self.src = src
        self.sport = sport
        self.dst = dst
        self.dport = dport
        self.flags = flags
        self.seq = seq
        self.ack = ack
        self.window = window
        self.payload_len = payload_len
        self.options = options
        self.tunnel = tunnel
        self.ip_id = ip_id
        self.checksum = checksum
        self.ttl = ttl
        self.payload = payload
        self.payload_cut = payload_cut
        self.sack_start = sack_start
        self.sack_end = sack_end
        self.stamp = stamp if stamp != UNSEEN else stamp_of(time)
        self.interface = interface
        self.ts_val = ts_val
        self.ts_ecr = ts_ecr

    @property
    def seq_space(self) -> int:
        """Sequence numbers this segment occupies: payload plus one each for SYN and FIN."""
        return self.payload_len + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)

    @property
    def seq_end(self) -> int:
        """The sequence number just past this segment: what acknowledges all of it."""
        return (self.seq + self.seq_space) % MOD

    @property
    def data_end(self) -> int:
        """The sequence number just past this segment's data, its FIN not counted: where a FIN
        after that data stands, and what a receiver's ACK of the data alone carries."""
        return (self.seq + self.payload_len) % MOD


# The farthest a capture's missing packets are taken to reach (after_a_gap): a sequence or
# acknowledgment number further ahead than this is a number out of place, not a gap.
GAP_LIMIT: Final = 1 << 30


# Linux's cooked capture v1 names no interface, only the packet's type (incoming to this
# host, to another, outgoing): told from any interface index by this bit.
PACKET_TYPE_MARK: Final = 1 << 31


def capture_interface(file_interface: int, many: bool, ifindex: int, packet_type: int) -> int:
    """The interface a frame was captured on, as one number (Segment.interface): a pcapng's
    interface (`file_interface`, where the file has `many`), with the index Linux's cooked
    capture v2 gives (`tcpdump -i any`), or v1's packet type; UNSEEN where nothing tells."""
    if ifindex >= 0:
        return (file_interface << 32 if many else 0) | ifindex
    if packet_type >= 0:
        return (file_interface << 32 if many else 0) | PACKET_TYPE_MARK | packet_type
    return file_interface if many else UNSEEN


def after_a_gap(segment: Segment, sent: int, peer_sent: int) -> bool:
    """Whether `segment` shows packets the capture lost: with ACK and without SYN, it starts
    past `sent` (all its sender was seen to send: Wireshark's "previous segment not
    captured") and acknowledges past `peer_sent` (all the peer was seen to send: "ACKed
    unseen segment"), each by less than GAP_LIMIT. An ACK of data never sent has no such
    gap of its own sender's (findings/handshake.py and tcp_state.py read the same rule)."""
    return (
        segment.flags & (SYN | ACK) == ACK
        and sent != UNSEEN
        and peer_sent != UNSEEN
        and 0 < seq_diff(segment.seq, sent) < GAP_LIMIT
        and 0 < seq_diff(segment.ack, peer_sent) < GAP_LIMIT
    )


def echoes_older(later: Segment, answer: Segment) -> bool:
    """Whether `later`, sent by `answer`'s receiver after `answer` would have reached it (the
    caller's to know), echoes in its TSecr a TSval older than `answer`'s: it had not taken
    `answer` in (RFC 7323 4.3: an end echoes the TSval of the latest segment it took in at or
    before what it had acknowledged, and its peer's TSvals never go back). Only for an
    `answer` that would have moved the echo: a pure ACK (no data, SYN, FIN or RST) at
    `later`'s acknowledgment number, with timestamps on both; a TSval of 0 tells nothing."""
    return (
        answer.ts_val > 0
        and later.ts_val != UNSEEN
        and bool(later.flags & ACK)
        and answer.flags & (SYN | FIN | RST | ACK) == ACK
        and not answer.payload_len
        and answer.seq == later.ack
        and seq_diff(answer.ts_val, later.ts_ecr) > 0
    )


def duplicate_sack(segment: Segment) -> bool:
    """Whether `segment`'s first SACK block is a duplicate SACK (RFC 2883): at or below its
    cumulative acknowledgment, naming data its sender got twice."""
    return segment.sack_start != UNSEEN and seq_diff(segment.sack_end, segment.ack) <= 0


def duplicate_sack_of(answer: Segment, segment: Segment) -> bool:
    """Whether `answer` names some of `segment`'s numbers in a duplicate SACK: its peer got
    them twice, so a copy of them had arrived before."""
    return duplicate_sack(answer) and seq_diff(answer.sack_start, segment.seq_end) < 0 < seq_diff(
        answer.sack_end, segment.seq
    )


# A kernel answers a segment it has no socket for as the segment arrives: in a capture the RST
# follows it by at most a round trip from the capture point, which no path stretches this far
# (a satellite's 600 ms, a cellular link's bufferbloat of a second or two). A RST of that form
# seconds after the peer's last segment answers nothing: a BSD or macOS stack aborting an idle
# connection sends RST without ACK at its next sequence number, which is the peer's last ACK.
NO_SOCKET_ANSWER_WITHIN: Final = 3.0  # seconds


def same_packet(later: Segment, earlier: Segment) -> bool:
    """Whether `later` is `earlier` captured again, however much later: the same sender,
    flags and numbers, and the same IPv4 identification and TCP timestamp where one of them
    tells packets apart (a stack's resend carries a new identification or a later TSval).
    Two captures of one traffic merged onto one interface (mergecap merges the files'
    interfaces where their descriptions match) hold each packet twice, the clocks' offset
    apart (helper-145)."""
    return (
        later.seq == earlier.seq
        and later.flags == earlier.flags
        and later.sport == earlier.sport
        and later.src == earlier.src
        and later.ip_id == earlier.ip_id
        and later.ts_val == earlier.ts_val
        and (later.ip_id > 0 or later.ts_val >= 0)
    )


def packet_marks(segment: Segment) -> str:
    """What same_packet read to tell `segment` from a resend: "IPv4 identification and
    timestamp", or one of them."""
    marks = [
        name
        for name, present in (("IPv4 identification", segment.ip_id > 0), ("timestamp", segment.ts_val >= 0))
        if present
    ]
    return " and ".join(marks)


# What the file holding the traffic twice says to do about it.
MERGED_TWICE: Final = (
    "two captures merged onto one interface? mergecap merges the files' interfaces where their descriptions "
    "match; mergecap -I none keeps them apart, and the analysis then reads two capture points"
)


def measures_ttl(segment: Segment) -> bool:
    """Whether the segment's TTL (hop limit) measures its sender: not a RST (a firewall's or an
    injector's may claim the end's name), not a bare SYN (a SYN scanner crafts its own TTL,
    nmap's random 37 to 59, where its kernel's RST to the SYN/ACK carries the system's)."""
    return segment.ttl >= 0 and not segment.flags & RST and segment.flags & (SYN | ACK) != SYN


def sender_marks(segments: list[Segment], sender: Segment) -> tuple[int, tuple[int, ...]]:
    """Of `sender`'s end among `segments`: its highest measuring TTL (measures_ttl; -1: none)
    and the interfaces its segments other than RSTs came in on (where the file names them)."""
    highest = -1
    interfaces = set()
    for s in segments:
        if s.src != sender.src or s.sport != sender.sport:
            continue
        if measures_ttl(s) and s.ttl > highest:
            highest = s.ttl
        if not s.flags & RST and s.interface != UNSEEN:
            interfaces.add(s.interface)
    return highest, tuple(interfaces)


def nearer_by(rst: Segment, highest: int, interfaces: tuple[int, ...]) -> str:
    """What shows `rst` was made nearer the capture point than its sender, whose highest
    measuring TTL is `highest` (-1 or UNSEEN: none) and whose segments came in on `interfaces`
    (UNSEEN among them ignored): "ttl", its TTL above that (a TTL only falls on its way);
    "interface", captured on an interface none of the sender's came in on (helper-143's
    router, -i any: its reject left on the client's side only); "" if nothing does. tcp_state's
    "RSTs made nearer", read as the segments come there, and from a list (sender_marks)."""
    if rst.ttl > highest >= 0:
        return "ttl"
    if rst.interface != UNSEEN and any(i != UNSEEN for i in interfaces) and rst.interface not in interfaces:
        return "interface"
    return ""


def nearer_than(rst: Segment, marks: tuple[int, tuple[int, ...]]) -> bool:
    """Whether nearer_by says `rst` was made nearer than the end of `marks` (sender_marks)."""
    return bool(nearer_by(rst, *marks))


def made_nearer(rst: Segment, before: list[Segment]) -> bool:
    """nearer_than the end of `rst`'s sender as its segments in `before` show it."""
    return nearer_than(rst, sender_marks(before, rst))


def answers_for_no_socket(rst: Segment, answered: Segment) -> bool:
    """Whether `rst` is how a kernel answers `answered` (with ACK, no RST) for no socket: a
    RST without ACK at its acknowledgment number (RFC 9293 3.10.7.1; Linux's
    tcp_v4_send_reset), as a listener answers an ACK it has no connection for, within
    NO_SOCKET_ANSWER_WITHIN of it."""
    return (
        rst.flags & (RST | ACK) == RST
        and answered.flags & (ACK | RST) == ACK
        and rst.seq == answered.ack
        and rst.time - answered.time <= NO_SOCKET_ANSWER_WITHIN
    )


def exact_stamp(record: Datagram | Unreachable) -> int:
    """A datagram's or ICMP message's stamp; of its float time where none was read."""
    return record.stamp if record.stamp != UNSEEN else stamp_of(record.time)


def flag_names(flags: int) -> str:
    """'SYN/ACK', 'FIN/ACK', 'RST', 'PSH/ACK' ... in the order people write them."""
    names = [name for bit, name in _FLAG_NAMES if flags & bit]
    return "/".join(names) if names else "none"


class Datagram(NamedTuple):
    """One UDP datagram. `length` is its payload length."""

    frame: int
    time: float
    family: int
    src: str
    sport: int
    dst: str
    dport: int
    length: int
    stamp: int = UNSEEN  # `time` exactly (Segment.stamp); UNSEEN: not read from a file (exact_stamp)


# What an ICMP error (Unreachable.kind) says, the same for ICMP and ICMPv6.
DEST_UNREACHABLE: Final = 0  # or a path MTU error (Unreachable.too_big)
TIME_EXCEEDED: Final = 1  # a router's: the packet's TTL (hop limit) ran out on the way
PARAMETER_PROBLEM: Final = 2  # a header field the router or host could not take


class Unreachable(NamedTuple):
    """An ICMP/ICMPv6 destination-unreachable (or ICMPv6 Packet Too Big) message and the
    datagram header it quotes; or, quoting TCP, a time exceeded or parameter problem
    (`kind`), which end a connect() as an unreachable does."""

    frame: int
    time: float
    family: int
    src: str  # who says it: the host that could not deliver
    dst: str
    code: int  # 3 (ICMP) or 4 (ICMPv6): port unreachable
    protocol: int  # of the quoted packet: 17 for UDP, 6 for TCP
    quoted: tuple[str, int, str, int]  # (src, sport, dst, dport) of the packet it answers
    quoted_seq: int = -1  # the quoted TCP header's sequence number (-1: UDP, or not quoted)
    # The MTU a path MTU error names (ICMP fragmentation needed, ICMPv6 Packet Too Big, whose
    # code is 0), 0 when the router did not say; -1: another error.
    path_mtu: int = -1
    stamp: int = UNSEEN  # `time` exactly (Segment.stamp); UNSEEN: not read from a file (exact_stamp)
    kind: int = DEST_UNREACHABLE  # or TIME_EXCEEDED, PARAMETER_PROBLEM: `code` is theirs
    # The ICMP message's own checksum: the same in two captures of one message, all but never
    # in two messages quoting different packets (findings/unreachable.py: capture copies).
    checksum: int = UNSEEN

    @property
    def port_unreachable(self) -> bool:
        return (
            self.kind == DEST_UNREACHABLE
            and self.path_mtu < 0
            and self.code == (3 if self.family == 4 else 4)
        )

    @property
    def too_big(self) -> bool:
        """Path MTU discovery's error: the quoted packet was too big for the next hop."""
        return self.path_mtu >= 0
