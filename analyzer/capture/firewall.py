"""nftables rules inside the namespace: packets dropped on input are seen but never received.

A rule on the input hook runs after the packet tap, so tcpdump on lo still records
each dropped packet; the whole table dies with the namespace. A rule on the output hook
runs before the tap: what it drops never reaches the wire, as when a peer falls silent. Scenarios hold and
release classes of packets mid-exchange (`drop` / `release`), and may keep copies of
what was held to deliver them late (`deliver`, e.g. both FINs of a simultaneous close).
"""

from __future__ import annotations

import re
import subprocess

from analyzer.capture.late_delivery import DELIVERY_MARK, HeldCopies
from analyzer.scenarios.base import Held

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
        self._copies: dict[int, HeldCopies] = {}
        self._chains: dict[int, str] = {}  # the chain each rule is in, by handle

    def _table(self) -> None:
        if not self._ready:
            _nft(
                "-f",
                "-",
                ruleset=(
                    f"table inet {TABLE} {{\n"
                    "  chain input {\n"
                    "    type filter hook input priority 0; policy accept;\n"
                    f"    meta mark {DELIVERY_MARK:#x} accept\n"
                    "  }\n"
                    "  chain output {\n"
                    "    type filter hook output priority 0; policy accept;\n"
                    "  }\n"
                    "}\n"
                ),
            )
            self._ready = True

    def drop(self, held: Held, keep_copies: bool = False, before_capture: bool = False) -> int:
        """Drop packets of the held class on input (recorded, never received), or with
        before_capture on output (never sent: not in the capture either); returns the
        rule's handle."""
        self._table()
        chain = "output" if before_capture else "input"
        rule = f"{held.nft} drop"
        output = _nft("--echo", "--handle", "add", "rule", "inet", TABLE, chain, *rule.split())
        found = _HANDLE.search(output)
        if found is None:
            raise RuntimeError(f"nft did not report a handle for '{rule}': {output!r}")
        self.rules.append(rule if chain == "input" else f"output: {rule}")
        handle = int(found.group(1))
        self._chains[handle] = chain
        if keep_copies:
            self._copies[handle] = HeldCopies(held)
        return handle

    def lose_every(self, dport: int, every: int, larger_than: int) -> str:
        """Drop every `every`-th TCP packet to `dport` longer than `larger_than` bytes (data,
        not ACKs) on input: loss after the capture point, the same packets each run (a
        counter, not chance). Returns the rule."""
        self._table()
        rule = f"tcp dport {dport} meta length > {larger_than} numgen inc mod {every} == {every - 1} drop"
        _nft("add", "rule", "inet", TABLE, "input", *rule.split())
        self.rules.append(rule)
        return rule

    def lose(self, dport: int, per_thousand: int) -> None:
        """Drop a random `per_thousand` of the TCP segments to `dport` on input: loss after
        the capture point, which the senders recover from (the benchmark's real traffic)."""
        self._table()
        rule = f"tcp dport {dport} numgen random mod 1000 lt {per_thousand} drop"
        _nft("add", "rule", "inet", TABLE, "input", *rule.split())
        self.rules.append(rule)

    def deliver(self, handle: int) -> int:
        """Deliver the copies kept under this rule (which stays); returns how many."""
        return self._copies.pop(handle).deliver()

    def release(self, handle: int) -> None:
        copies = self._copies.pop(handle, None)
        if copies is not None:
            copies.stop()
        _nft("delete", "rule", "inet", TABLE, self._chains.pop(handle, "input"), "handle", str(handle))

    def close(self) -> None:
        """Stop what still keeps copies (the rules themselves die with the namespace)."""
        for copies in self._copies.values():
            copies.stop()
        self._copies.clear()
