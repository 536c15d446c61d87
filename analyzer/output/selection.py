"""Which connection or flow a picture shows when the user names none, said in one line."""

from __future__ import annotations

from analyzer.analysis import Analysis, ConnectionAnalysis
from analyzer.errors import UserError
from analyzer.udp_flows import UdpFlow


def pick_connection(
    analysis: Analysis, wanted: int | str | None, count: int | None = None
) -> tuple[ConnectionAnalysis | UdpFlow, str | None]:
    """The connection to draw and, when the file has several, a line saying which and why.
    `wanted`: a TCP connection's id, or a UDP flow's as its reports write it ("U0").
    A file with no TCP connection draws its UDP flow (the first one refused, else the first)
    unless a TCP connection was asked for. `count`: how many connections the file has, where
    `analysis.connections` holds only some (html_report's, report_contents.py): the one asked
    for, the first interesting one and the first among them."""
    if isinstance(wanted, str):
        return _udp_flow(analysis, wanted), None
    results = analysis.connections
    total = len(results) if count is None else count
    if not total and analysis.udp:
        if wanted is not None:  # a TCP connection asked for by its number: there is none
            flows = len(analysis.udp)
            ids = "U0" if flows == 1 else f"U0 to U{flows - 1}"
            raise UserError(
                f"{analysis.file}: no TCP connection {wanted}, only {flows} UDP flow{'s' if flows != 1 else ''} "
                f"({ids}: --connection U0)"
            )
        flow = next((f for f in analysis.udp if f.unreachables), analysis.udp[0])
        return flow, None
    if not total:
        raise UserError(f"{analysis.file}: no TCP connection or UDP flow to draw")
    if wanted is not None:
        for result in results:
            if result.connection.id == wanted:
                return result, None
        raise UserError(f"{analysis.file}: no connection {wanted} (ids 0 to {total - 1})")
    # Else the first a diagnosis explains (helper-122: mqtt's #1 held CLOSE_WAIT 21 s, and
    # the first, a plain mid-stream one, was drawn).
    chosen = next((r for r in results if r.interesting), None) or next(
        (r for r in results if r.diagnoses), results[0]
    )
    if total == 1:
        return chosen, None
    why = (
        "the first with a RST, a retransmission, an unfinished handshake or an expiry"
        if chosen.interesting
        else f"the first with a diagnosis: {chosen.diagnoses[0].kind.replace('_', ' ')}"
        if chosen.diagnoses
        else "the first"
    )
    return chosen, (
        f"{total} connections in {analysis.file}; drawing #{chosen.connection.id} ({why}); "
        "choose another with --connection N"
    )


def _udp_flow(analysis: Analysis, wanted: str) -> UdpFlow:
    for flow in analysis.udp:
        if f"U{flow.id}" == wanted:
            return flow
    ids = f" (ids U0 to U{len(analysis.udp) - 1})" if analysis.udp else ""
    raise UserError(f"{analysis.file}: no UDP flow {wanted}{ids}")


def parse_connection_id(text: str) -> int | str:
    """A --connection argument: a TCP connection's id (7, or #7 as the text report writes
    it), or a UDP flow's (U0, #U0); ValueError for anything else."""
    text = text.strip().removeprefix("#")
    if text[:1] in ("U", "u") and text[1:].isdigit():
        return "U" + str(int(text[1:]))
    if text.isdigit():
        return int(text)
    raise ValueError(f"{text!r} is not a connection id (a number, or U and a number for a UDP flow)")


def pick_backoff_connection(analysis: Analysis, wanted: int | None) -> ConnectionAnalysis:
    """The connection whose retransmitted SYNs (or SYN/ACKs) to chart: `wanted`, else the first
    with any."""
    for result in analysis.connections:
        if wanted is None and result.charted_backoffs():
            return result
        if result.connection.id == wanted:
            return result
    what = f"connection {wanted}" if wanted is not None else "connection with SYN retransmissions"
    raise UserError(f"{analysis.file}: no {what} to chart")
