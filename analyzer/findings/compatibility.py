"""Fields other tools compute, so that answers can be compared with theirs.

- Wireshark's tcp.completeness, by Wireshark's own rule (epan/dissectors/packet-tcp.c,
  dissect_tcp, "initialize or move forward the conversation completeness", as in
  Wireshark 4.0, whose tshark 4.0.17 made the corpus oracles). The value is a bitmask:
  1 SYN, 2 SYN-ACK, 4 ACK, 8 DATA, 16 FIN, 32 RST. Wireshark sets the bits packet by
  packet, not as the OR of the flags seen:

  * the packet that opens the conversation sets SYN only when it is a SYN without ACK
    (and DATA too when that SYN carries data, TCP Fast Open); any other first packet
    sets nothing. A pure SYN later in the conversation sets nothing either.
  * every later packet sets SYN-ACK when it has SYN and ACK; ACK when it has ACK without
    SYN and no payload (a RST/ACK or a FIN/ACK sets it too, and nothing needs a handshake
    before it); DATA when it has ACK without SYN and a payload (data without the ACK flag,
    or on a SYN/ACK, sets nothing); FIN only with ACK; RST whenever the flag is there.
  * tshark -2 reads the file twice and shows on each packet the value before that packet
    is counted again; the second pass counts the first packet by the later-packet rule
    too. So the value on a conversation's last packet (the oracle's per-stream value) is
    the opening rule of the first packet OR the later-packet rule of every packet, first
    included, when there are two packets or more; the opening rule alone for a lone
    packet (a lone RST, SYN/ACK or data segment gives 0).
  * a SYN with a new sequence number on a 4-tuple Wireshark already tracks starts a new
    conversation (port reuse) whose completeness starts at SYN: the same as the opening
    rule, except that data on that SYN sets no DATA bit. Our connections are split by our
    own rules (connections.py: reused 4-tuples, expired attempts, idle connections), and
    each is counted as a conversation of its own that it opens.
  * not reproduced: a conversation another dissector set up before its first packet (FTP's
    passive-mode data connections, from the EPSV reply) is not new to Wireshark, so
    its SYN sets no SYN bit there; ours does not read FTP and counts the SYN.

  Capture copies are counted: tshark sees every frame. Each rule was checked against
  tshark 4.0.17 on crafted captures (tests/test_wireshark_completeness.py).
- tcptrace's `complete conn` verdict in its own words: "RESET" when a RST was
  seen, else "yes" when both sides sent SYN and FIN, else "no".
- Zeek's conn_state and history (findings/zeek_conn.py).
"""

from __future__ import annotations

from typing import Final

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment
from analyzer.findings.zeek_conn import ZeekConn, ZeekHistory

# Wireshark's TCP_COMPLETENESS_* (packet-tcp.c).
SYN_SENT: Final = 0x01
SYN_ACK: Final = 0x02
PURE_ACK: Final = 0x04
DATA: Final = 0x08
FIN_SEEN: Final = 0x10
RST_SEEN: Final = 0x20

COMPLETENESS_BITS = (
    (SYN_SENT, "SYN"),
    (SYN_ACK, "SYN-ACK"),
    (PURE_ACK, "ACK"),
    (DATA, "DATA"),
    (FIN_SEEN, "FIN"),
    (RST_SEEN, "RST"),
)


def opening_bits(segment: Segment) -> int:
    """What the packet that opens a conversation sets: SYN for a SYN without ACK (DATA
    too for its payload), nothing for any other packet."""
    if segment.flags & (SYN | ACK) != SYN:
        return 0
    return SYN_SENT | DATA if segment.payload_len else SYN_SENT


def completeness_bits(segment: Segment) -> int:
    """What a packet after the opening one sets (and the opening one on tshark's second
    pass)."""
    flags = segment.flags
    value = 0
    handshake = flags & (SYN | ACK)
    if handshake == SYN | ACK:
        value |= SYN_ACK
    elif handshake == ACK:
        value |= DATA if segment.payload_len else PURE_ACK
    if flags & (FIN | ACK) == FIN | ACK:
        value |= FIN_SEEN
    if flags & RST:
        value |= RST_SEEN
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
        # Wireshark's tcp.completeness (the module's docstring): the opening rule of the
        # first segment fed, the later-packet rule of them all, how many were fed.
        self.opening = 0
        self.later = 0
        self.fed = 0
        self.reset = False
        self.syn_sides: set[tuple[str, int]] = set()
        self.fin_sides: set[tuple[str, int]] = set()
        self.zeek = ZeekHistory(first)

    def feed(self, segment: Segment) -> None:
        if not self.fed:
            self.opening = opening_bits(segment)
        self.later |= completeness_bits(segment)
        self.fed += 1
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

    @property
    def completeness(self) -> int:
        """tcp.completeness on the conversation's last packet under tshark -2."""
        return self.opening | self.later if self.fed > 1 else self.opening
