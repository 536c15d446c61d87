"""UDP headers, and ICMP/ICMPv6 destination-unreachable and Packet Too Big messages with the
header they quote (and, quoting TCP, time exceeded and parameter problem).

ICMP errors quote the IP header and the first 8 bytes of the packet they answer: enough
for its ports, so an unreachable can be tied to the datagram (or segment) it refuses.
"""

from __future__ import annotations

import struct
from typing import Final

from analyzer.decode.addresses import address_pair
from analyzer.decode.fields import u16
from analyzer.decode.headers import (
    ICMP_CODE,
    ICMP_DEST_UNREACHABLE,
    ICMP_HEADER,
    ICMP_NEXT_HOP_MTU,
    ICMP_PARAMETER_PROBLEM_TYPE,
    ICMP_TIME_EXCEEDED_TYPE,
    ICMPV6_DEST_UNREACHABLE,
    ICMPV6_MTU,
    ICMPV6_PACKET_TOO_BIG,
    ICMPV6_PARAMETER_PROBLEM_TYPE,
    ICMPV6_TIME_EXCEEDED_TYPE,
    IPV4_MIN_HEADER,
    IPV4_PROTOCOL,
    IPV4_SOURCE,
    IPV6_HEADER,
    IPV6_NEXT_HEADER,
    IPV6_SOURCE,
    PROTO_TCP,
    UDP_HEADER,
)
from analyzer.decode.icmp_codes import FRAGMENTATION_NEEDED
from analyzer.decode.segment import DEST_UNREACHABLE, PARAMETER_PROBLEM, TIME_EXCEEDED, Datagram, Unreachable
from analyzer.decode.undecodable import Undecodable
from analyzer.timefmt import epoch_seconds


def parse_udp(data: bytes, at: int, ip_payload: int, frame: int, stamp: int, family: int,
              src: str, dst: str) -> Datagram | None:  # fmt: skip
    if len(data) < at + UDP_HEADER or ip_payload < UDP_HEADER:
        return None
    sport, dport, length = struct.unpack_from("!HHH", data, at)
    # The UDP length field, unless it disagrees with IP (then IP's count of bytes wins).
    payload = (length if UDP_HEADER <= length <= ip_payload else ip_payload) - UDP_HEADER
    return Datagram(frame, epoch_seconds(stamp), family, src, sport, dst, dport, payload, stamp)


# Why an ICMP error that may answer TCP was left unread (DecodeStats.skip counts frames by it).
QUOTE_CUT: Final = (
    "an ICMP error whose quoted header the snapshot length cut: which connection it answers cannot be told"
)
QUOTE_SHORT: Final = "an ICMP error too short to quote the header it answers"


def _quote_unread(data: bytes, protocol_at: int, whole: bool) -> None:
    """An error whose quoted IP header is not all there: Undecodable, unless the part there
    names its protocol, and not TCP (the frame holds no TCP: nothing to warn of; None)."""
    if len(data) > protocol_at and data[protocol_at] != PROTO_TCP:
        return
    raise Undecodable(QUOTE_SHORT if whole else QUOTE_CUT)


def parse_unreachable(data: bytes, at: int, frame: int, stamp: int, family: int,
                      src: str, dst: str, whole: bool = True) -> Unreachable | None:  # fmt: skip
    """Only destination-unreachable and Packet Too Big messages, and time exceeded and
    parameter problem quoting TCP (a TCP stack's errors: UDP's traceroute probes get them by
    the hundred, and a UDP socket is told none); the quoted header must hold its ports: one
    that does not is Undecodable (QUOTE_CUT where the snapshot length cut the frame, not
    `whole`; else QUOTE_SHORT), counted and warned of."""
    if len(data) <= at or error_kind(data[at], family) < 0:
        return None
    if len(data) < at + ICMP_HEADER:
        raise Undecodable(QUOTE_SHORT if whole else QUOTE_CUT)
    kind, code = data[at], data[at + ICMP_CODE]
    inner = at + ICMP_HEADER
    path_mtu = -1
    says = error_kind(kind, family)
    if family == 4:
        if len(data) < inner + IPV4_MIN_HEADER:
            _quote_unread(data, inner + IPV4_PROTOCOL, whole)
            return None
        if says == DEST_UNREACHABLE and code == FRAGMENTATION_NEEDED:
            path_mtu = struct.unpack_from("!H", data, at + ICMP_NEXT_HOP_MTU)[0]
        header_len = (data[inner] & 0x0F) * 4
        protocol = data[inner + IPV4_PROTOCOL]
        quoted_src, quoted_dst = address_pair(data, inner + IPV4_SOURCE, 4)
        ports_at = inner + header_len
    else:
        if len(data) < inner + IPV6_HEADER:
            _quote_unread(data, inner + IPV6_NEXT_HEADER, whole)
            return None
        if kind == ICMPV6_PACKET_TOO_BIG:
            path_mtu = struct.unpack_from("!I", data, at + ICMPV6_MTU)[0]
        protocol = data[inner + IPV6_NEXT_HEADER]
        quoted_src, quoted_dst = address_pair(data, inner + IPV6_SOURCE, 6)
        ports_at = inner + IPV6_HEADER
    if says != DEST_UNREACHABLE and protocol != PROTO_TCP:
        return None
    if len(data) < ports_at + 4:
        if protocol != PROTO_TCP:
            return None  # a cut error about a UDP datagram or another protocol: no TCP in it
        raise Undecodable(QUOTE_SHORT if whole else QUOTE_CUT)
    sport, dport = struct.unpack_from("!HH", data, ports_at)
    # A TCP header's first 8 bytes, which every ICMP error quotes, hold its sequence number:
    # which segment it answers (a SYN's is the ISN).
    seq = (
        struct.unpack_from("!I", data, ports_at + 4)[0]
        if protocol == PROTO_TCP and len(data) >= ports_at + 8
        else -1
    )
    return Unreachable(
        frame,
        epoch_seconds(stamp),
        family,
        src,
        dst,
        code,
        protocol,
        (quoted_src, sport, quoted_dst, dport),
        seq,
        path_mtu,
        stamp,
        says,
        u16(data, at + 2),
    )


def error_kind(icmp_type: int, family: int) -> int:
    """What an ICMP (ICMPv6) error of `icmp_type` says (segment.DEST_UNREACHABLE, ...), -1
    for a message of another type."""
    if family == 4:
        if icmp_type == ICMP_DEST_UNREACHABLE:
            return DEST_UNREACHABLE
        if icmp_type == ICMP_TIME_EXCEEDED_TYPE:
            return TIME_EXCEEDED
        return PARAMETER_PROBLEM if icmp_type == ICMP_PARAMETER_PROBLEM_TYPE else -1
    if icmp_type in (ICMPV6_DEST_UNREACHABLE, ICMPV6_PACKET_TOO_BIG):
        return DEST_UNREACHABLE
    if icmp_type == ICMPV6_TIME_EXCEEDED_TYPE:
        return TIME_EXCEEDED
    return PARAMETER_PROBLEM if icmp_type == ICMPV6_PARAMETER_PROBLEM_TYPE else -1
