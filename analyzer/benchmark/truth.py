"""The generator's truth against an analysis: every connection's life cycle, one by one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def _key(family: int, client_port: int, server_port: int, start: float) -> tuple:
    # The capture's clock ticks in microseconds: the first segment's tick is the start.
    return family, client_port, server_port, round(start * 1_000_000)


def observed(connection: dict) -> dict:
    """The facts the truth speaks of, read from one connection of the JSON report."""
    return {
        "handshake": connection["handshake"]["status"],
        "close": connection["close"]["shape"],
        "time_wait": connection["close"]["time_wait"],
        "resets": [[r["sender"], r["cause"]] for r in connection["resets"]],
        "syn_retransmissions": len(connection["backoff"]["intervals"]),
        "retransmissions": connection["sequence"]["counts"].get("retransmission", 0),
        "reuses_ports": connection["reuses_ports_of"] is not None,
    }


def compare(report: dict, truth_path: Path) -> tuple[Counter, list[str]]:
    """(connections checked per kind, one line per difference)."""
    truths = [json.loads(line) for line in truth_path.read_text().splitlines()]
    seen = {
        _key(c["family"], c["client"]["port"], c["server"]["port"], c["first_time"]): c
        for c in report["connections"]
    }
    kinds: Counter = Counter()
    differences = []
    for truth in truths:
        connection = seen.pop(
            _key(truth["family"], truth["client_port"], truth["server_port"], truth["start"]), None
        )
        if connection is None:
            differences.append(f"connection {truth['connection']} ({truth['kind']}) not found")
            continue
        got = observed(connection)
        for field, value in got.items():
            if value != truth[field]:
                differences.append(
                    f"connection {truth['connection']} ({truth['kind']}, #{connection['id']}): "
                    f"{field} {value!r}, expected {truth[field]!r}"
                )
        kinds[truth["kind"]] += 1
    differences.extend(f"connection #{c['id']} is not one the generator wrote" for c in seen.values())
    return kinds, differences
