"""What a frame that may carry TCP can hold that the fast decoder cannot read.

Raised by the link-layer and tunnel readers with a short name of what stopped them ("802.11
protected (encrypted) data", "GRE protocol 0x88cc"); the reader counts frames by that name
and says so in a warning, so nothing that could hold TCP is skipped silently. What cannot
hold TCP at all (ARP, spanning tree, ICMP) is not undecodable, just not TCP.
"""

from __future__ import annotations


class Undecodable(Exception):
    """A frame whose TCP, if it holds any, the fast decoder cannot reach; str() names why."""
