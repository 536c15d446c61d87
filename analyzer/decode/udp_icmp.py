"""UDP headers, and ICMP/ICMPv6 destination-unreachable messages with the header they quote.

ICMP errors quote the IP header and the first 8 bytes of the packet they answer: enough
for its ports, so an unreachable can be tied to the datagram (or segment) it refuses.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

from analyzer.decode.segment import Datagram, Unreachable

PROTO_ICMP: Final = 1
PROTO_UDP: Final = 17
PROTO_ICMPV6: Final = 58
ICMP_DEST_UNREACHABLE: Final = 3
ICMPV6_DEST_UNREACHABLE: Final = 1


def parse_udp(data: bytes, at: int, ip_payload: int, frame: int, time: float, family: int,
              src: str, dst: str) -> Datagram | None:  # fmt: skip
    if len(data) < at + 8 or ip_payload < 8:
        return None
    sport, dport, length = struct.unpack_from("!HHH", data, at)
    # The UDP length field, unless it disagrees with IP (then IP's count of bytes wins).
    payload = (length if 8 <= length <= ip_payload else ip_payload) - 8
    return Datagram(frame, time, family, src, sport, dst, dport, payload)


def parse_unreachable(data: bytes, at: int, frame: int, time: float, family: int,
                      src: str, dst: str) -> Unreachable | None:  # fmt: skip
    """Only destination-unreachable messages; the quoted header must hold its ports."""
    if len(data) < at + 8:
        return None
    kind, code = data[at], data[at + 1]
    inner = at + 8
    if family == 4:
        if kind != ICMP_DEST_UNREACHABLE or len(data) < inner + 20:
            return None
        header_len = (data[inner] & 0x0F) * 4
        protocol = data[inner + 9]
        quoted_src = socket.inet_ntop(socket.AF_INET, data[inner + 12 : inner + 16])
        quoted_dst = socket.inet_ntop(socket.AF_INET, data[inner + 16 : inner + 20])
        ports_at = inner + header_len
    else:
        if kind != ICMPV6_DEST_UNREACHABLE or len(data) < inner + 40:
            return None
        protocol = data[inner + 6]
        quoted_src = socket.inet_ntop(socket.AF_INET6, data[inner + 8 : inner + 24])
        quoted_dst = socket.inet_ntop(socket.AF_INET6, data[inner + 24 : inner + 40])
        ports_at = inner + 40
    if len(data) < ports_at + 4:
        return None
    sport, dport = struct.unpack_from("!HH", data, ports_at)
    return Unreachable(frame, time, family, src, dst, code, protocol, (quoted_src, sport, quoted_dst, dport))
