"""The segments of a connection that is over, packed while it waits out CLOSE_DELAY.

A busy server's capture holds thousands of connections that have closed and wait, as Zeek's
do (tcp_close_delay), for a late segment: a resent FIN, a RST, a capture copy. Held as
Segment objects, that is about 200 bytes a segment: a few hundred thousand segments on a
server that closes a few thousand connections a second. Packed, one record each (the
held_attempt.py record and a byte for its sender), about 80. The tracker packs the segments
of a connection that joins its queue of the over while that queue is long
(connections.PACK_OVER_FROM), and unpacks them when a segment comes for it (to be compared
with them, as a capture copy) or it is handed over: the segments come back field for field.
"""

from __future__ import annotations

from analyzer.decode.segment import SYN, Segment, TcpOptions
from analyzer.held_attempt import RECORD_SIZE, can_pack, pack_record, unpack_record


class PackedSegments:
    """Segments of one connection between ends a and b, in their order."""

    def __init__(
        self, a_src: str, b_src: str, data: bytes, from_b: bytes, options: list[TcpOptions | None]
    ) -> None:
        self.a_src = a_src
        self.b_src = b_src
        self.data = data
        self.from_b = from_b  # a byte per record: 1 if end b sent it
        self.options = options  # of the SYN records, in their order

    def __len__(self) -> int:
        return len(self.from_b)

    def segments(self) -> list[Segment]:
        """The segments, rebuilt."""
        options = iter(self.options)
        held: list[Segment] = []
        a, b, data, from_b = self.a_src, self.b_src, self.data, self.from_b
        for index in range(len(from_b)):
            sent_by_b = from_b[index] == 1
            segment = unpack_record(
                data, index * RECORD_SIZE, b if sent_by_b else a, a if sent_by_b else b, None
            )
            if segment.flags & SYN:
                segment.options = next(options)
            held.append(segment)
        return held


def pack_segments(segments: list[Segment], a_src: str, a_port: int) -> PackedSegments | None:
    """`segments`, of a connection whose end a is a_src:a_port, packed; None if one does not
    fit a record (a tunnel's, a RST's data kept) or holds options other than a SYN's."""
    b_src = ""
    parts: list[bytes] = []
    from_b = bytearray()
    options: list[TcpOptions | None] = []
    for segment in segments:
        if not can_pack(segment) or (segment.options is not None and not segment.flags & SYN):
            return None
        sent_by_a = segment.sport == a_port and segment.src == a_src
        if not sent_by_a:
            b_src = segment.src
        elif b_src == "":
            b_src = segment.dst
        from_b.append(0 if sent_by_a else 1)
        parts.append(pack_record(segment))
        if segment.flags & SYN:
            options.append(segment.options)
    return PackedSegments(a_src, b_src, b"".join(parts), bytes(from_b), options)
