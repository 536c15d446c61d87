"""The tracker's key of a connection: its 4-tuple, the same for both directions.

Held for every open connection, and a flood or a scan holds hundreds of thousands: its two
ports are shared number objects, one for each port number (made once, 2 MB), not two made
for each key (64 bytes a connection: a port above 256 is a new object each time one is
made from a packet's field).
"""

from __future__ import annotations

from typing import Final

from analyzer.decode.segment import Segment

# (lower address, its port, higher address, its port); the ports as objects, not machine
# integers: compiled (mypyc), a key's int would be made a new object each time the key is.
FlowKey = tuple[str, object, str, object]

_PORTS: Final[list[object]] = list(range(1 << 16))


def port_object(port: int) -> object:
    """The shared object for `port` (any other number, as such: a test's)."""
    if 0 <= port < 1 << 16:
        return _PORTS[port]
    return port


def flow_key(segment: Segment) -> FlowKey:
    """The lower endpoint first (address, then port)."""
    src, dst = segment.src, segment.dst
    if src < dst or (src == dst and segment.sport <= segment.dport):
        return (src, port_object(segment.sport), dst, port_object(segment.dport))
    return (dst, port_object(segment.dport), src, port_object(segment.sport))
