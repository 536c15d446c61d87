"""The tracker's key of a connection: its 4-tuple, the same for both directions; and the
same 4-tuple as one text, the key of an attempt held packed.

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
    if sent_from_low(segment):
        return (segment.src, port_object(segment.sport), segment.dst, port_object(segment.dport))
    return (segment.dst, port_object(segment.dport), segment.src, port_object(segment.sport))


def attempt_key(segment: Segment) -> str:
    """The 4-tuple as one text, ordered as flow_key orders it: "low lport high hport". A
    flood holds hundreds of thousands of attempts: this is one object of about 80 bytes
    (an IPv4 4-tuple), where flow_key's tuple and the text of its address that is the
    attempt's own (a flood's spoofed source) take 150."""
    if sent_from_low(segment):
        return f"{segment.src} {segment.sport} {segment.dst} {segment.dport}"
    return f"{segment.dst} {segment.dport} {segment.src} {segment.sport}"


def flow_key_of(text: str) -> FlowKey:
    """flow_key of the segments whose attempt_key is `text`."""
    low, low_port, high, high_port = text.split(" ")
    return (low, port_object(int(low_port)), high, port_object(int(high_port)))


def sent_from_low(segment: Segment) -> bool:
    """Whether `segment` comes from the end flow_key puts first."""
    src, dst = segment.src, segment.dst
    return src < dst or (src == dst and segment.sport <= segment.dport)
