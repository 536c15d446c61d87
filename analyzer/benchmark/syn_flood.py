"""A SYN flood: a million half-open attempts from as many addresses, and a few real clients.

About 50,000 SYNs a second reach one server (192.0.2.10 and 2001:db8::1, port 443), each
from an address of its own: 10.0.0.0/8 walked upwards, and every eighth from
2001:db8:bad::/48. The server answers each with one SYN/ACK 50-500 µs later (as a
listener with SYN cookies does); nothing else comes back. Among them, one attempt in a
thousand is a real client (192.168.0.0/16, 2001:db8:1::/48) that completes its handshake,
asks, is answered and closes, as in synthetic.py. Streamed and deterministic (a seed):
only the SYN/ACKs not yet due and the real clients' segments are held.

The truth (truth.py's format): a line per real client, and one line for all the attempts:
their count and what each must show, a handshake that is "incomplete" (the SYN was
answered, the client never acknowledged it) and nothing more.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Final

from analyzer.benchmark.frames import SNAPLEN, tcp_frame
from analyzer.benchmark.pcap_file import CaptureWriter
from analyzer.benchmark.synthetic import Endpoints, frame_between, script
from analyzer.decode.segment import ACK, MOD, SYN

VERSION: Final = 1  # in the cached files' names: a change to what the generator writes needs a new one
SERVER4: Final = b"\xc0\x00\x02\x0a"
SERVER6: Final = b"\x20\x01\x0d\xb8" + bytes(10) + b"\x00\x01"
SERVER_PORT: Final = 443
FLOOD4: Final = 10 << 24  # 10.0.0.0/8, walked from 10.0.0.1
FLOOD6: Final = b"\x20\x01\x0d\xb8\x0b\xad"  # 2001:db8:bad::/48
LEGIT6: Final = b"\x20\x01\x0d\xb8\x00\x01"  # 2001:db8:1::/48
IPV6_EVERY: Final = 8
LEGIT_EVERY: Final = 1000
START_US: Final = 1_700_000_000_000_000
GAP_US: Final = (10, 30)  # between SYNs: 50,000 a second on average
SYNACK_DELAY_US: Final = (50, 500)
HALF_OPEN: Final[dict[str, object]] = {
    "kind": "half-open",
    "handshake": "incomplete",
    "close": "none",
    "time_wait": None,
    "resets": [],
    "syn_retransmissions": 0,
    "retransmissions": 0,
    "reuses_ports": False,
    "packets": 2,
    "server_state": "SYN_RCVD",
}


def _flood_source(attempt: int) -> bytes:
    """The attempt's own address: every eighth IPv6, the rest IPv4, none used twice."""
    if attempt % IPV6_EVERY == IPV6_EVERY - 1:
        return FLOOD6 + (attempt // IPV6_EVERY).to_bytes(10, "big")
    return (FLOOD4 + 1 + attempt - attempt // IPV6_EVERY).to_bytes(4, "big")


def _legit_endpoints(rng: random.Random, number: int) -> Endpoints:
    port = 1024 + rng.randrange(64000)
    if number % 4 == 3:
        return Endpoints(6, LEGIT6 + rng.getrandbits(80).to_bytes(10, "big"), SERVER6, port, SERVER_PORT)
    return Endpoints(4, bytes((192, 168, number >> 8 & 255, number & 255)), SERVER4, port, SERVER_PORT)


def write_capture(path: Path, attempts: int, seed: int = 1) -> int:
    """Write the capture of `attempts` half-open attempts (and a real client every
    LEGIT_EVERY) and `<path>.truth.jsonl`; returns the number of frames."""
    rng = random.Random(seed)
    pending: list[tuple[int, int, bytes, int]] = []  # heap of (time, order, frame, wire)
    order = 0
    now = START_US
    legit = 0
    with (
        open(path, "wb") as file,
        open(path.with_name(path.name + ".truth.jsonl"), "w") as truth,
        CaptureWriter(file, SNAPLEN) as out,
    ):
        for attempt in range(attempts):
            now += rng.randint(*GAP_US)
            while pending and pending[0][0] <= now:
                when, _order, frame, wire = heapq.heappop(pending)
                out.write(when, frame, wire)
            source = _flood_source(attempt)
            server = SERVER4 if len(source) == 4 else SERVER6
            port, isn, server_isn = 1024 + rng.randrange(64512), rng.getrandbits(32), rng.getrandbits(32)
            frame, wire = tcp_frame(source, server, port, SERVER_PORT, isn, 0, SYN)
            out.write(now, frame, wire)
            frame, wire = tcp_frame(server, source, SERVER_PORT, port, server_isn, (isn + 1) % MOD, SYN | ACK)
            heapq.heappush(pending, (now + rng.randint(*SYNACK_DELAY_US), order, frame, wire))
            order += 1
            if attempt % LEGIT_EVERY == LEGIT_EVERY // 2:
                # 5 µs after an attempt, at least 5 before the next: no start shared with one.
                start = (now + 5) / 1_000_000
                conversation, expected = script("four-way", rng, start)
                endpoints = _legit_endpoints(rng, legit)
                for time, from_client, flags, seq, ack, length in conversation.segments:
                    frame, wire = frame_between(endpoints, from_client, flags, seq, ack, length)
                    heapq.heappush(pending, (round(time * 1_000_000), order, frame, wire))
                    order += 1
                line = {"connection": legit, "kind": "legit", "family": endpoints.family,
                        "client_port": endpoints.client_port, "server_port": SERVER_PORT,
                        "start": start, **asdict(expected)}  # fmt: skip
                truth.write(json.dumps(line) + "\n")
                legit += 1
        while pending:
            when, _order, frame, wire = heapq.heappop(pending)
            out.write(when, frame, wire)
        truth.write(json.dumps({**HALF_OPEN, "count": attempts}) + "\n")
    return out.packets
