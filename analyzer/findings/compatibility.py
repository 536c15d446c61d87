"""Fields other tools compute, so that answers can be compared with theirs.

- Wireshark's tcp.completeness: a bitmask of what the conversation showed: 1 SYN,
  2 SYN-ACK, 4 ACK (any segment with the ACK flag, RST/ACK included), 8 DATA,
  16 FIN, 32 RST.
- tcptrace's `complete conn` verdict in its own words: "RESET" when a RST was
  seen, else "yes" when both sides sent SYN and FIN, else "no".
- Zeek's conn_state and history (findings/zeek_conn.py).
"""

from __future__ import annotations

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment
from analyzer.findings.zeek_conn import ZeekConn, ZeekHistory

COMPLETENESS_BITS = ((1, "SYN"), (2, "SYN-ACK"), (4, "ACK"), (8, "DATA"), (16, "FIN"), (32, "RST"))


def completeness_bits(segment: Segment) -> int:
    flags = segment.flags
    value = 0
    if flags & SYN:
        value |= 2 if flags & ACK else 1
    if flags & ACK:
        value |= 4
    if segment.payload_len:
        value |= 8
    if flags & FIN:
        value |= 16
    if flags & RST:
        value |= 32
    return value


def completeness_names(value: int) -> list[str]:
    return [name for bit, name in COMPLETENESS_BITS if value & bit]


class Compatibility:
    """A connection's answers in other tools' terms, computed once with its other findings."""

    def __init__(self, wireshark_completeness: int, tcptrace: str, zeek: ZeekConn) -> None:
        self.wireshark_completeness = wireshark_completeness
        self.tcptrace = tcptrace
        self.zeek = zeek

    @property
    def wireshark_completeness_flags(self) -> list[str]:
        return completeness_names(self.wireshark_completeness)


def compatibility(connection: Connection) -> Compatibility:
    """The other tools' answers: they see every frame, capture copies too."""
    segments = connection.with_copies()
    counter = CompatibilityCounter(segments[0])
    for segment in segments:
        counter.feed(segment)
    return counter.result()


class CompatibilityCounter:
    """The three tools' answers as the segments come, one at a time (so that a connection
    too long to keep is counted all the same)."""

    def __init__(self, first: Segment) -> None:
        self.completeness = 0
        self.reset = False
        self.syn_sides: set[tuple[str, int]] = set()
        self.fin_sides: set[tuple[str, int]] = set()
        self.zeek = ZeekHistory(first)

    def feed(self, segment: Segment) -> None:
        self.completeness |= completeness_bits(segment)
        flags = segment.flags
        if flags & (SYN | FIN | RST):
            if flags & RST:
                self.reset = True
            if flags & SYN:
                self.syn_sides.add((segment.src, segment.sport))
            if flags & FIN:
                self.fin_sides.add((segment.src, segment.sport))
        self.zeek.feed(segment)

    def result(self) -> Compatibility:
        if self.reset:
            tcptrace = "RESET"
        else:
            tcptrace = "yes" if len(self.syn_sides) == 2 and len(self.fin_sides) == 2 else "no"
        return Compatibility(self.completeness, tcptrace, self.zeek.result())
