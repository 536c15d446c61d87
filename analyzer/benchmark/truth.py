"""The generators' truth against an analysis: every connection's life cycle, one by one.

A truth file (`<capture>.truth.jsonl`) holds a line per connection the generator wrote
(with "connection": its number), and may hold lines without it that speak for all the
connections not listed one by one: their kind, how many there are, and the facts each must
show (the syn-flood's million half-open attempts, whose lines would outweigh the check);
with "server_ports", for those to one of these ports (a port scan's open, closed and
filtered ports), else for all the others. Reports are read a connection at a time (`streamed_report`), so checking a
file of a million connections holds one of them at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAX_LISTED: Final = 100  # differences listed one by one; the rest are counted
_CONNECTIONS_OPEN: Final = ',"connections":['


def _key(family: int, client_port: int, server_port: int, start: float) -> tuple:
    # The capture's clock ticks in microseconds: the first segment's tick is the start.
    return family, client_port, server_port, round(start * 1_000_000)


def observed(connection: dict) -> dict:
    """The facts a truth may speak of, read from one connection of the JSON report; a truth
    is checked on those of them it names."""
    counts = connection["sequence"]["counts"]
    server_states = connection["states"]["server"]
    return {
        "handshake": connection["handshake"]["status"],
        "close": connection["close"]["shape"],
        "time_wait": connection["close"]["time_wait"],
        "resets": [[r["sender"], r["cause"]] for r in connection["resets"]],
        "syn_retransmissions": len(connection["backoff"]["intervals"]),
        "retransmissions": counts.get("retransmission", 0),
        "fast_retransmissions": counts.get("fast_retransmission", 0),
        "duplicate_acks": counts.get("duplicate_ack", 0),
        "reuses_ports": connection["reuses_ports_of"] is not None,
        "packets": connection["packets"],
        "server_state": server_states[-1][1] if server_states else None,  # the last one inferred
    }


def streamed_report(lines: Iterable[str]) -> tuple[dict, Iterator[dict]]:
    """The head of a `handshake analyze --json` document (file, packets, ...) and its
    connections, parsed one at a time: the report writes the head and `"connections":[`
    on its first line, then one connection a line (output/json_report.write_framed)."""
    rows = iter(lines)
    first = next(rows).rstrip("\n")
    if not first.endswith(_CONNECTIONS_OPEN):
        raise ValueError(f"not the first line of a JSON report: {first[:80]!r}")
    head = json.loads(first.removesuffix(_CONNECTIONS_OPEN) + "}")

    def connections() -> Iterator[dict]:
        for line in rows:
            if line.startswith("{"):
                yield json.loads(line.rstrip().removesuffix(","))

    return head, connections()


@dataclass
class Comparison:
    kinds: Counter  # connections checked, per kind
    differences: list[str]  # the first MAX_LISTED, then "... and N more"
    count: int  # of differences, all of them


def compare(report: dict, truth_path: Path) -> tuple[Counter, list[str]]:
    """(connections checked per kind, one line per difference) for a whole report."""
    comparison = compare_connections(report["connections"], truth_path)
    return comparison.kinds, comparison.differences


def compare_stream(stream: Iterable[str], truth_path: Path) -> Comparison:
    """compare() of a JSON report read from a stream, a connection at a time."""
    _head, connections = streamed_report(stream)
    return compare_connections(connections, truth_path)


def compare_connections(connections: Iterable[dict], truth_path: Path) -> Comparison:
    truths: dict[tuple, dict] = {}
    groups: list[dict] = []  # the lines that speak for many
    with truth_path.open() as lines:
        for line in lines:
            truth = json.loads(line)
            if "connection" in truth:
                truths[_key(truth["family"], truth["client_port"], truth["server_port"], truth["start"])] = (
                    truth
                )
            else:
                groups.append(truth)
    kinds: Counter = Counter()
    differences = _Differences()
    for connection in connections:
        key = _key(connection["family"], connection["client"]["port"], connection["server"]["port"],
                   connection["first_time"])  # fmt: skip
        truth = truths.pop(key, None)
        if truth is not None:
            expected, name = truth, f"connection {truth['connection']} ({truth['kind']}, #{connection['id']})"
        else:
            group = _group_of(groups, connection["server"]["port"])
            if group is None:
                differences.add(f"connection #{connection['id']} is not one the generator wrote")
                continue
            expected, name = group, f"connection #{connection['id']} ({group['kind']})"
        for field, value in observed(connection).items():
            if field in expected and value != expected[field]:
                differences.add(f"{name}: {field} {value!r}, expected {expected[field]!r}")
        kinds[expected["kind"]] += 1
    for truth in truths.values():
        differences.add(f"connection {truth['connection']} ({truth['kind']}) not found")
    listed = differences.listed()
    count = len(differences.lines) + differences.more
    for group in reversed(groups):
        if kinds[group["kind"]] != group["count"]:
            # First: with a million connections to check, the count says more than any one of them.
            listed.insert(0, f"{kinds[group['kind']]:,} connections of kind {group['kind']}, "
                             f"expected {group['count']:,}")  # fmt: skip
            count += 1
    return Comparison(kinds, listed, count)


def _group_of(groups: list[dict], server_port: int) -> dict | None:
    """The line that speaks for a connection to `server_port` not listed one by one: the
    one naming that port, else the one naming none, wherever it stands in the file."""
    for group in groups:
        if server_port in group.get("server_ports", ()):
            return group
    return next((group for group in groups if "server_ports" not in group), None)


class _Differences:
    """The first MAX_LISTED differences, and how many more there were."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.more = 0

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_LISTED:
            self.lines.append(line)
        else:
            self.more += 1

    def listed(self) -> list[str]:
        return self.lines + ([f"... and {self.more} more"] if self.more else [])
