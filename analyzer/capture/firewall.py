"""nftables rules inside the namespace: drop SYNs on input so that they are seen but never answered.

A rule on the input hook runs after the packet tap, so tcpdump on lo still
records each dropped SYN; the whole table dies with the namespace.
"""

from __future__ import annotations

import subprocess

TABLE = "handshake_analyzer"


def drop_syns_to(port: int) -> str:
    """Install the rule; returns its text for the sidecar."""
    rule = f"tcp dport {port} tcp flags & (syn | ack) == syn drop"
    ruleset = (
        f"table inet {TABLE} {{\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        f"    {rule}\n"
        "  }\n"
        "}\n"
    )
    subprocess.run(["nft", "-f", "-"], input=ruleset, text=True, check=True, capture_output=True)
    return rule
