"""Synthetic captures for the benchmark: many concurrent connections whose life cycles are known.

Deterministic (a seed), streamed (connections are scripted one at a time and their
packets merged through a heap, so memory follows the connections in flight, never the
file), classic pcap or pcapng, IPv4 and IPv6 mixed on one Ethernet link. The capture
point is the server's side: a client's segment is stamped when it arrives, the server's
when it leaves. Frames are cut at a snap length as `tcpdump -s` cuts them; the IP
length fields still count every byte.

Every connection is of one KIND, and the generator writes beside the capture what the
analysis of each must say (`<file>.truth.jsonl`): the benchmark's files double as a
correctness check of the analyzer at scale.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from analyzer.benchmark.frames import MSS, SNAPLEN, tcp_frame
from analyzer.benchmark.pcap_file import CaptureWriter
from analyzer.decode.segment import ACK, FIN, PSH, RST, SYN

VERSION = 1  # in the cached files' names: a change to what the generator writes needs a new one

# kind -> weight: the mix of a busy server's day.
KINDS = {
    "four-way": 34,
    "three-segment": 12,
    "server-close": 10,
    "refused": 8,
    "syn-retransmitted": 6,
    "syn-timeout": 4,
    "abort": 6,
    "simultaneous": 4,
    "half-close": 5,
    "data-retransmission": 8,
    "port-reuse": 3,
}


@dataclass(frozen=True)
class Expected:
    """What the analysis of one connection must say."""

    handshake: str  # complete | refused | no_answer
    close: str  # close shape
    time_wait: str | None
    resets: tuple[tuple[str, str], ...] = ()  # (sender, cause)
    syn_retransmissions: int = 0
    retransmissions: int = 0  # Wireshark's "retransmission" count
    reuses_ports: bool = False


class Conversation:
    """Scripts one connection's segments as (time, from_client, flags, seq, ack, length)."""

    def __init__(self, rng: random.Random, start: float) -> None:
        self.rng = rng
        self.time = start
        self.rtt = round(rng.uniform(0.0005, 0.040), 6)
        self.client_seq = rng.getrandbits(32)
        self.server_seq = rng.getrandbits(32)
        self.segments: list[tuple[float, bool, int, int, int, int]] = []

    def send(
        self, from_client: bool, flags: int, length: int = 0, after: float = 0.0, unseen: int = 0
    ) -> None:
        """A segment from one side; time advances by `after` first. Sequence numbers follow;
        `unseen`: how many of the peer's latest sequence numbers it has not received yet."""
        self.time = round(self.time + after, 6)  # the capture's microsecond clock
        seq, ack = (self.client_seq, self.server_seq) if from_client else (self.server_seq, self.client_seq)
        ack = (ack - unseen) % 2**32
        self.segments.append((self.time, from_client, flags, seq, ack if flags & ACK else 0, length))
        used = length + (1 if flags & (SYN | FIN) else 0)
        if from_client:
            self.client_seq = (self.client_seq + used) % 2**32
        else:
            self.server_seq = (self.server_seq + used) % 2**32

    def resend(self, index: int, after: float) -> None:
        """The segment at `index` again, unchanged (a retransmission timer fired)."""
        self.time = round(self.time + after, 6)
        _t, from_client, flags, seq, ack, length = self.segments[index]
        self.segments.append((self.time, from_client, flags, seq, ack, length))

    def handshake(self) -> None:
        self.send(True, SYN)
        self.send(False, SYN | ACK, after=0.00002)
        self.send(True, ACK, after=self.rtt)

    def exchanges(self, count: int) -> None:
        """Requests and responses, each response segment acknowledged (every second one)."""
        for _ in range(count):
            self.send(True, PSH | ACK, self.rng.randint(80, 700), after=self.rng.uniform(0.001, 0.2))
            pieces = self.rng.randint(1, 6)
            for piece in range(pieces):
                last = piece == pieces - 1
                self.send(False, (PSH | ACK) if last else ACK, self.rng.randint(200, MSS) if last else MSS,
                          after=0.0002 if piece == 0 else 0.00005)  # fmt: skip
                if piece % 2 or last:
                    self.send(True, ACK, after=self.rtt)

    def four_way(self, client_first: bool = True) -> None:
        self.send(client_first, FIN | ACK, after=self.rng.uniform(0.001, 0.1))
        self.send(not client_first, ACK, after=self.rtt if client_first else 0.00003)
        self.send(not client_first, FIN | ACK, after=self.rng.uniform(0.0001, 0.05))
        self.send(client_first, ACK, after=self.rtt if not client_first else 0.00003)


def script(kind: str, rng: random.Random, start: float) -> tuple[Conversation, Expected]:
    c = Conversation(rng, start)
    exchanges = rng.randint(1, 4)
    if kind == "refused":
        c.send(True, SYN)
        c.send(False, RST | ACK, after=0.00002)
        return c, Expected("refused", "none", None, (("server", "refused"),))
    if kind == "syn-timeout":
        c.send(True, SYN)
        for interval in (1.0, 2.0, 4.0):
            c.resend(0, interval)
        return c, Expected("no_answer", "none", None, syn_retransmissions=3, retransmissions=3)
    if kind == "syn-retransmitted":
        c.send(True, SYN)
        c.resend(0, 1.0)
        c.resend(0, 2.0)
        c.send(False, SYN | ACK, after=0.00002)
        c.send(True, ACK, after=c.rtt)
        c.exchanges(exchanges)
        c.four_way()
        return c, Expected("complete", "four-way", "client", syn_retransmissions=2, retransmissions=2)
    c.handshake()
    c.exchanges(exchanges)
    if kind in ("four-way", "port-reuse"):
        c.four_way()
        return c, Expected("complete", "four-way", "client")
    if kind == "server-close":
        c.four_way(client_first=False)
        return c, Expected("complete", "four-way", "server")
    if kind == "three-segment":
        c.send(True, FIN | ACK, after=0.01)
        c.send(False, FIN | ACK, after=c.rtt)
        c.send(True, ACK, after=c.rtt)
        return c, Expected("complete", "three-segment", "client")
    if kind == "abort":
        c.send(True, RST | ACK, after=0.01)
        return c, Expected("complete", "reset", None, (("client", "abort"),))
    if kind == "simultaneous":
        # Both FINs leave before either arrives: the server's first, the client's lands
        # after it, neither acknowledging the other's.
        c.send(False, FIN | ACK, after=0.01)
        c.send(True, FIN | ACK, after=0.0001, unseen=1)
        c.send(False, ACK, after=0.00003)
        c.send(True, ACK, after=c.rtt)
        return c, Expected("complete", "simultaneous", "both")
    if kind == "half-close":
        c.send(True, FIN | ACK, after=0.01)
        c.send(False, ACK, after=0.00003)
        c.send(False, PSH | ACK, rng.randint(100, MSS), after=0.005)
        c.send(True, ACK, after=c.rtt)
        c.send(False, FIN | ACK, after=0.001)
        c.send(True, ACK, after=c.rtt)
        return c, Expected("complete", "half-close", "client")
    if kind == "data-retransmission":
        c.send(False, PSH | ACK, rng.randint(200, MSS), after=0.01)
        c.resend(len(c.segments) - 1, 0.2 + 2 * c.rtt)  # its ACK never came: RTO
        c.send(True, ACK, after=c.rtt)
        c.four_way()
        return c, Expected("complete", "four-way", "client", retransmissions=1)
    raise ValueError(f"unknown kind {kind}")


@dataclass
class Endpoints:
    family: int
    client: bytes
    server: bytes
    client_port: int
    server_port: int


def frame_between(
    e: Endpoints, from_client: bool, flags: int, seq: int, ack: int, length: int
) -> tuple[bytes, int]:
    """The frame's captured bytes (cut at SNAPLEN) and its length on the wire."""
    if from_client:
        return tcp_frame(e.client, e.server, e.client_port, e.server_port, seq, ack, flags, length)
    return tcp_frame(e.server, e.client, e.server_port, e.client_port, seq, ack, flags, length)


def _endpoints(rng: random.Random, number: int) -> Endpoints:
    server_port = rng.choice((80, 443, 8080))
    client_port = 1024 + (number * 7919) % 64000  # distinct among the connections in flight
    if rng.random() < 0.3:
        server = b"\x20\x01\x0d\xb8" + bytes(10) + b"\x00\x01"
        client = b"\x20\x01\x0d\xb8\x00\x01" + rng.getrandbits(80).to_bytes(10, "big")
        return Endpoints(6, client, server, client_port, server_port)
    client = bytes((10, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))
    return Endpoints(4, client, b"\xc0\x00\x02\x0a", client_port, server_port)


def generate(packets: int, seed: int = 1) -> Iterator[tuple[float, bytes, int, dict | None]]:
    """(time, captured bytes, wire length, truth of a connection that starts here or None),
    in time order, until at least `packets` frames."""
    rng = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    pending: list[tuple[float, int, int, bytes, int]] = []  # heap of (time, connection, n, frame, wire)
    written = 0
    number = 0
    start = 1_700_000_000.0
    reuse_later: list[tuple[float, int, Endpoints]] = []  # (when, first connection, endpoints)
    while written < packets:
        start = round(start + rng.expovariate(1000.0), 6)  # ~1000 new connections a second
        if reuse_later and reuse_later[0][0] <= start:
            _when, earlier, endpoints = heapq.heappop(reuse_later)
            kind, reused_from = "four-way", earlier
        else:
            kind, reused_from = rng.choices(kinds, weights)[0], None
            endpoints = _endpoints(rng, number)
        conversation, expected = script(kind, rng, start)
        if reused_from is not None:
            expected = replace(expected, reuses_ports=True)
        if kind == "port-reuse":
            # The same 4-tuple opens again 1 to 2 s after this connection closed (tcp_tw_reuse).
            heapq.heappush(reuse_later, (conversation.time + rng.uniform(1, 2), number, endpoints))
        while pending and pending[0][0] <= start:
            time, _n, _i, frame, wire = heapq.heappop(pending)
            yield time, frame, wire, None
            written += 1
        truth = {
            "connection": number,
            "kind": kind if reused_from is None else "port-reused",
            "family": endpoints.family,
            "client_port": endpoints.client_port,
            "server_port": endpoints.server_port,
            "start": start,
            **asdict(expected),
        }
        for index, (time, from_client, flags, seq, ack, length) in enumerate(conversation.segments):
            frame, wire = frame_between(endpoints, from_client, flags, seq, ack, length)
            heapq.heappush(pending, (time, number, index, frame, wire))
        yield (start, b"", 0, truth)
        number += 1
    while pending:
        time, _n, _i, frame, wire = heapq.heappop(pending)
        yield time, frame, wire, None


def write_capture(path: Path, packets: int, fmt: str = "pcap", seed: int = 1) -> int:
    """Write the capture and `<path>.truth.jsonl`; returns the number of frames written
    (a few more than asked: the connections begun are finished)."""
    truth_path = path.with_name(path.name + ".truth.jsonl")
    with open(path, "wb") as file, open(truth_path, "w") as truth, CaptureWriter(file, SNAPLEN, fmt) as out:
        for time, frame, wire, connection in generate(packets, seed):
            if connection is not None:
                truth.write(json.dumps(connection) + "\n")
            else:
                out.write(round(time * 1_000_000), frame, wire)
    return out.packets
