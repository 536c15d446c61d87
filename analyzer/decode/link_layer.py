"""Link-layer headers: find where the IP packet starts in a frame.

One small function per link type, each returning the offset of the IP header (or
None when the frame carries no IP). The IP version is read from the IP header
itself, so a link header only needs to be skipped, not trusted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from analyzer.decode.fields import u16

ETHERTYPE_IPV4: Final = 0x0800
ETHERTYPE_IPV6: Final = 0x86DD
ETHERTYPE_VLAN: Final = (0x8100, 0x88A8, 0x9100)
ETHERTYPE_MPLS: Final = (0x8847, 0x8848)

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_BSD = (12, 14)
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276

# Header lengths, and where each header says what follows it.
ETHERNET_HEADER: Final = 14
ETHERNET_TYPE: Final = 12
VLAN_TAG: Final = 4  # the tag control, then the ethertype of what follows
VLAN_TYPE: Final = 2
MPLS_LABEL: Final = 4
MPLS_BOTTOM_OF_STACK: Final = 2  # the byte whose lowest bit marks the last label
SLL_HEADER: Final = 16
SLL_PROTOCOL: Final = 14
SLL2_HEADER: Final = 20
SLL2_PROTOCOL: Final = 0
BSD_FAMILY: Final = 4  # BSD loopback: the address family of what follows, 4 bytes

# BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS.
_BSD_AF_IP: Final = {2, 24, 28, 30}

# NFLOG: a 4-byte header, then TLVs (length, type, value) padded to 4 bytes.
NFLOG_HEADER: Final = 4
NFLOG_TLV_HEADER: Final = 4
NFULA_PAYLOAD: Final = 9


def _after_ethertype(data: bytes, ethertype: int, at: int) -> int | None:
    """Skip VLAN tags and MPLS labels after an ethertype at offset `at`."""
    while ethertype in ETHERTYPE_VLAN:
        if len(data) < at + VLAN_TAG:
            return None
        ethertype = u16(data, at + VLAN_TYPE)
        at += VLAN_TAG
    if ethertype in ETHERTYPE_MPLS:
        while len(data) >= at + MPLS_LABEL:
            bottom = data[at + MPLS_BOTTOM_OF_STACK] & 0x01
            at += MPLS_LABEL
            if bottom:
                return at
        return None
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return at
    return None


def ethernet(data: bytes) -> int | None:
    if len(data) < ETHERNET_HEADER:
        return None
    ethertype = u16(data, ETHERNET_TYPE)
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):  # nearly every frame
        return ETHERNET_HEADER
    return _after_ethertype(data, ethertype, ETHERNET_HEADER)


def linux_sll(data: bytes) -> int | None:
    if len(data) < SLL_HEADER:
        return None
    return _after_ethertype(data, u16(data, SLL_PROTOCOL), SLL_HEADER)


def linux_sll2(data: bytes) -> int | None:
    if len(data) < SLL2_HEADER:
        return None
    return _after_ethertype(data, u16(data, SLL2_PROTOCOL), SLL2_HEADER)


def bsd_null(data: bytes) -> int | None:
    # The family is in the byte order of the machine that captured: accept either.
    if len(data) < BSD_FAMILY:
        return None
    little, big = struct.unpack_from("<I", data)[0], struct.unpack_from(">I", data)[0]
    return BSD_FAMILY if little in _BSD_AF_IP or big in _BSD_AF_IP else None


def bsd_loop(data: bytes) -> int | None:
    if len(data) < BSD_FAMILY:
        return None
    return BSD_FAMILY if struct.unpack_from(">I", data)[0] in _BSD_AF_IP else None


def raw_ip(data: bytes) -> int | None:
    return 0


def nflog(data: bytes) -> int | None:
    """NFLOG: the TLVs are in host order; the packet is the PAYLOAD TLV's value."""
    at = NFLOG_HEADER
    while at + NFLOG_TLV_HEADER <= len(data):
        length, kind = struct.unpack_from("<HH", data, at)
        if length < NFLOG_TLV_HEADER:
            return None
        if kind == NFULA_PAYLOAD:
            return at + NFLOG_TLV_HEADER
        at += (length + 3) & ~3
    return None


IP_OFFSET: dict[int, Callable[[bytes], int | None]] = {
    LINKTYPE_NULL: bsd_null,
    LINKTYPE_ETHERNET: ethernet,
    LINKTYPE_RAW: raw_ip,
    LINKTYPE_RAW_BSD[0]: raw_ip,
    LINKTYPE_RAW_BSD[1]: raw_ip,
    LINKTYPE_LOOP: bsd_loop,
    LINKTYPE_LINUX_SLL: linux_sll,
    LINKTYPE_IPV4: raw_ip,
    LINKTYPE_IPV6: raw_ip,
    LINKTYPE_NFLOG: nflog,
    LINKTYPE_LINUX_SLL2: linux_sll2,
}
