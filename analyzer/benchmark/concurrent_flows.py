"""Many long downloads at once: a busy server's capture, whose connections are all open together.

Each client opens, asks, and the server sends it MSS segments; the server serves its clients
in turn, one segment each (what a link shared by many flows looks like in a capture), and
every client acknowledges every second segment. Once all have their data, each client closes
(three segments: FIN, the server's FIN/ACK, the last ACK). Where one long flow (long_flow.py)
measures what a connection costs as it grows, this measures what many open ones cost at
once: every segment of each is in the capture while all the others are still open.

The truth, one line a connection in synthetic.py's format (truth.py checks it): a complete
handshake, the close, the client in TIME_WAIT, nothing resent, its packets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from analyzer.benchmark.frames import MSS, SNAPLEN, tcp_frame
from analyzer.benchmark.pcap_file import CaptureWriter
from analyzer.decode.segment import ACK, FIN, MOD, PSH, SYN

VERSION: Final = 1  # in the cached files' names: a change to what the generator writes needs a new one
SERVER: Final = b"\xc0\x00\x02\x0a"
SERVER_PORT: Final = 443
FIRST_CLIENT_PORT: Final = 40_000
START_US: Final = 1_700_000_000_000_000
GAP_US: Final = 12  # between the server's segments, whichever client each is for
ACK_GAP_US: Final = 3
RTT_US: Final = 200
REQUEST_BYTES: Final = 100


def _client_address(number: int) -> bytes:
    return bytes([10, 1 + (number >> 16), (number >> 8) & 255, number & 255])


def write_capture(path: Path | str, connections: int, rounds: int) -> int:
    """Write `connections` downloads of `rounds` data segments each, and
    `<path>.truth.jsonl`; returns the number of frames."""
    path = Path(path)
    clients = [_client_address(number) for number in range(connections)]
    ports = [FIRST_CLIENT_PORT + number % 20_000 for number in range(connections)]
    # ISNs spread over the sequence space, some wrapping past 2**32 during the download.
    client_isns = [(number * 2_654_435_761) % MOD for number in range(connections)]
    server_isns = [(number * 2_246_822_519 + 12_345) % MOD for number in range(connections)]
    starts: list[int] = []
    now = START_US
    with open(path, "wb") as file, CaptureWriter(file, SNAPLEN) as out:

        def write(
            src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, length: int = 0
        ) -> None:
            frame, wire = tcp_frame(src, dst, sport, dport, seq % MOD, ack % MOD, flags, length)
            out.write(now, frame, wire)

        for client, port, c_isn, s_isn in zip(clients, ports, client_isns, server_isns, strict=True):
            starts.append(now)
            write(client, SERVER, port, SERVER_PORT, c_isn, 0, SYN)
            now += 20
            write(SERVER, client, SERVER_PORT, port, s_isn, c_isn + 1, SYN | ACK)
            now += RTT_US
            write(client, SERVER, port, SERVER_PORT, c_isn + 1, s_isn + 1, ACK)
            now += 5
            write(client, SERVER, port, SERVER_PORT, c_isn + 1, s_isn + 1, PSH | ACK, REQUEST_BYTES)
            now += 5
        asked = 1 + REQUEST_BYTES
        for round_ in range(rounds):
            for client, port, c_isn, s_isn in zip(clients, ports, client_isns, server_isns, strict=True):
                write(SERVER, client, SERVER_PORT, port, s_isn + 1 + round_ * MSS, c_isn + asked, ACK, MSS)
                now += GAP_US
                if round_ % 2:
                    write(
                        client, SERVER, port, SERVER_PORT, c_isn + asked, s_isn + 1 + (round_ + 1) * MSS, ACK
                    )
                    now += ACK_GAP_US
        for client, port, c_isn, s_isn in zip(clients, ports, client_isns, server_isns, strict=True):
            end = s_isn + 1 + rounds * MSS
            write(client, SERVER, port, SERVER_PORT, c_isn + asked, end, FIN | ACK)
            now += 20
            write(SERVER, client, SERVER_PORT, port, end, c_isn + asked + 1, FIN | ACK)
            now += RTT_US
            write(client, SERVER, port, SERVER_PORT, c_isn + asked + 1, end + 1, ACK)
            now += 5
    packets = 4 + rounds + rounds // 2 + 3
    with open(path.with_name(path.name + ".truth.jsonl"), "w") as truth:
        for number, (port, start) in enumerate(zip(ports, starts, strict=True)):
            line = {
                "connection": number,
                "kind": "download",
                "family": 4,
                "client_port": port,
                "server_port": SERVER_PORT,
                "start": start / 1_000_000,
                "handshake": "complete",
                "close": "three-segment",
                "time_wait": "client",
                "resets": [],
                "syn_retransmissions": 0,
                "retransmissions": 0,
                "duplicate_acks": 0,
                "reuses_ports": False,
                "packets": packets,
            }
            truth.write(json.dumps(line) + "\n")
    return out.packets
