"""IP addresses as text, read where they lie in a header: source and destination, one after
the other, as both IP headers (and the headers an ICMP error quotes) hold them."""

from __future__ import annotations

import socket
from typing import Final

from analyzer.decode.fields import u32
from analyzer.decode.headers import IPV4_ADDRESS, IPV6_ADDRESS

# Text forms of the addresses seen: a capture has few addresses and many packets, and a
# dictionary lookup costs a tenth of formatting the address again. IPv4 addresses are kept
# by their value as a number (no slice made for the key), IPv6 ones by their bytes.
_ADDRESS_TEXT: Final[dict[int | bytes, str]] = {}
# Forgotten all at once when full (a scan of many hosts): 16k are the addresses of
# thousands of connections at once, and cost about 1.5 MB (64k cost 6 MB a process).
_ADDRESS_TEXT_LIMIT: Final = 1 << 14


def address_text(data: bytes, at: int, family: int) -> str:
    """The address of `family` at `data[at:]` as text."""
    key: int | bytes = u32(data, at) if family == 4 else data[at : at + IPV6_ADDRESS]
    text = _ADDRESS_TEXT.get(key)
    if text is None:
        if len(_ADDRESS_TEXT) >= _ADDRESS_TEXT_LIMIT:
            _ADDRESS_TEXT.clear()
        if family == 4:
            text = socket.inet_ntop(socket.AF_INET, data[at : at + IPV4_ADDRESS])
        else:
            text = socket.inet_ntop(socket.AF_INET6, data[at : at + IPV6_ADDRESS])
        _ADDRESS_TEXT[key] = text
    return text


# The latest IPv4 pair read, as numbers and as text: a flow's packets come in runs, one way
# and the other, and comparing two numbers costs less than two lookups in _ADDRESS_TEXT.
_LAST_PAIR: Final = [-1, -1]
_LAST_TEXTS: Final = ["", ""]


def address_pair(data: bytes, at: int, family: int) -> tuple[str, str]:
    """Source and destination of `family` (4 or 6), one after the other from `at`."""
    if family != 4:
        return address_text(data, at, family), address_text(data, at + IPV6_ADDRESS, family)
    src, dst = u32(data, at), u32(data, at + IPV4_ADDRESS)
    last, texts = _LAST_PAIR, _LAST_TEXTS
    if src == last[0] and dst == last[1]:
        return texts[0], texts[1]
    if src == last[1] and dst == last[0]:
        return texts[1], texts[0]
    pair = address_text(data, at, family), address_text(data, at + IPV4_ADDRESS, family)
    last[0], last[1] = src, dst
    texts[0], texts[1] = pair
    return pair


def address_sum(data: bytes, at: int, family: int) -> int:
    """The sum of the 32-bit words of the source and destination addresses of `family`
    from `at`: the same both ways (the partition's, parallel.partition)."""
    words = (IPV4_ADDRESS if family == 4 else IPV6_ADDRESS) * 2 // 4
    total = 0
    for word in range(words):
        total += u32(data, at + 4 * word)
    return total
