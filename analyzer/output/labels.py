"""What the ladder and the Mermaid text write beside each packet: flags with relative
sequence numbers, and how far after the copy before it a resend went out (the core numbers
the resends: ConnectionAnalysis.resends)."""

from __future__ import annotations

from analyzer.analysis import ConnectionAnalysis
from analyzer.connections import SIDES, Side
from analyzer.decode.segment import ACK, MOD, Segment, flag_names
from analyzer.timefmt import format_duration


def retransmission_note(segment: Segment, resent: tuple[int, float]) -> str:
    """How far after the copy before it a resend went out: the backoff a reader checks by eye."""
    number, previous = resent
    before = f"#{number - 1}" if number > 1 else "the first"
    return f"{format_duration(segment.time - previous)} after {before}"


def sequence_bases(result: ConnectionAnalysis) -> dict[Side, int | None]:
    """Each side's ISN (else its first seq): seq and ack are drawn relative to these."""
    connection, handshake = result.connection, result.handshake
    bases: dict[Side, int | None] = {"client": handshake.client_isn, "server": handshake.server_isn}
    for side in SIDES:
        if bases[side] is None:
            first = next((s for s in connection.segments if connection.sender(s) == side), None)
            bases[side] = first.seq if first else None
    return bases


def _relative(value: int, base: int | None) -> int:
    return (value - base) % MOD if base is not None else value


def packet_label(segment: Segment, seq_base: int | None, ack_base: int | None) -> str:
    parts = [flag_names(segment.flags), f"seq={_relative(segment.seq, seq_base)}"]
    if segment.flags & ACK:
        parts.append(f"ack={_relative(segment.ack, ack_base)}")
    if segment.payload_len:
        parts.append(f"len={segment.payload_len}")
    return " ".join(parts)
