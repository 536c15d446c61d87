"""A port scan: one scanner sends SYNs to 16 ports of each host in turn, as nmap -sS does.

About 50,000 probes a second, each to a host:port pair of its own: 65,536 hosts walked in a
shuffled order (a million probes reach 62,500 of them), each host's 16 ports one after the
other; every eighth host is one of 2001:db8:5ca::/48 (probed from the scanner's IPv6
address), the others of 172.16.0.0/16. The scanner keeps one source port until it has
probed every host:port pair, as a raw-socket scanner does. What comes back depends on the port alone:
- an open port (OPEN_PORTS) answers with a SYN/ACK after one round trip (100 µs to 20 ms),
  and the scanner's kernel, which made no such connection, answers it with a RST (the
  capture cannot tell whether that RST reached the target: nothing is asked of its state);
- a closed port (CLOSED_PORTS) answers with a RST/ACK after one round trip;
- a filtered port (the others) answers nothing.
Streamed and deterministic (a seed): only the answers not yet due are held.

The truth (truth.py's format): one line for each kind of port, naming its ports, with what
each attempt must show.
"""

from __future__ import annotations

import heapq
import json
import random
from pathlib import Path
from typing import Final

from analyzer.benchmark.frames import SNAPLEN, tcp_frame
from analyzer.benchmark.pcap_file import CaptureWriter
from analyzer.decode.segment import ACK, MOD, RST, SYN

VERSION: Final = 2  # in the cached files' names: a change to what the generator writes needs a new one
SCANNER4: Final = bytes((198, 51, 100, 7))
SCANNER6: Final = b"\x20\x01\x0d\xb8\x00\x00\x00\x07" + bytes(7) + b"\x07"
TARGETS4: Final = bytes((172, 16))  # 172.16.0.0/16
TARGETS6: Final = b"\x20\x01\x0d\xb8\x05\xca"  # 2001:db8:5ca::/48
HOSTS: Final = 1 << 16
IPV6_EVERY: Final = 8
OPEN_PORTS: Final = (22, 80, 443)
CLOSED_PORTS: Final = (21, 23, 25, 110, 139, 445, 3389)
FILTERED_PORTS: Final = (135, 1433, 3306, 5900, 8080, 8443)
PORTS: Final = OPEN_PORTS + CLOSED_PORTS + FILTERED_PORTS
FIRST_SOURCE_PORT: Final = 40_000
START_US: Final = 1_700_000_000_000_000
GAP_US: Final = (10, 30)  # between probes: 50,000 a second on average
ROUND_TRIP_US: Final = (100, 20_000)
SCANNER_RST_US: Final = 15  # the scanner's kernel answers a SYN/ACK at once
_ATTEMPT: Final[dict[str, object]] = {
    "close": "none",
    "time_wait": None,
    "syn_retransmissions": 0,
    "retransmissions": 0,
    "reuses_ports": False,
}
KINDS: Final[tuple[dict[str, object], ...]] = (
    {"kind": "open-port", "server_ports": list(OPEN_PORTS), **_ATTEMPT, "handshake": "incomplete",
     "resets": [["client", "connect_abandoned"]], "packets": 3},
    {"kind": "closed-port", "server_ports": list(CLOSED_PORTS), **_ATTEMPT, "handshake": "refused",
     "resets": [["server", "refused"]], "packets": 2, "server_state": "CLOSED"},
    {"kind": "filtered-port", "server_ports": list(FILTERED_PORTS), **_ATTEMPT, "handshake": "no_answer",
     "resets": [], "packets": 1},
)  # fmt: skip


def _target(host: int, ipv6: bool) -> bytes:
    if ipv6:
        return TARGETS6 + host.to_bytes(10, "big")
    return TARGETS4 + host.to_bytes(2, "big")


def write_capture(path: Path, probes: int, seed: int = 1) -> int:
    """Write the capture of `probes` probes and `<path>.truth.jsonl`; returns the number of
    frames."""
    rng = random.Random(seed)
    hosts = list(range(HOSTS))
    rng.shuffle(hosts)
    pending: list[tuple[int, int, bytes, int]] = []  # heap of (time, order, frame, wire)
    order = 0
    now = START_US
    counts = dict.fromkeys(("open-port", "closed-port", "filtered-port"), 0)
    with open(path, "wb") as file, CaptureWriter(file, SNAPLEN) as out:
        for probe in range(probes):
            now += rng.randint(*GAP_US)
            while pending and pending[0][0] <= now:
                when, _order, frame, wire = heapq.heappop(pending)
                out.write(when, frame, wire)
            host = hosts[probe // len(PORTS) % HOSTS]
            ipv6 = host % IPV6_EVERY == IPV6_EVERY - 1
            scanner = SCANNER6 if ipv6 else SCANNER4
            target = _target(host, ipv6)
            port = PORTS[probe % len(PORTS)]
            sport = FIRST_SOURCE_PORT + probe // (HOSTS * len(PORTS))
            isn = rng.getrandbits(32)
            frame, wire = tcp_frame(scanner, target, sport, port, isn, 0, SYN)
            out.write(now, frame, wire)
            answered = now + rng.randint(*ROUND_TRIP_US)
            if port in OPEN_PORTS:
                counts["open-port"] += 1
                frame, wire = tcp_frame(
                    target, scanner, port, sport, rng.getrandbits(32), (isn + 1) % MOD, SYN | ACK
                )
                heapq.heappush(pending, (answered, order, frame, wire))
                frame, wire = tcp_frame(scanner, target, sport, port, (isn + 1) % MOD, 0, RST)
                heapq.heappush(pending, (answered + SCANNER_RST_US, order + 1, frame, wire))
            elif port in CLOSED_PORTS:
                counts["closed-port"] += 1
                frame, wire = tcp_frame(target, scanner, port, sport, 0, (isn + 1) % MOD, RST | ACK)
                heapq.heappush(pending, (answered, order, frame, wire))
            else:
                counts["filtered-port"] += 1
            order += 2
        while pending:
            when, _order, frame, wire = heapq.heappop(pending)
            out.write(when, frame, wire)
    with open(path.with_name(path.name + ".truth.jsonl"), "w") as truth:
        for kind in KINDS:
            truth.write(json.dumps({**kind, "count": counts[str(kind["kind"])]}) + "\n")
    return out.packets
