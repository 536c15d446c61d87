"""Which connections a share keeps: the rule every process reading one file applies alike.

It needs nothing but the two ports, so the decoder applies it to a TCP header before
anything else is made of the segment (decode.ip_tcp), and it imports nothing.
"""

from __future__ import annotations


class Share:
    """Share `index` of `count` of a file's connections: those whose port sum leaves this
    remainder. The sum is the same both ways and on every segment of a connection, and of
    every connection that later reuses its ports, so a connection's segments, and port
    reuse, never span two shares."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count

    def keeps(self, sport: int, dport: int) -> bool:
        return (sport + dport) % self.count == self.index
