"""Which connections a share keeps: the rule every process reading one file applies alike.

It needs the two ports and a sum of the two addresses, read where they lie, so the decoder
applies it to a TCP header before anything else is made of the segment (decode.ip_tcp), and
it imports nothing.
"""

from __future__ import annotations


class Share:
    """Share `index` of `count` of a file's connections: those whose sum of ports and
    addresses leaves this remainder. The sum is the same both ways and on every segment of
    a connection, and of every connection that later reuses its 4-tuple, so a connection's
    segments, and port reuse, never span two shares. The addresses count too: a scanner
    keeps one source port and probes a few ports of many hosts, and by the ports alone the
    shares got the probes of the ports of one parity each (a third more in one than in
    the other, measured on a port scan of 16 ports)."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count

    def keeps(self, sport: int, dport: int, addresses: int) -> bool:
        """`addresses`: decode.addresses.address_sum of the segment's two addresses."""
        return (sport + dport + addresses) % self.count == self.index
