"""Copies of held packets, delivered late: how the sandbox makes two segments cross in flight.

On loopback a segment reaches its receiver inside the sender's system call, so two
FINs can only cross if something holds them. The firewall drops them on input (the
senders' kernels believe them sent); meanwhile a scapy sniffer on lo keeps a copy of
each. `deliver` sends those copies, unchanged but for the TCP checksum, through a raw
IP socket: the kernel routes them like its own packets, and the socket's mark lets
them past the rule that dropped the originals. tcpdump records them as what they are,
a second copy of each segment.
"""

from __future__ import annotations

import socket
import threading

from analyzer.scenarios.base import Held

# The firewall accepts packets with this mark before any drop rule ("HA").
DELIVERY_MARK = 0x4841
SNIFFER_START_TIMEOUT = 5.0


class HeldCopies:
    """Keeps a copy of every packet of a held class seen on lo from now until `deliver`."""

    def __init__(self, held: Held) -> None:
        # Imported here: scapy takes a second to import and only this scenario needs it.
        from scapy.layers.inet import TCP
        from scapy.sendrecv import AsyncSniffer

        ready = threading.Event()
        self._sniffer = AsyncSniffer(
            iface="lo",
            store=True,
            lfilter=lambda p: TCP in p and held.matches(int(p[TCP].flags), p[TCP].sport, p[TCP].dport),
            started_callback=ready.set,
        )
        self._sniffer.start()
        if not ready.wait(SNIFFER_START_TIMEOUT):
            self._sniffer.stop(join=False)
            raise RuntimeError("the packet sniffer on lo did not start")

    def deliver(self) -> int:
        """Send each kept packet once, in the order it was sent; returns how many."""
        from scapy.layers.inet import IP, TCP
        from scapy.layers.inet6 import IPv6

        kept = self._sniffer.stop()
        seen: set[bytes] = set()
        delivered = 0
        for packet in kept or ():
            layers = [packet.getlayer(kind) for kind in (IP, IPv6)]
            layer = next((found for found in layers if found is not None), None)
            if layer is None:
                continue
            copy = layer.copy()
            # Loopback leaves the TCP checksum to an offload that never happens; a copy
            # must carry a real one or the receiver discards it.
            del copy[TCP].chksum
            raw = bytes(copy)
            if raw in seen:
                continue  # lo shows each packet twice: leaving and arriving
            seen.add(raw)
            family = socket.AF_INET if isinstance(layer, IP) else socket.AF_INET6
            with socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW) as sender:
                sender.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, DELIVERY_MARK)
                sender.sendto(raw, (copy.dst, 0))
            delivered += 1
        return delivered

    def stop(self) -> None:
        if self._sniffer.running:
            self._sniffer.stop()
