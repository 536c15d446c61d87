"""IPv4/IPv6 and TCP headers: the dozen fields the analyzer needs, read straight from the bytes.

Payload length comes from the IP length fields, not from the captured bytes, so a
capture with a short snaplen still counts every byte that was sent; Ethernet
padding is never mistaken for payload.
"""

from __future__ import annotations

from typing import Final

from analyzer.decode.addresses import address_pair, address_sum
from analyzer.decode.fields import u16, u32
from analyzer.decode.fragments import Fragment
from analyzer.decode.headers import (
    IPV4_FRAGMENT,
    IPV4_FRAGMENT_OFFSET_MASK,
    IPV4_IDENTIFICATION,
    IPV4_MIN_HEADER,
    IPV4_MORE_FRAGMENTS,
    IPV4_PROTOCOL,
    IPV4_SOURCE,
    IPV4_TOTAL_LENGTH,
    IPV4_TTL,
    IPV6_ADDRESS,
    IPV6_AUTHENTICATION_HEADER,
    IPV6_FRAGMENT_HEADER,
    IPV6_FRAGMENT_HEADER_LENGTH,
    IPV6_FRAGMENT_OFFSET_MASK,
    IPV6_HEADER,
    IPV6_HOP_LIMIT,
    IPV6_MORE_FRAGMENTS,
    IPV6_NEXT_HEADER,
    IPV6_PAYLOAD_LENGTH,
    IPV6_SOURCE,
    MPTCP_CAPABLE,
    MPTCP_FASTCLOSE,
    MPTCP_JOIN,
    MPTCP_TCPRST,
    OPTION_END,
    OPTION_EXPERIMENTAL,
    OPTION_FAST_OPEN,
    OPTION_MPTCP,
    OPTION_MSS,
    OPTION_NOP,
    OPTION_SACK,
    OPTION_SACK_PERMITTED,
    OPTION_TIMESTAMPS,
    OPTION_WINDOW_SCALE,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACKNOWLEDGMENT,
    TCP_CHECKSUM,
    TCP_DATA_OFFSET,
    TCP_DESTINATION_PORT,
    TCP_FLAGS,
    TCP_MIN_HEADER,
    TCP_SEQUENCE,
    TCP_SOURCE_PORT,
    TCP_WINDOW,
    UDP_HEADER,
)
from analyzer.decode.segment import (
    RST,
    RST_DATA_KEPT,
    SYN,
    UNSEEN,
    Datagram,
    Segment,
    TcpOptions,
    Unreachable,
    shared_options,
)
from analyzer.decode.tunnels import UDP_TUNNEL_PORTS, carries_data, gre, teredo_on_any_port, udp_tunnel
from analyzer.decode.udp_icmp import parse_udp, parse_unreachable
from analyzer.decode.undecodable import Undecodable
from analyzer.parallel.partition import Share
from analyzer.timefmt import epoch_seconds

# What the analyzer reads: TCP, and UDP with the ICMP errors that refuse it.
_CARRIED: Final = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6}
# IP protocols that carry another IP packet: IPv4 and IPv6 in IP, GRE.
PROTO_IPV4_IN_IP: Final = 4
PROTO_IPV6_IN_IP: Final = 41
PROTO_GRE: Final = 47
PROTO_ESP: Final = 50
PROTO_AH: Final = 51
_TUNNELS: Final = {PROTO_IPV4_IN_IP, PROTO_IPV6_IN_IP, PROTO_GRE}
# Tunnels inside tunnels are followed this deep: a crafted packet must not recurse for ever.
MAX_TUNNELS: Final = 8
# IPv6 extension headers that can stand between the fixed header and TCP: hop-by-hop,
# routing, destination options, mobility, HIP, shim6 (and fragment and authentication).
IPV6_ROUTING_HEADER: Final = 43
_IPV6_EXTENSIONS: Final = {0, IPV6_ROUTING_HEADER, 60, 135, 139, 140}
# Linux's options on every segment but the SYN: NOP, NOP, timestamps: no SACK block among them.
_TIMESTAMPS_ONLY_HEADER: Final = TCP_MIN_HEADER + 12
# Fast Open's experiment id, in an experimental option (kind 254) before it had its kind.
_FAST_OPEN_EXPERIMENT: Final = b"\xf9\x89"


# GRE's own header, the least of it.
GRE_HEADER_LEAST: Final = 4
# A tunnel's headers and the inner packet's (the longest: GRE with a key and sequence
# number, ERSPAN III with its platform header, Ethernet with a VLAN tag, then 20 bytes of
# IP): a frame cut within them hides whether it held TCP.
TUNNEL_HEADERS_LEAST: Final = 80


class Malformed(Exception):
    """An IP or TCP header whose lengths cannot be right."""


class HeaderCut(Malformed):
    """A frame that ends before its IP or TCP header does: the capture's snapshot length
    (tcpdump -s) kept less of it. `tunnelled`: inside a tunnel's headers or its packet."""

    def __init__(self, what: str, tunnelled: bool) -> None:
        super().__init__(what)
        self.tunnelled = tunnelled


class BeyondFrame(Malformed):
    """A whole frame (no snapshot length cut it) whose IP length claims more than it holds:
    `segment` is read with the payload the frame holds, as Wireshark reads it; `claimed`
    the payload the IP header claims."""

    def __init__(self, segment: Segment | None, claimed: int) -> None:
        super().__init__(f"IP length claims {claimed} bytes of TCP payload, more than the frame holds")
        self.segment = segment  # None: another share's connection's (counted by every share)
        self.claimed = claimed


class Elsewhere:
    """A TCP segment of a connection another process analyzes (see Share)."""


ELSEWHERE: Final = Elsewhere()

Record = Segment | Datagram | Unreachable | Elsewhere | Fragment | None


def parse_ip_tcp(
    data: bytes,
    at: int,
    frame: int,
    stamp: int,
    share: Share | None = None,
    tunnel: str = "",
    whole: bool = False,
) -> Record:
    """The TCP segment, UDP datagram or ICMP unreachable in the IP packet at `data[at:]`,
    inside whatever tunnels it travels in (decode/tunnels.py); None for anything else. With a
    share, a well-formed TCP segment of another share's connection is ELSEWHERE, told before
    anything is made of it. `tunnel`: the names of the tunnels around this packet. `whole`:
    the frame is all there (no snapshot length cut it), so a length field that claims more
    than it holds is wrong, not cut: the TCP payload is what the frame holds (as Wireshark's
    "IPv4 total length exceeds packet length"), and the reader names it (BeyondFrame)."""
    if len(data) < at + 1:
        raise HeaderCut("frame too short for an IP header", bool(tunnel))
    version = data[at] >> 4
    if version == 4:
        return _ipv4(data, at, frame, stamp, share, tunnel, whole)
    if version == 6:
        return _ipv6(data, at, frame, stamp, share, tunnel, whole)
    raise Malformed(f"IP version {version}, neither 4 nor 6")


def _tunnel_cut(data: bytes, at: int, whole: bool) -> None:
    """Raises HeaderCut for a frame a snapshot length cut within TUNNEL_HEADERS_LEAST bytes
    of the tunnel header at `at` whose inner packet was not found: it was cut inside the
    headers (else the frames would be GRE or UDP of no connection, said of nothing)."""
    if not whole and len(data) < at + TUNNEL_HEADERS_LEAST:
        raise HeaderCut("a tunnel's headers cut short", True)


def _tunnelled(data: bytes, at: int, name: str, frame: int, stamp: int, share: Share | None,
               tunnel: str, whole: bool) -> Record:  # fmt: skip
    """The packet at `at` inside one more tunnel, `name`."""
    if tunnel.count(" > ") >= MAX_TUNNELS - 1:
        raise Undecodable(f"more than {MAX_TUNNELS} tunnels inside each other")
    return parse_ip_tcp(data, at, frame, stamp, share, f"{tunnel} > {name}" if tunnel else name, whole)


def _ip_in_ip(protocol: int, data: bytes, at: int, outer: int, frame: int, stamp: int,
              share: Share | None, tunnel: str, whole: bool) -> Record:  # fmt: skip
    """What IP protocol `protocol` (4, 41 or 47) carries at `at`, inside IPv`outer`."""
    if protocol == PROTO_GRE:
        inner = gre(data, at)
        if inner is None:
            if len(data) < at + GRE_HEADER_LEAST:
                raise HeaderCut("GRE header cut short", True)
            _tunnel_cut(data, at, whole)
            return None
        return _tunnelled(data, inner[0], inner[1], frame, stamp, share, tunnel, whole)
    name = f"IPv{4 if protocol == PROTO_IPV4_IN_IP else 6}-in-IPv{outer}"
    return _tunnelled(data, at, name, frame, stamp, share, tunnel, whole)


def _ipv4(
    data: bytes, at: int, frame: int, stamp: int, share: Share | None, tunnel: str, whole: bool
) -> Record:
    if len(data) < at + IPV4_MIN_HEADER:
        raise HeaderCut("IPv4 header cut short", bool(tunnel))
    proto = data[at + IPV4_PROTOCOL]
    if proto not in _CARRIED and proto not in _TUNNELS:
        if proto == PROTO_ESP:
            raise Undecodable("IPsec ESP (encrypted)")
        if proto != PROTO_AH:
            return None
    header_len = (data[at] & 0x0F) * 4
    if header_len < IPV4_MIN_HEADER:
        raise Malformed(f"IPv4 header length {header_len} is below 20")
    total_len = u16(data, at + IPV4_TOTAL_LENGTH)
    # A zero total length is what segmentation offload leaves in captures of the sender.
    ip_len = total_len if total_len else len(data) - at
    if ip_len < header_len:
        raise Malformed(f"IPv4 total length {total_len} is shorter than its header")
    fragmented = u16(data, at + IPV4_FRAGMENT)
    if fragmented & (IPV4_FRAGMENT_OFFSET_MASK | IPV4_MORE_FRAGMENTS):
        # A piece of a datagram: the reader puts it together first (decode/fragments.py).
        offset = (fragmented & IPV4_FRAGMENT_OFFSET_MASK) * 8
        key = (4, data[at + IPV4_SOURCE : at + IPV4_SOURCE + 8], u16(data, at + IPV4_IDENTIFICATION), proto)
        header = data[at : at + header_len] if not offset else b""
        return Fragment(key, offset, bool(fragmented & IPV4_MORE_FRAGMENTS), header,
                        data[at + header_len : at + ip_len], tunnel, ip_len - header_len)  # fmt: skip
    pos, remaining = at + header_len, ip_len - header_len
    if proto == PROTO_AH:  # its length in 4-byte units after the first 8
        if len(data) < pos + 2:
            raise HeaderCut("IPv4 authentication header cut short", bool(tunnel))
        proto, ah_len = data[pos], (data[pos + 1] + 2) * 4
        if len(data) < pos + ah_len:
            raise HeaderCut("IPv4 authentication header cut short", bool(tunnel))
        pos, remaining = pos + ah_len, remaining - ah_len
        if remaining < 0:
            raise Malformed("IPv4 authentication header runs past the total length")
    if proto in _TUNNELS:
        # The inner packet ends where the outer datagram does: bytes after it are a trailer.
        return _ip_in_ip(proto, data[: at + ip_len], pos, 4, frame, stamp, share, tunnel, whole)
    if proto not in _CARRIED:
        return None
    ip_id, ttl = u16(data, at + IPV4_IDENTIFICATION), data[at + IPV4_TTL]
    return _transport(
        proto, data, pos, remaining, frame, stamp, 4, at + IPV4_SOURCE, share, tunnel, ip_id, ttl, whole
    )


def _ipv6(
    data: bytes, at: int, frame: int, stamp: int, share: Share | None, tunnel: str, whole: bool
) -> Record:
    if len(data) < at + IPV6_HEADER:
        raise HeaderCut("IPv6 header cut short", bool(tunnel))
    payload_len, next_header = u16(data, at + IPV6_PAYLOAD_LENGTH), data[at + IPV6_NEXT_HEADER]
    remaining = payload_len if payload_len else len(data) - at - IPV6_HEADER
    pos = at + IPV6_HEADER
    while next_header not in _CARRIED:
        if next_header in _IPV6_EXTENSIONS or next_header == IPV6_AUTHENTICATION_HEADER:
            if len(data) < pos + 2:
                raise HeaderCut("IPv6 extension header cut short", bool(tunnel))
            following, units = data[pos], data[pos + 1]
            ext_len = (units + 2) * 4 if next_header == IPV6_AUTHENTICATION_HEADER else (units + 1) * 8
            if len(data) < pos + ext_len:
                raise HeaderCut("IPv6 extension header cut short", bool(tunnel))
            if next_header == IPV6_ROUTING_HEADER:
                data = _final_destination(data, at, pos, units)
        elif next_header == IPV6_FRAGMENT_HEADER:
            if len(data) < pos + IPV6_FRAGMENT_HEADER_LENGTH:
                raise HeaderCut("IPv6 fragment header cut short", bool(tunnel))
            following = data[pos]
            fragmented = u16(data, pos + 2)
            if fragmented & (IPV6_FRAGMENT_OFFSET_MASK | IPV6_MORE_FRAGMENTS):
                # A piece of a datagram (an atomic fragment, neither, is read as it is).
                offset = fragmented & IPV6_FRAGMENT_OFFSET_MASK
                key = (6, data[at + IPV6_SOURCE : at + IPV6_SOURCE + 32], u32(data, pos + 4))
                header = b""
                if not offset:  # the fixed header, its next header the fragment's
                    header = (
                        data[at : at + IPV6_NEXT_HEADER]
                        + bytes((following,))
                        + data[at + IPV6_NEXT_HEADER + 1 : at + IPV6_HEADER]
                    )
                start = pos + IPV6_FRAGMENT_HEADER_LENGTH
                length = remaining - IPV6_FRAGMENT_HEADER_LENGTH
                return Fragment(key, offset, bool(fragmented & IPV6_MORE_FRAGMENTS), header,
                                data[start : start + length], tunnel, length)  # fmt: skip
            ext_len = IPV6_FRAGMENT_HEADER_LENGTH
        elif next_header in _TUNNELS:
            return _ip_in_ip(next_header, data[: pos + remaining], pos, 6, frame, stamp, share, tunnel, whole)
        elif next_header == PROTO_ESP:
            raise Undecodable("IPsec ESP (encrypted)")
        else:
            return None
        next_header = following
        pos += ext_len
        remaining -= ext_len
        if remaining < 0:
            raise Malformed("IPv6 extension headers run past the payload length")
    hop_limit = data[at + IPV6_HOP_LIMIT]
    return _transport(
        next_header,
        data,
        pos,
        remaining,
        frame,
        stamp,
        6,
        at + IPV6_SOURCE,
        share,
        tunnel,
        UNSEEN,
        hop_limit,
        whole,
    )


def _final_destination(data: bytes, at: int, pos: int, units: int) -> bytes:
    """`data` with the IPv6 destination at `at` put where the routing header at `pos` leads
    at last, while it has segments left: the address the TCP checksum covers and the ends
    use (RFC 8200 8.1), where the packet's destination is only the next hop (type 0, type 2
    Mobile IPv6's home address, type 4 SRv6 whose first segment is the last). Other types,
    or no segments left: `data` as it is."""
    if len(data) < pos + 8 or not data[pos + 3]:
        return data
    kind = data[pos + 2]
    if kind in (0, 2) and units >= 2:
        final = pos + 8 + IPV6_ADDRESS * (units // 2 - 1)
    elif kind == 4 and units >= 2:
        final = pos + 8
    else:
        return data
    if len(data) < final + IPV6_ADDRESS:
        return data
    destination = at + IPV6_SOURCE + IPV6_ADDRESS
    return data[:destination] + data[final : final + IPV6_ADDRESS] + data[destination + IPV6_ADDRESS :]


def _transport(protocol: int, data: bytes, at: int, length: int, frame: int, stamp: int, family: int,
               addresses: int, share: Share | None, tunnel: str, ip_id: int, ttl: int, whole: bool) -> Record:  # fmt: skip
    """The transport header at `at`; the source address at `addresses`, the destination
    right after it (as in both IP headers)."""
    if protocol == PROTO_TCP:
        return _tcp(data, at, length, frame, stamp, family, addresses, share, tunnel, ip_id, ttl, whole)
    if protocol == PROTO_UDP and len(data) >= at + UDP_HEADER:
        sport, dport = u16(data, at), u16(data, at + 2)
        if sport in UDP_TUNNEL_PORTS or dport in UDP_TUNNEL_PORTS:
            inner = udp_tunnel(data, at + UDP_HEADER, length - UDP_HEADER, sport, dport)
            if inner is not None:
                return _tunnelled(data[: at + length], inner[0], inner[1], frame, stamp, share, tunnel, whole)
            if carries_data(data, at + UDP_HEADER, sport, dport):
                _tunnel_cut(data, at + UDP_HEADER, whole)
        else:
            inner = teredo_on_any_port(data, at + UDP_HEADER, length - UDP_HEADER)
            if inner is not None:
                return _tunnelled(data[: at + length], inner[0], inner[1], frame, stamp, share, tunnel, whole)
    src, dst = address_pair(data, addresses, family)
    if protocol == PROTO_UDP:
        return parse_udp(data, at, length, frame, stamp, family, src, dst)
    return parse_unreachable(data, at, frame, stamp, family, src, dst, whole)


def _tcp(data: bytes, at: int, tcp_len: int, frame: int, stamp: int, family: int, addresses: int,
         share: Share | None, tunnel: str, ip_id: int, ttl: int, whole: bool) -> Segment | Elsewhere:  # fmt: skip
    if len(data) < at + TCP_MIN_HEADER:
        raise HeaderCut("TCP header cut short", bool(tunnel))
    flags = data[at + TCP_FLAGS] | ((data[at + TCP_DATA_OFFSET] & 1) << 8)  # AE: segment.AE
    header_len = (data[at + TCP_DATA_OFFSET] >> 4) * 4
    if header_len < TCP_MIN_HEADER:
        raise Malformed(f"TCP data offset {header_len} is below 20")
    if tcp_len < header_len:
        raise Malformed(f"TCP header ({header_len} bytes) longer than the IP payload ({tcp_len})")
    sport, dport = u16(data, at + TCP_SOURCE_PORT), u16(data, at + TCP_DESTINATION_PORT)
    if whole and len(data) < at + header_len:
        raise Malformed("TCP options run past the end of a whole frame")
    if share is not None and not share.keeps(sport, dport, address_sum(data, addresses, family)):
        if whole and len(data) < at + tcp_len:
            raise BeyondFrame(None, tcp_len - header_len)  # every share names the file's frames
        return ELSEWHERE
    src, dst = address_pair(data, addresses, family)
    options = None
    captured = min(at + header_len, len(data))  # a snapshot length may cut the options
    if flags & SYN:
        options = parse_options(data[at + TCP_MIN_HEADER : captured], captured < at + header_len)
    elif flags & RST and header_len > TCP_MIN_HEADER:
        # Only an MPTCP reason is read on a RST; any other list leaves its options None.
        on_reset = parse_options(data[at + TCP_MIN_HEADER : captured], captured < at + header_len)
        if on_reset.mptcp:
            options = on_reset
    sack_start = sack_end = ts_val = ts_ecr = UNSEEN
    if header_len > TCP_MIN_HEADER:
        o = at + TCP_MIN_HEADER
        if (
            header_len == _TIMESTAMPS_ONLY_HEADER
            and captured == at + header_len
            and data[o] == OPTION_NOP
            and data[o + 1] == OPTION_NOP
            and data[o + 2] == OPTION_TIMESTAMPS
            and data[o + 3] == 10
        ):
            ts_val, ts_ecr = u32(data, o + 4), u32(data, o + 8)
        else:
            start, end, ts_val, ts_ecr = option_values(data, o, captured)
            if not flags & SYN:
                sack_start, sack_end = start, end
    payload = b""
    if flags & RST and tcp_len > header_len:
        payload = data[at + header_len : at + header_len + min(tcp_len - header_len, RST_DATA_KEPT)]
    claimed = payload_len = tcp_len - header_len
    # The payload, or a pure ACK's options (its SACK blocks, timestamps), cut by the snapshot
    # length (a whole frame with its options cut raised Malformed above).
    cut = len(data) < at + tcp_len
    if cut and whole:
        payload_len, cut = max(0, len(data) - at - header_len), False
    segment = Segment(
        frame,
        epoch_seconds(stamp),
        family,
        src,
        sport,
        dst,
        dport,
        flags,
        u32(data, at + TCP_SEQUENCE),
        u32(data, at + TCP_ACKNOWLEDGMENT),
        u16(data, at + TCP_WINDOW),
        payload_len,
        options,
        tunnel,
        ip_id,
        u16(data, at + TCP_CHECKSUM),
        ttl,
        payload,
        cut,
        sack_start,
        sack_end,
        stamp,
        UNSEEN,
        ts_val,
        ts_ecr,
    )
    if payload_len != claimed:
        raise BeyondFrame(segment, claimed)
    return segment


def option_values(data: bytes, at: int, end: int) -> tuple[int, int, int, int]:
    """The first SACK block's edges and the timestamps' TSval and TSecr in the options at
    data[at:end], UNSEEN for what is not there (or not whole in the capture); a bad option
    ends the list, as in parse_options."""
    sack_start = sack_end = ts_val = ts_ecr = UNSEEN
    while at < end:
        kind = data[at]
        if kind == OPTION_END:
            break
        if kind == OPTION_NOP:
            at += 1
            continue
        if at + 1 >= end:
            break
        length = data[at + 1]
        if length < 2 or at + length > end:
            break
        if kind == OPTION_SACK and length >= 10 and sack_start == UNSEEN:
            sack_start, sack_end = u32(data, at + 2), u32(data, at + 6)
        elif kind == OPTION_TIMESTAMPS and length == 10:  # the last, as Linux reads them
            ts_val, ts_ecr = u32(data, at + 2), u32(data, at + 6)
        at += length
    return sack_start, sack_end, ts_val, ts_ecr


def parse_options(raw: bytes, cut: bool = False) -> TcpOptions:
    """MSS, window scale, SACK-permitted, timestamps, Fast Open; a bad option ends the list.
    `cut`: `raw` is what the capture kept of a longer list."""
    mss = wscale = None
    sack = timestamps = fast_open = False
    cookie = 0
    mptcp_reset = mptcp_version = mptcp_key = mptcp_join_token = -1
    mptcp_fastclose = False
    at = 0
    while at < len(raw):
        kind = raw[at]
        if kind == OPTION_END:
            break
        if kind == OPTION_NOP:
            at += 1
            continue
        if at + 1 >= len(raw):
            break
        length = raw[at + 1]
        if length < 2:
            break
        if at + length > len(raw):
            # Cut by the snapshot length: an option whose presence is all there is to know
            # was sent all the same (tshark says so too).
            if cut and kind == OPTION_TIMESTAMPS and length == 10:
                timestamps = True
            break
        if kind == OPTION_MSS and length == 4:
            mss = u16(raw, at + 2)
        elif kind == OPTION_WINDOW_SCALE and length == 3:
            wscale = raw[at + 2]
        elif kind == OPTION_SACK_PERMITTED and length == 2:
            sack = True
        elif kind == OPTION_TIMESTAMPS and length == 10:
            timestamps = True
        elif kind == OPTION_FAST_OPEN:
            fast_open, cookie = True, length - 2
        elif kind == OPTION_EXPERIMENTAL and length >= 4 and raw[at + 2 : at + 4] == _FAST_OPEN_EXPERIMENT:
            fast_open, cookie = True, length - 4
        elif kind == OPTION_MPTCP and length >= 3:
            subtype = raw[at + 2] >> 4
            if subtype == MPTCP_TCPRST and length == 4:
                mptcp_reset = raw[at + 3]
            elif subtype == MPTCP_FASTCLOSE:
                mptcp_fastclose = True
            elif subtype == MPTCP_CAPABLE and length >= 4:
                mptcp_version = raw[at + 2] & 0x0F
                if length >= 12:  # the sender's key (a SYN/ACK's; a version 0 SYN's)
                    mptcp_key = int.from_bytes(raw[at + 4 : at + 12], "big")
            elif subtype == MPTCP_JOIN and length == 12:  # a SYN's: the receiver's token
                mptcp_join_token = u32(raw, at + 4)
        at += length
    if mptcp_version >= 0 or mptcp_join_token >= 0:  # values each SYN's own
        return TcpOptions(
            mss, wscale, sack, timestamps, fast_open, cut, cookie, mptcp_reset, mptcp_fastclose,
            mptcp_version, mptcp_key, mptcp_join_token,
        )  # fmt: skip
    return shared_options(mss, wscale, sack, timestamps, fast_open, cut, cookie, mptcp_reset, mptcp_fastclose)
