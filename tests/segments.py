"""Hand-made segment lists for sans-IO tests: ('c'|'s', flags, seq, ack[, len])."""

from __future__ import annotations

from analyzer.decode.segment import ACK, FIN, PSH, RST, SYN, Segment, TcpOptions

# N: AE (RFC 9768), the letter scapy gives it (once NS).
FLAGS = {"S": SYN, "A": ACK, "F": FIN, "R": RST, "P": PSH, "U": 0x20, "E": 0x40, "C": 0x80, "N": 0x100}
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


# hs_loss, recorded from real sockets: the first SYN/ACK (18 µs after the SYN) lost at the
# client; the server's timer sends it again 1.024 s later, the client's own timer its SYN 31
# µs after that; the client ACKs the resent SYN/ACK 35 µs after it (frame 5), the server
# answers the repeated SYN at once (frame 6), and the client ACKs that too.
LOST_SYNACK = (
    ("c", "S", 100, 0),
    (0.000018, "s", "SA", 500, 101),
    (1.023850, "s", "SA", 500, 101),
    (1.023881, "c", "S", 100, 0),
    (1.023885, "c", "A", 101, 501),
    (1.023899, "s", "SA", 500, 101),
    (1.023916, "c", "A", 101, 501),
)


# At the client (helper-99's e5): its SYN, the same SYN 1.028 s later, then the server's
# SYN/ACK and the client's ACK. Which SYN reached the server its SYN/ACK's TSecr tells.
SYN_AGAIN = (
    ("c", "S", 100, 0),
    (1.028, "c", "S", 100, 0),
    (1.0281, "s", "SA", 500, 101),
    (1.0282, "c", "A", 101, 501),
)


def syn_again_echoing(echoed: int | None) -> list[Segment]:
    """SYN_AGAIN with timestamps: the SYNs' TSvals 7000 and 8028, the SYN/ACK's TSecr
    `echoed`; None: no timestamps at all."""
    segments = conversation(*SYN_AGAIN)
    if echoed is not None:
        for segment, (val, ecr) in zip(segments[:3], [(7000, 0), (8028, 0), (90, echoed)], strict=True):
            segment.options = TcpOptions(1460, 7, True, True)
            segment.ts_val, segment.ts_ecr = val, ecr
    return segments
