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
from analyzer.decode.segment import ACK, FIN, RST, SYN
from analyzer.findings.zeek_conn import ZeekConn, zeek_conn

COMPLETENESS_BITS = ((1, "SYN"), (2, "SYN-ACK"), (4, "ACK"), (8, "DATA"), (16, "FIN"), (32, "RST"))


def wireshark_completeness(connection: Connection) -> int:
    value = 0
    for segment in connection.segments:
        flags = segment.flags
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


def tcptrace_verdict(connection: Connection) -> str:
    if any(s.flags & RST for s in connection.segments):
        return "RESET"
    sides_syn = {(s.src, s.sport) for s in connection.segments if s.flags & SYN}
    sides_fin = {(s.src, s.sport) for s in connection.segments if s.flags & FIN}
    return "yes" if len(sides_syn) == 2 and len(sides_fin) == 2 else "no"


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
    return Compatibility(
        wireshark_completeness(connection), tcptrace_verdict(connection), zeek_conn(connection)
    )
