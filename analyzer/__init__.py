"""handshake-analyzer: TCP connection life cycles made visible and checkable.

Layers, each knowing only the one below: decode (pcap -> segments), connections,
tcp_state (the RFC 9293 machine), findings, output; capture and scenarios sit at
the edge and are the only parts that need root.
"""

__version__ = "0.1.0"

# Before any other module: the compiled per-packet path, or its sources (see native.py).
from analyzer import native

native_state = native.choose()  # 'compiled', or why the sources run
