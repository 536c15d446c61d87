"""Which connection or flow a picture shows when the user names none, said in one line."""

from __future__ import annotations

from analyzer.analysis import Analysis, ConnectionAnalysis
from analyzer.errors import UserError
from analyzer.udp_flows import UdpFlow


def pick_connection(
    analysis: Analysis, wanted: int | None
) -> tuple[ConnectionAnalysis | UdpFlow, str | None]:
    """The connection to draw and, when the file has several, a line saying which and why.
    A file with no TCP connection draws its UDP flow (the first one refused, else the first)."""
    results = analysis.connections
    if not results and analysis.udp:
        flow = next((f for f in analysis.udp if f.unreachables), analysis.udp[0])
        return flow, None
    if not results:
        raise UserError(f"{analysis.file}: no TCP connection or UDP flow to draw")
    if wanted is not None:
        for result in results:
            if result.connection.id == wanted:
                return result, None
        raise UserError(f"{analysis.file}: no connection {wanted} (ids 0 to {len(results) - 1})")
    chosen = next((r for r in results if r.interesting), results[0])
    if len(results) == 1:
        return chosen, None
    why = (
        "the first with a RST, a retransmission or an unfinished handshake"
        if chosen.interesting
        else "the first"
    )
    return chosen, (
        f"{len(results)} connections in {analysis.file}; drawing #{chosen.connection.id} ({why}); "
        "choose another with --connection N"
    )


def pick_backoff_connection(analysis: Analysis, wanted: int | None) -> ConnectionAnalysis:
    """The connection whose retransmitted SYNs (or SYN/ACKs) to chart: `wanted`, else the first
    with any."""
    for result in analysis.connections:
        if wanted is None and (result.syn_backoff.intervals or result.synack_backoff.intervals):
            return result
        if result.connection.id == wanted:
            return result
    what = f"connection {wanted}" if wanted is not None else "connection with SYN retransmissions"
    raise UserError(f"{analysis.file}: no {what} to chart")
