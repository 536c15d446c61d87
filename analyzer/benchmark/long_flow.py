"""One long TCP connection: a download of millions of segments, with a little loss.

The client opens, asks, and the server sends MSS segments back to back at about 1 Gbit/s
(one every GAP_US); the client acknowledges every second segment. Now and then a data
segment is lost after the capture point (the capture is at the server, as in
synthetic.py: the server's segments are stamped when they leave, the client's when they
arrive): every segment after it draws an immediate duplicate ACK, the server resends it
on the third (a fast retransmission), and the client's next ACK covers all it holds. The
client closes, four-way. Memory stays constant: segments go out as they are made, and
only the client's ACKs still in flight (about one round trip's worth) are held.

The truth, written beside the capture in synthetic.py's format (truth.py checks it), is
one connection with its counts of retransmissions and duplicate ACKs, counted here by
the rule the analyzer states (findings/retransmissions.py): a duplicate ACK has no data,
no SYN/FIN/RST and the same ACK and window as its sender's previous segment.
"""

from __future__ import annotations

import json
import random
from collections import deque
from pathlib import Path
from typing import Final

from analyzer.benchmark.frames import MSS, SNAPLEN, tcp_frame
from analyzer.benchmark.pcap_file import CaptureWriter
from analyzer.decode.segment import ACK, FIN, MOD, PSH, SYN

VERSION: Final = 1  # in the cached files' names: a change to what the generator writes needs a new one
CLIENT: Final = b"\x0a\x01\x02\x03"
SERVER: Final = b"\xc0\x00\x02\x0a"
CLIENT_PORT: Final = 51515
SERVER_PORT: Final = 443
START_US: Final = 1_700_000_000_000_000
GAP_US: Final = 12  # between the server's segments: 1448 bytes each, ~965 Mbit/s
RTT_US: Final = 1000
SERVER_TURNAROUND_US: Final = 20  # from a segment's arrival to the server's answer
REQUEST_BYTES: Final = 120
LOSS: Final = 1 / 8000  # a data segment lost after the capture point
# No loss in the first segments, nor while one is being recovered: each loss is one clean
# fast retransmission, whose counts the truth can state exactly.
FIRST_LOSSABLE: Final = 100
DUPLICATES_BEFORE_RESEND: Final = 3


class _Flow:
    """The capture as it is written: the server's segments, and the client's ACKs due."""

    def __init__(self, out: CaptureWriter, rng: random.Random) -> None:
        self.out = out
        self.client_isn = rng.getrandbits(32)
        self.server_isn = rng.getrandbits(32)
        self.client_next = (self.client_isn + 1 + REQUEST_BYTES) % MOD  # after SYN and request
        self.data_base = (self.server_isn + 1) % MOD  # the first data byte's sequence number
        self.acks_due: deque[tuple[int, int]] = deque()  # (arrival time, ack number)
        self.last_client_ack = -1
        self.duplicate_acks = 0
        self.retransmissions = 0

    def client(self, micros: int, flags: int, seq: int, ack: int, length: int = 0) -> None:
        frame, wire = tcp_frame(CLIENT, SERVER, CLIENT_PORT, SERVER_PORT, seq, ack, flags, length)
        self.out.write(micros, frame, wire)

    def server(self, micros: int, flags: int, seq: int, ack: int, length: int = 0) -> None:
        frame, wire = tcp_frame(SERVER, CLIENT, SERVER_PORT, CLIENT_PORT, seq, ack, flags, length)
        self.out.write(micros, frame, wire)

    def data_seq(self, segment: int) -> int:
        """The sequence number of the server's data segment number `segment` (from 0)."""
        return (self.data_base + segment * MSS) % MOD

    def client_acks_until(self, micros: int) -> int:
        """Write the client's ACKs that arrive by `micros`; returns how many duplicated the
        ACK before them."""
        duplicates = 0
        while self.acks_due and self.acks_due[0][0] <= micros:
            arrival, ack = self.acks_due.popleft()
            if ack == self.last_client_ack:
                duplicates += 1
            self.last_client_ack = ack
            self.client(arrival, ACK, self.client_next, ack)
        self.duplicate_acks += duplicates
        return duplicates


def write_capture(path: Path | str, packets: int, seed: int = 1) -> int:
    """Write a capture of one connection of at least `packets` frames (the last ACKs and
    the close make a few more) and `<path>.truth.jsonl`; returns the number of frames."""
    path = Path(path)
    rng = random.Random(seed)
    with open(path, "wb") as file, CaptureWriter(file, SNAPLEN) as out:
        flow = _Flow(out, rng)
        c_isn, s_isn = flow.client_isn, flow.server_isn
        now = START_US
        flow.client(now, SYN, c_isn, 0)
        flow.server(now + SERVER_TURNAROUND_US, SYN | ACK, s_isn, (c_isn + 1) % MOD)
        now += SERVER_TURNAROUND_US + RTT_US
        flow.client(now, ACK, (c_isn + 1) % MOD, flow.data_base)
        now += 5
        flow.client(now, PSH | ACK, (c_isn + 1) % MOD, flow.data_base, REQUEST_BYTES)
        flow.last_client_ack = flow.data_base
        now += SERVER_TURNAROUND_US

        # The receiver: the next segment it expects, the in-order ones it has not acknowledged
        # yet, and while a segment is missing, the highest one it holds beyond it.
        expected = unacknowledged = holds_up_to = 0
        missing: int | None = None
        duplicates_seen = 0  # by the server, of the ACK that asks for the missing segment
        sent = 0  # new segments
        # Stop sending once the frames written and the ACKs on their way (and the close)
        # make the count, but never in the middle of a recovery.
        while out.packets + len(flow.acks_due) + 4 < packets or missing is not None:
            duplicates = flow.client_acks_until(now)
            if missing is not None:
                duplicates_seen += duplicates
            if missing is not None and duplicates_seen >= DUPLICATES_BEFORE_RESEND:
                flow.server(now, ACK, flow.data_seq(missing), flow.client_next, MSS)
                flow.retransmissions += 1
                # It arrives: the client acknowledges everything it holds, at once.
                expected = holds_up_to + 1
                flow.acks_due.append((now + RTT_US, flow.data_seq(expected)))
                missing, duplicates_seen, unacknowledged = None, 0, 0
            else:
                segment = sent
                sent += 1
                flow.server(now, ACK, flow.data_seq(segment), flow.client_next, MSS)
                if missing is None and segment >= FIRST_LOSSABLE and rng.random() < LOSS:
                    missing = segment
                elif missing is not None:
                    # Beyond the gap: an immediate ACK asking for the missing segment again.
                    holds_up_to = segment
                    flow.acks_due.append((now + RTT_US, flow.data_seq(expected)))
                else:
                    expected = segment + 1
                    unacknowledged += 1
                    if unacknowledged == 2:
                        flow.acks_due.append((now + RTT_US, flow.data_seq(expected)))
                        unacknowledged = 0
            now += GAP_US
        if unacknowledged:
            flow.acks_due.append((now - GAP_US + RTT_US, flow.data_seq(expected)))
        flow.client_acks_until(now + RTT_US)
        server_next = flow.data_seq(sent)
        client_fin = flow.client_next
        # The client closes first: FIN, the server's ACK, its FIN, the client's last ACK.
        now += 3 * RTT_US
        flow.client(now, FIN | ACK, client_fin, server_next)
        flow.server(now + SERVER_TURNAROUND_US, ACK, server_next, (client_fin + 1) % MOD)
        flow.server(now + 400, FIN | ACK, server_next, (client_fin + 1) % MOD)
        flow.client(now + 400 + RTT_US, ACK, (client_fin + 1) % MOD, (server_next + 1) % MOD)
    truth = {
        "connection": 0,
        "kind": "long-flow",
        "family": 4,
        "client_port": CLIENT_PORT,
        "server_port": SERVER_PORT,
        "start": START_US / 1_000_000,
        "handshake": "complete",
        "close": "four-way",
        "time_wait": "client",
        "resets": [],
        "syn_retransmissions": 0,
        "retransmissions": flow.retransmissions,
        "fast_retransmissions": flow.retransmissions,
        "duplicate_acks": flow.duplicate_acks,
        "reuses_ports": False,
        "packets": out.packets,
    }
    path.with_name(path.name + ".truth.jsonl").write_text(json.dumps(truth) + "\n")
    return out.packets
