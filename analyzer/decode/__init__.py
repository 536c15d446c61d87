"""pcap/pcapng -> a stream of small normalized TCP segment records.

`read_segments` is the one entry point: it streams (fixed-size reads, never the
whole file) and reports what it could not use in a `DecodeStats`.
"""

from analyzer.decode.reader import DecodeStats, read_packets, read_segments
from analyzer.decode.segment import (
    ACK,
    CWR,
    ECE,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Datagram,
    Segment,
    TcpOptions,
    Unreachable,
)

__all__ = [
    "ACK",
    "CWR",
    "ECE",
    "FIN",
    "PSH",
    "RST",
    "SYN",
    "URG",
    "Datagram",
    "DecodeStats",
    "Segment",
    "TcpOptions",
    "Unreachable",
    "read_packets",
    "read_segments",
]
