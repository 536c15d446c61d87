"""Where the fields the decoder reads lie in the IP, TCP, UDP and ICMP headers, and the
numbers that name protocols and TCP options. Offsets count from the header's first byte.

Final ints, so that compiled code has each as its value (docs/mypyc.md): a Final set or
bytes imported from here would be looked up at every use, as this module is not compiled.
"""

from __future__ import annotations

from typing import Final

# IP protocol numbers (IPv6: next header).
PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ICMPV6: Final = 58

# IPv4 (RFC 791). The version is the high nibble of byte 0 in both IP headers; IPv4's
# header length, in 32-bit words, the low one.
IPV4_MIN_HEADER: Final = 20
IPV4_TOTAL_LENGTH: Final = 2
IPV4_IDENTIFICATION: Final = 4
IPV4_FRAGMENT: Final = 6
IPV4_TTL: Final = 8  # 3 flag bits, then the 13-bit fragment offset
IPV4_FRAGMENT_OFFSET_MASK: Final = 0x1FFF
IPV4_MORE_FRAGMENTS: Final = 0x2000
IPV4_PROTOCOL: Final = 9
IPV4_SOURCE: Final = 12  # then the destination, 4 bytes each
IPV4_ADDRESS: Final = 4

# IPv6 (RFC 8200) and its extension headers.
IPV6_HEADER: Final = 40
IPV6_PAYLOAD_LENGTH: Final = 4
IPV6_NEXT_HEADER: Final = 6
IPV6_HOP_LIMIT: Final = 7
IPV6_SOURCE: Final = 8  # then the destination, 16 bytes each
IPV6_ADDRESS: Final = 16
# Extension headers: next header in byte 0, length in byte 1 (8-byte units after the
# first 8), but for these two.
IPV6_FRAGMENT_HEADER: Final = 44  # 8 bytes; the fragment offset in the top 13 bits of bytes 2-3
IPV6_FRAGMENT_OFFSET_MASK: Final = 0xFFF8
IPV6_MORE_FRAGMENTS: Final = 0x0001
IPV6_FRAGMENT_HEADER_LENGTH: Final = 8
IPV6_AUTHENTICATION_HEADER: Final = 51  # its length in 4-byte units after the first 8

# TCP (RFC 9293).
TCP_MIN_HEADER: Final = 20
TCP_SOURCE_PORT: Final = 0
TCP_DESTINATION_PORT: Final = 2
TCP_SEQUENCE: Final = 4
TCP_ACKNOWLEDGMENT: Final = 8
TCP_DATA_OFFSET: Final = 12  # the header length in 32-bit words, high nibble
TCP_FLAGS: Final = 13
TCP_WINDOW: Final = 14
TCP_CHECKSUM: Final = 16

# TCP options: kind, then (but for END and NOP) a length byte counting kind and length.
OPTION_END: Final = 0
OPTION_NOP: Final = 1
OPTION_MSS: Final = 2  # length 4
OPTION_WINDOW_SCALE: Final = 3  # length 3
OPTION_SACK_PERMITTED: Final = 4
OPTION_SACK: Final = 5  # length 2 + 8 per block: left edge, right edge
OPTION_TIMESTAMPS: Final = 8  # length 10: TSval, TSecr
OPTION_FAST_OPEN: Final = 34  # RFC 7413
OPTION_MPTCP: Final = 30  # RFC 8684; its subtype in the high nibble of the third byte
MPTCP_CAPABLE: Final = 0
MPTCP_JOIN: Final = 1
MPTCP_FASTCLOSE: Final = 7
MPTCP_TCPRST: Final = 8
OPTION_EXPERIMENTAL: Final = 254  # RFC 6994: a 2-byte experiment id after the length

# UDP (RFC 768): ports, length of header and payload, checksum.
UDP_HEADER: Final = 8

# ICMP and ICMPv6 errors: type, code, checksum, 4 more bytes, then the packet they answer.
ICMP_HEADER: Final = 8
ICMP_CODE: Final = 1
ICMP_DEST_UNREACHABLE: Final = 3
ICMPV6_DEST_UNREACHABLE: Final = 1
ICMPV6_PACKET_TOO_BIG: Final = 2
# The other errors a TCP stack takes from a router (tcp_v4_err, tcp_v6_err).
ICMP_TIME_EXCEEDED_TYPE: Final = 11
ICMP_PARAMETER_PROBLEM_TYPE: Final = 12
ICMPV6_TIME_EXCEEDED_TYPE: Final = 3
ICMPV6_PARAMETER_PROBLEM_TYPE: Final = 4
# Where the MTU a path MTU error names lies: fragmentation needed's next-hop MTU (RFC 1191,
# 16 bits, 0 from routers older than it), Packet Too Big's MTU (RFC 8201, 32 bits).
ICMP_NEXT_HOP_MTU: Final = 6
ICMPV6_MTU: Final = 4
