"""nftables rules inside the namespace: packets dropped on input are seen but never received.

A rule on the input hook runs after the packet tap, so tcpdump on lo still records
each dropped packet; the whole table dies with the namespace. Scenarios add rules
before they start (`drop_syns_to`) or hold and release packets mid-exchange
(`Firewall.drop` / `Firewall.release`, e.g. both FINs for a simultaneous close).
"""

from __future__ import annotations

import re
import subprocess

TABLE = "handshake_analyzer"
_HANDLE = re.compile(r"# handle (\d+)")


def _nft(*args: str, ruleset: str | None = None) -> str:
    result = subprocess.run(["nft", *args], input=ruleset, text=True, check=True, capture_output=True)
    return result.stdout


class Firewall:
    """The namespace's input filter; every rule added is listed in `rules` for the sidecar."""

    def __init__(self) -> None:
        self.rules: list[str] = []
        self._ready = False

    def _table(self) -> None:
        if not self._ready:
            _nft(
                "-f",
                "-",
                ruleset=(
                    f"table inet {TABLE} {{\n"
                    "  chain input {\n"
                    "    type filter hook input priority 0; policy accept;\n"
                    "  }\n"
                    "}\n"
                ),
            )
            self._ready = True

    def drop(self, match: str) -> int:
        """Drop packets matching `match` (nft syntax) on input; returns the rule's handle."""
        self._table()
        rule = f"{match} drop"
        output = _nft("--echo", "--handle", "add", "rule", "inet", TABLE, "input", *rule.split())
        found = _HANDLE.search(output)
        if found is None:
            raise RuntimeError(f"nft did not report a handle for '{rule}': {output!r}")
        self.rules.append(rule)
        return int(found.group(1))

    def release(self, handle: int) -> None:
        _nft("delete", "rule", "inet", TABLE, "input", "handle", str(handle))


def syn_drop_rule(port: int) -> str:
    return f"tcp dport {port} tcp flags & (syn | ack) == syn"
