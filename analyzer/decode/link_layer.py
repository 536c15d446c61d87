"""Link-layer headers: find where the IP packet starts in a frame.

One small function per link type, each returning the offset of the IP header (or
None when the frame carries no IP). The IP version is read from the IP header
itself, so a link header only needs to be skipped, not trusted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

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

# BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS.
_BSD_AF_IP: Final = {2, 24, 28, 30}

NFULA_PAYLOAD: Final = 9


def _after_ethertype(data: bytes, ethertype: int, at: int) -> int | None:
    """Skip VLAN tags and MPLS labels after an ethertype at offset `at`."""
    while ethertype in ETHERTYPE_VLAN:
        if len(data) < at + 4:
            return None
        ethertype = struct.unpack_from("!H", data, at + 2)[0]
        at += 4
    if ethertype in ETHERTYPE_MPLS:
        while len(data) >= at + 4:
            bottom = data[at + 2] & 0x01
            at += 4
            if bottom:
                return at
        return None
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return at
    return None


def ethernet(data: bytes) -> int | None:
    if len(data) < 14:
        return None
    ethertype = data[12] << 8 | data[13]
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):  # nearly every frame
        return 14
    return _after_ethertype(data, ethertype, 14)


def linux_sll(data: bytes) -> int | None:
    if len(data) < 16:
        return None
    return _after_ethertype(data, struct.unpack_from("!H", data, 14)[0], 16)


def linux_sll2(data: bytes) -> int | None:
    if len(data) < 20:
        return None
    return _after_ethertype(data, struct.unpack_from("!H", data, 0)[0], 20)


def bsd_null(data: bytes) -> int | None:
    # The family is in the byte order of the machine that captured: accept either.
    if len(data) < 4:
        return None
    little, big = struct.unpack_from("<I", data)[0], struct.unpack_from(">I", data)[0]
    return 4 if little in _BSD_AF_IP or big in _BSD_AF_IP else None


def bsd_loop(data: bytes) -> int | None:
    if len(data) < 4:
        return None
    return 4 if struct.unpack_from(">I", data)[0] in _BSD_AF_IP else None


def raw_ip(data: bytes) -> int | None:
    return 0


def nflog(data: bytes) -> int | None:
    """NFLOG: a 4-byte header, then TLVs in host order; the packet is the PAYLOAD TLV."""
    at = 4
    while at + 4 <= len(data):
        length, kind = struct.unpack_from("<HH", data, at)
        if length < 4:
            return None
        if kind == NFULA_PAYLOAD:
            return at + 4
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
