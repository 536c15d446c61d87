"""The generators' Ethernet/IP/TCP frames, built with one struct pack a header.

Every generated frame has the same constant fields (TTL 64, DF, window 502, checksums
zero: the analyzer and the tools measured read none of them), SYNs carry the options
Linux sends, and the payload is zeros cut at the snap length as `tcpdump -s` cuts it,
while the IP length fields count every byte on the wire.
"""

from __future__ import annotations

import struct
from typing import Final

from analyzer.decode.segment import SYN

SNAPLEN: Final = 160
MSS: Final = 1448
ETH_IPV4: Final = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
ETH_IPV6: Final = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x86\xdd"
# MSS 1448, SACK permitted, timestamps, window scale 7.
SYN_OPTIONS: Final = b"\x02\x04\x05\xa8\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"
WINDOW: Final = 502

# Ethernet, IP and TCP header in one pack: the per-packet cost of a generator is mostly this.
_IPV4_TCP: Final = struct.Struct("!14sBBHHHBBH4s4sHHIIBBHHH")
_IPV6_TCP: Final = struct.Struct("!14sIHBB16s16sHHIIBBHHH")
_ZEROS: Final = bytes(65536)


def tcp_frame(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, length: int = 0,
    snaplen: int = SNAPLEN,
) -> tuple[bytes, int]:  # fmt: skip
    """(the frame's captured bytes, its length on the wire); IPv4 or IPv6 by the address length."""
    options = SYN_OPTIONS if flags & SYN else b""
    tcp_len = 20 + len(options)
    offset = (tcp_len // 4) << 4
    if len(src) == 4:
        head = _IPV4_TCP.pack(
            ETH_IPV4, 0x45, 0, 20 + tcp_len + length, 0, 0x4000, 64, 6, 0, src, dst,
            sport, dport, seq, ack, offset, flags, WINDOW, 0, 0,
        )  # fmt: skip
    else:
        head = _IPV6_TCP.pack(
            ETH_IPV6, 0x60000000, tcp_len + length, 6, 64, src, dst,
            sport, dport, seq, ack, offset, flags, WINDOW, 0, 0,
        )  # fmt: skip
    wire = len(head) + len(options) + length
    captured = min(wire, snaplen)
    frame = head + options
    if captured > len(frame):
        frame += _ZEROS[: captured - len(frame)]
    return frame[:captured], wire
