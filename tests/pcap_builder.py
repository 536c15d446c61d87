"""Captures made with scapy for tests: any link type, pcap or pcapng, cut anywhere."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1Q, Ether, Loopback
from scapy.utils import PcapNgWriter, PcapWriter


def tcp_packet(family: int, src: str, sport: int, dst: str, dport: int, flags: str, seq: int, ack: int = 0,
               payload: bytes = b"", options: list | None = None):  # fmt: skip
    ip = IP(src=src, dst=dst) if family == 4 else IPv6(src=src, dst=dst)
    return ip / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535,
                    options=options or []) / payload  # fmt: skip


def handshake_packets(family: int = 4) -> list:
    """A complete exchange: handshake, 5 bytes each way, four-way close from the client."""
    c, s = ("10.0.0.1", "10.0.0.2") if family == 4 else ("2001:db8::1", "2001:db8::2")
    opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
    return [
        tcp_packet(family, c, 40000, s, 80, "S", 1000, options=opts),
        tcp_packet(family, s, 80, c, 40000, "SA", 5000, 1001, options=[("MSS", 1400)]),
        tcp_packet(family, c, 40000, s, 80, "A", 1001, 5001),
        tcp_packet(family, c, 40000, s, 80, "PA", 1001, 5001, b"hello"),
        tcp_packet(family, s, 80, c, 40000, "A", 5001, 1006),
        tcp_packet(family, s, 80, c, 40000, "PA", 5001, 1006, b"world"),
        tcp_packet(family, c, 40000, s, 80, "FA", 1006, 5006),
        tcp_packet(family, s, 80, c, 40000, "A", 5006, 1007),
        tcp_packet(family, s, 80, c, 40000, "FA", 5006, 1007),
        tcp_packet(family, c, 40000, s, 80, "A", 1007, 5007),
    ]


FRAMINGS = {
    "ethernet": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p,
    "vlan": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=7) / p,
    "qinq": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88A8)
        / Dot1Q(vlan=7)
        / Dot1Q(vlan=8)
        / p
    ),
    "sll": lambda p: CookedLinux(pkttype=0, lladdrtype=772, lladdrlen=6) / p,
    "sll2": lambda p: CookedLinuxV2(pkttype=0, lladdrtype=772, lladdrlen=6) / p,
    "null": lambda p: Loopback(type=2 if p.version == 4 else 30) / p,
    "raw": lambda p: p,
}

LINKTYPES = {"ethernet": 1, "vlan": 1, "qinq": 1, "sll": 113, "sll2": 276, "null": 0, "raw": 101}


def write_capture(path: Path, packets: list, framing: str = "ethernet", pcapng: bool = False,
                  nano: bool = False, start: float = 1_700_000_000.0, step: float = 0.001,
                  snaplen: int | None = None, times: list[float] | None = None) -> Path:  # fmt: skip
    """`snaplen`: each frame kept only that far, as tcpdump -s does (pcap only); `times`: each
    frame's offset from `start`, in place of `step` apart."""
    framed = []
    for index, packet in enumerate(packets):
        frame = FRAMINGS[framing](packet)
        frame.time = start + (times[index] if times is not None else index * step)
        framed.append(frame)
    if pcapng:
        # scapy's pcapng writer takes each interface's link type from the packets.
        writer = PcapNgWriter(str(path))
    else:
        writer = PcapWriter(str(path), linktype=LINKTYPES[framing], nano=nano, snaplen=snaplen or 65535)
        if snaplen is not None:
            writer._write_header(framed[0])  # write_packet, unlike write, does not
    for frame in framed:
        if snaplen is None:
            writer.write(frame)
        else:
            whole = bytes(frame)
            seconds = int(frame.time)
            writer.write_packet(whole[:snaplen], sec=seconds, usec=round((float(frame.time) - seconds) * 1e6),
                                caplen=min(snaplen, len(whole)), wirelen=len(whole))  # fmt: skip
    writer.close()
    return path
