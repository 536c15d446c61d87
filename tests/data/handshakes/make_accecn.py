"""Write accecn.pcap: Accurate ECN negotiations (RFC 9768 3.1.1, Table 2), made with scapy.

    .venv/bin/python tests/data/handshakes/make_accecn.py

Four connections from 10.0.0.1 to 10.0.0.2:443, each a SYN asking for Accurate ECN (AE,
CWR and ECE), a SYN/ACK, an ACK, a request and its answer, and a close; the SYN/ACKs answer
    port 41001: AE and CWR, AccECN agreed, the SYN arrived marked CE;
    port 41002: CWR alone, AccECN agreed, the SYN arrived Not-ECT;
every later segment of these two carries its sender's ACE counter (ECE set in most), which
is no congestion echo;
    port 41003: ECE alone, a server without AccECN: classic ECN;
    port 41004: AE, CWR and ECE, the SYN's flags reflected: no ECN.
scapy's flag letter N is the bit RFC 9768 names AE (once NS). Deterministic: fixed times,
ISNs, addresses and IP identifications, so a second run gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import PcapWriter

HERE = Path(__file__).resolve().parent
CLIENT, SERVER = "10.0.0.1", ("10.0.0.2", 443)
T0 = 1_700_000_000.0
OPTS = [("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]
C, S = 1000, 5000  # every connection's ISNs
ACCECN_SYN = "SECN"
# (port, the SYN/ACK's flags, the ACE flags on the client's ACKs, on the server's)
CONNECTIONS = [
    (41001, "SACN", "EN", "EN"),  # ACE 5 (0b101: AE and ECE), its first value
    (41002, "SAC", "EN", "CN"),  # the server's ACE 6 (0b110: AE and CWR): one CE mark counted
    (41003, "SAE", "", ""),
    (41004, "SAECN", "", ""),
]


def exchange(
    synack: str, client_ace: str, server_ace: str
) -> list[tuple[float, bool, str, int, int, bytes, int]]:
    """(seconds after the connection's start, from the client?, flags, seq, ack, payload, IP tos)."""
    c = "A" + client_ace
    s = "A" + server_ace
    return [
        (0.0000, True, ACCECN_SYN, C, 0, b"", 0),
        (0.0005, False, synack, S, C + 1, b"", 0),
        (0.0010, True, c, C + 1, S + 1, b"", 0),
        (0.0020, True, "P" + c, C + 1, S + 1, b"GET /", 2),  # ECT(0)
        (0.0025, False, "P" + s, S + 1, C + 6, b"200 OK", 3),  # CE-marked on the way
        (0.0030, True, "F" + c, C + 6, S + 7, b"", 0),
        (0.0035, False, "F" + s, S + 7, C + 7, b"", 0),
        (0.0040, True, c, C + 7, S + 8, b"", 0),
    ]


def main() -> None:
    writer = PcapWriter(str(HERE / "accecn.pcap"), linktype=1)
    number = 0
    for index, (port, synack, client_ace, server_ace) in enumerate(CONNECTIONS):
        for at, from_client, flags, seq, ack, payload, tos in exchange(synack, client_ace, server_ace):
            src, dst = (CLIENT, SERVER[0]) if from_client else (SERVER[0], CLIENT)
            sport, dport = (port, SERVER[1]) if from_client else (SERVER[1], port)
            frame = (
                Ether(src="02:00:00:00:00:01" if from_client else "02:00:00:00:00:02",
                      dst="02:00:00:00:00:02" if from_client else "02:00:00:00:00:01")
                / IP(src=src, dst=dst, id=0x100 + number, flags="DF", ttl=64, tos=tos)
                / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=502,
                      options=OPTS if "S" in flags else [])
                / payload
            )  # fmt: skip
            frame.time = T0 + index + at
            writer.write(frame)
            number += 1
    writer.close()


if __name__ == "__main__":
    main()
