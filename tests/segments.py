"""Hand-made segment lists for sans-IO tests: ('c'|'s', flags, seq, ack[, len])."""

from __future__ import annotations

from analyzer.decode.segment import ACK, FIN, PSH, RST, SYN, Segment

FLAGS = {"S": SYN, "A": ACK, "F": FIN, "R": RST, "P": PSH, "U": 0x20, "E": 0x40, "C": 0x80}
CLIENT = ("192.0.2.1", 40000)
SERVER = ("192.0.2.2", 80)


def conversation(*steps: tuple, start: float = 100.0, gap: float = 0.001) -> list[Segment]:
    segments = []
    time = start
    for number, step in enumerate(steps, start=1):
        who, flags, seq, ack, *rest = step
        if isinstance(who, float):  # an explicit time offset first
            time = start + who
            who, flags, seq, ack, *rest = flags, seq, ack, *rest
        length = rest[0] if rest else 0
        src, dst = (CLIENT, SERVER) if who == "c" else (SERVER, CLIENT)
        bits = sum(FLAGS[f] for f in flags)
        segments.append(
            Segment(number, time, 4, src[0], src[1], dst[0], dst[1], bits, seq, ack, 65535, length, None)
        )
        time += gap
    return segments


HANDSHAKE = (("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501))
