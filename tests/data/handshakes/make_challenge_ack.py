"""Write challenge-ack.pcap: a client reconnecting from the port of a connection its server
still holds (RFC 5961's challenge ACK), made with scapy.

    .venv/bin/python tests/data/handshakes/make_challenge_ack.py

The exchange is the one Linux makes (recorded for real in challenge-ack-linux.pcap by
record_challenge_ack.py): an established connection, 10.0.0.1:40000 -> 10.0.0.2:80, whose
client then forgets it without a word (a reboot). 30 s later the client connects again from
the same port with a new ISN. The server, still ESTABLISHED, answers the SYN with a
challenge ACK (its own SND.NXT, the old RCV.NXT); the client, in SYN_SENT, answers that ACK
with a RST at its acknowledgment number (RFC 9293 3.10.7.3), which resets the stale
connection; 2 ms later (Linux's TCP_TIMEOUT_MIN at HZ=1000) the client sends its SYN again,
which the listener answers: the handshake completes, a few bytes go each way, and the
client closes.

Deterministic: fixed times, ISNs, addresses and IP identifications, so a second run gives
the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import PcapWriter

HERE = Path(__file__).resolve().parent
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 80)
T0 = 1_700_000_000.0
OPTS = [("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]
OLD_C, OLD_S = 1000, 5000  # the stale connection's ISNs
NEW_C, NEW_S = 900_000, 7000  # the new one's

# (seconds after T0, from the client?, flags, seq, ack, payload, options)
EXCHANGE = [
    # The connection the server will still hold.
    (0.0000, True, "S", OLD_C, 0, b"", OPTS),
    (0.0005, False, "SA", OLD_S, OLD_C + 1, b"", OPTS),
    (0.0010, True, "A", OLD_C + 1, OLD_S + 1, b"", None),
    (0.0020, True, "PA", OLD_C + 1, OLD_S + 1, b"hello", None),
    (0.0025, False, "A", OLD_S + 1, OLD_C + 6, b"", None),
    # The client reboots, and connects again from the same port.
    (30.0000, True, "S", NEW_C, 0, b"", OPTS),
    (30.0005, False, "A", OLD_S + 1, OLD_C + 6, b"", None),  # the challenge ACK
    (30.0006, True, "R", OLD_C + 6, 0, b"", None),  # <SEQ=SEG.ACK><CTL=RST>
    (30.0026, True, "S", NEW_C, 0, b"", OPTS),  # the SYN again, TCP_TIMEOUT_MIN later
    (30.0031, False, "SA", NEW_S, NEW_C + 1, b"", OPTS),
    (30.0036, True, "A", NEW_C + 1, NEW_S + 1, b"", None),
    (30.0040, True, "PA", NEW_C + 1, NEW_S + 1, b"again", None),
    (30.0045, False, "A", NEW_S + 1, NEW_C + 6, b"", None),
    (30.0050, True, "FA", NEW_C + 6, NEW_S + 1, b"", None),
    (30.0055, False, "FA", NEW_S + 1, NEW_C + 7, b"", None),
    (30.0060, True, "A", NEW_C + 7, NEW_S + 2, b"", None),
]


def main() -> None:
    writer = PcapWriter(str(HERE / "challenge-ack.pcap"), linktype=1)
    for number, (at, from_client, flags, seq, ack, payload, options) in enumerate(EXCHANGE):
        (src, sport), (dst, dport) = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        frame = (
            Ether(src="02:00:00:00:00:01" if from_client else "02:00:00:00:00:02",
                  dst="02:00:00:00:00:02" if from_client else "02:00:00:00:00:01")
            / IP(src=src, dst=dst, id=0x100 + number, flags="DF", ttl=64)
            / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=64240, options=options or [])
            / payload
        )  # fmt: skip
        frame.time = T0 + at
        writer.write(frame)
    writer.close()


if __name__ == "__main__":
    main()
