"""The analysis as text for people: one block per connection, times relative to the file start."""

from __future__ import annotations

from typing import TextIO

from analyzer.analysis import Analysis, ConnectionAnalysis, FileStream
from analyzer.connections import CAPTURE_COPY_WINDOW, EXPIRY_TEXT
from analyzer.decode import DecodeStats
from analyzer.output.spool import IdOrderedSpool
from analyzer.timefmt import format_duration
from analyzer.udp_flows import UdpFlow

_COPIES_SHOWN = 6


def format_endpoint(endpoint: tuple[str, int], family: int) -> str:
    ip, port = endpoint
    return f"[{ip}]:{port}" if family == 6 else f"{ip}:{port}"


def _state_line(history: list, origin: float) -> str:
    if not history:
        return "unknown (sent nothing)"
    parts = [history[0][1].value]
    parts += [f"{state.value} (+{format_duration(time - origin)})" for time, state in history[1:]]
    return " → ".join(parts)


def connection_text(result: ConnectionAnalysis, origin: float) -> list[str]:
    c = result.connection
    lines = [
        f"#{c.id} IPv{c.family} {format_endpoint(c.client, c.family)} → "
        f"{format_endpoint(c.server, c.family)}  {c.packets} packets, "
        f"+{c.first_time - origin:.6f} s .. +{c.last_time - origin:.6f} s"
    ]
    if c.tunnels:
        also = "; some segments also captured outside any tunnel" if c.untunnelled_too else ""
        lines.append(f"  tunnel     inside {', '.join(c.tunnels)}{also}")
    if c.copy_count:
        shown = ", ".join(f"{copy.frame} (of {original})" for copy, original in c.copies[:_COPIES_SHOWN])
        more = f" and {c.copy_count - _COPIES_SHOWN:,} more" if c.copy_count > _COPIES_SHOWN else ""
        lines.append(
            f"  copies     {c.copy_count:,} frame{'s' if c.copy_count > 1 else ''} captured twice, left out of "
            f"the analysis (the same packet within {CAPTURE_COPY_WINDOW * 1000:g} ms): {shown}{more}"
        )
    if result.vantage is not None and result.vantage.point != "one_host":
        lines.append(f"  captured   {result.vantage.explain()}")
    lines.append(f"  handshake  {result.handshake.explain()}")
    failed = [check for check in result.handshake.checks if not check.ok]
    for check in failed:
        lines.append(f"             check failed: {check.what}: expected {check.expected}, saw {check.seen}")
    if result.syn_backoff.intervals:
        times = ", ".join(f"+{t - origin:.3f}" for t in result.syn_backoff.times)
        lines.append(f"  SYNs       at {times} s")
        lines.append(f"  backoff    {result.syn_backoff.describe()}")
    if result.synack_backoff.intervals:
        lines.append(f"  SYN/ACK    {result.synack_backoff.describe()}")
    lines.append(f"  close      {result.close.explain()}")
    if c.expired is not None:
        lines.append(f"  expired    {EXPIRY_TEXT[c.expired]}")
    if result.sequence.flags:
        counts = ", ".join(
            f"{kind.replace('_', ' ')} {n}" for kind, n in sorted(result.sequence.counts().items())
        )
        lines.append(f"  sequence   {counts}")
    for reset in result.resets:
        lines.append(
            f"  RST        +{reset.segment.time - origin:.6f} s from the {reset.sender} in "
            f"{reset.state}: {reset.cause}: {reset.explanation}"
        )
    for diagnosis in result.diagnoses:
        lines.append(f"  diagnosis  {diagnosis.kind}: {diagnosis.sentence} [{diagnosis.display_filter}]")
    lines.append(f"  client     {_state_line(result.states['client'], origin)}")
    lines.append(f"  server     {_state_line(result.states['server'], origin)}")
    if result.kernel is not None:
        lines.append(f"  kernel     {result.kernel.describe()}")
    lines.extend(f"  note       {note}" for note in result.notes)
    return lines


def head_lines(
    file: str, stats: DecodeStats, count: int, udp: list[UdpFlow], application: list[str]
) -> list[str]:
    """The report's first lines (also the summary's): the file's counts, warnings, and what
    the call log shows."""
    lines = [
        f"{file}: {stats.frames} packets ({stats.format}), {stats.tcp_segments} TCP, "
        f"{count} connection{'s' if count != 1 else ''}"
        + (f", {len(udp)} UDP flow{'s' if len(udp) != 1 else ''}" if udp else "")
    ]
    lines.extend(f"warning: {w}" for w in stats.warnings)
    lines.extend(f"application: {finding}" for finding in application)
    return lines


def _udp_text(udp: list[UdpFlow]) -> list[str]:
    lines = []
    for flow in udp:
        lines.append("")
        lines.append(
            f"#U{flow.id} IPv{flow.family} {format_endpoint(flow.client, flow.family)} → "
            f"{format_endpoint(flow.server, flow.family)}  {flow.summary()}"
        )
        lines.extend(f"  datagrams  {finding}" for finding in flow.findings)
    return lines


def analysis_text(analysis: Analysis) -> str:
    lines = head_lines(
        analysis.file, analysis.stats, len(analysis.connections), analysis.udp, analysis.application
    )
    origin = analysis.connections[0].connection.first_time if analysis.connections else 0.0
    for result in analysis.connections:
        lines.append("")
        lines.extend(connection_text(result, origin))
    lines.extend(_udp_text(analysis.udp))
    return "\n".join(lines) + "\n"


def write_text(stream: FileStream, out: TextIO) -> None:
    """analysis_text as the file is read: connections spooled as they end, printed in id
    order once the file has been read (nothing is printed for a file that cannot be read)."""
    spool = IdOrderedSpool()
    try:
        for result in stream.results:
            text = "\n" + "\n".join(connection_text(result, stream.origin or 0.0))
            spool.add(result.connection.id, text.encode())
        udp = stream.udp()
        out.write("\n".join(head_lines(stream.file, stream.stats, len(spool), udp, stream.application(udp))))
        for block in spool:
            out.write("\n" + block)
        out.write("\n".join(["", *_udp_text(udp)]) + "\n")
    finally:
        spool.close()
