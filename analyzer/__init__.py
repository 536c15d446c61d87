"""handshake-analyzer: TCP connection life cycles made visible and checkable.

Layers, each knowing only those below it: decode (pcap -> segments), connections,
tcp_state and loss_inference (the RFC 9293 machine), findings, analysis (every finding
of a connection), output (renders an analysis, computes none). parallel runs the analysis
in several processes; two of its modules are read from below: partition (which
connections a process keeps, so the decoder skips the others) and placement (where a
share's lines go, which the JSON writer records as it encodes them). capture and
scenarios sit at the edge and are the only parts that need root.
"""

__version__ = "0.1.0"

# Before any other module: the compiled per-packet path, or its sources (see native.py).
from analyzer import native

native_state = native.choose()  # 'compiled', or why the sources run
