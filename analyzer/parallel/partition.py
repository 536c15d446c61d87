"""Which connections a share keeps: the rule every process reading one file applies alike.

It needs the two ports and a sum of the two addresses, read where they lie, so the decoder
applies it to a TCP header before anything else is made of the segment (decode.ip_tcp), and
it imports nothing of the analyzer.
"""

from __future__ import annotations

from typing import Final


class Share:
    """Share `index` of `count` of a file's connections: those whose sum of ports and
    addresses, spread, leaves this remainder. The sum is the same both ways and on every segment of
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
        return spread(sport + dport + addresses) % self.count == self.index


# A multiplicative hash (Knuth's: 2**16 divided by the golden ratio): the high bits of the
# product depend on every bit of the sum. The sum's remainder alone split by its low bits:
# Linux connects from even ports (bind() takes the odd ones), so one client's connections to
# one server had sums of one parity, and all of them went to one of two shares (helper-108:
# 50,000 connections, the other share idle, no faster than one process). Both operands stay
# below 2**30: compiled, a product past that is CPython's long arithmetic, which a signal
# interrupts and mypyc takes for running out of memory (docs/mypyc.md).
_GOLDEN: Final = 40503


def spread(total: int) -> int:
    """16 well-mixed bits of `total` (not negative)."""
    folded = (total ^ (total >> 29)) & 0x1FFFFFFF
    return (folded * _GOLDEN >> 13) & 0xFFFF
