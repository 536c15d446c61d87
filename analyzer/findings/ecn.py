"""Congestion signals of a connection that agreed on ECN (RFC 3168 6.1): a receiver that got
a packet marked CE (Congestion Experienced) by a router or a queue sets ECE on its ACKs until
the sender answers with CWR (Congestion Window Reduced) on its next new data. The CE mark
itself is in the IP header; ECE and CWR in the TCP flags tell it happened and was answered.

Rule: with classic ECN agreed in the handshake (Handshake.ecn_agreed), every later segment
without SYN that carries ECE is an echo of its sender's, every one with CWR a sender's
reduction. Without that agreement ECE and CWR mean nothing here (Accurate ECN uses them as
a counter, RFC 9768) and none is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.connections import Connection, Side
from analyzer.decode.segment import CWR, ECE, SYN, Segment
from analyzer.findings.handshake import Handshake
from analyzer.listing import shortened


@dataclass
class EcnSignals:
    echoes: dict[Side, list[Segment]] = field(default_factory=dict)  # by sender: its ECE segments
    reductions: dict[Side, list[Segment]] = field(default_factory=dict)  # by sender: its CWR segments

    def __bool__(self) -> bool:
        return bool(self.echoes or self.reductions)

    def explain(self) -> str:
        """One line: who echoed congestion how often, who reduced, first frames of each."""
        parts = []
        for side, found in self.echoes.items():
            parts.append(
                f"the {side} echoed congestion (ECE) on {_count(found)}{_frames(found)}: packets to it "
                "were marked CE on the way"
            )
        for side, found in self.reductions.items():
            parts.append(
                f"the {side} reduced its congestion window (CWR) {_count(found, 'time')}{_frames(found)}"
            )
        return "; ".join(parts)


def _count(found: list[Segment], unit: str = "segment") -> str:
    return f"{len(found)} {unit}{'s' if len(found) != 1 else ''}"


def _frames(found: list[Segment]) -> str:
    return f" (frame{'s' if len(found) > 1 else ''} {shortened([str(s.frame) for s in found], 6)})"


def find_ecn_signals(connection: Connection, handshake: Handshake) -> EcnSignals | None:
    """The connection's ECE and CWR segments after an ECN handshake, by sender (the rule
    above); None without ECN agreed."""
    if not handshake.ecn_agreed:
        return None
    signals = EcnSignals()
    for segment in connection.segments:
        if segment.flags & SYN or not segment.flags & (ECE | CWR):
            continue
        side: Side = "client" if connection.from_client(segment) else "server"
        if segment.flags & ECE:
            signals.echoes.setdefault(side, []).append(segment)
        if segment.flags & CWR:
            signals.reductions.setdefault(side, []).append(segment)
    return signals
