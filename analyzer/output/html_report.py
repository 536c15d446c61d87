"""One self-contained HTML page per capture: diagrams inline (SVG, text stays text), the
analysis in tables, the explanations in sentences. No script, no external resource: it opens
from disk, attached to a bug report or mailed to a student, exactly as written."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path

from analyzer.analysis import Analysis, ConnectionAnalysis, Diagnosis
from analyzer.output.backoff_chart import backoff_figure
from analyzer.output.figures import figure_svg
from analyzer.output.selection import pick_connection
from analyzer.output.sequence_diagram import figure
from analyzer.output.state_timeline import timeline_figure
from analyzer.output.text_report import format_endpoint
from analyzer.sidecar import Sidecar
from analyzer.timefmt import format_duration
from analyzer.udp_flows import UdpFlow

MAX_ROWS = 500  # connections listed in the overview table; the JSON has them all

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .bad { color: #c00000; } .good { color: #2c7c2c; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
code { background: #f6f6f6; padding: 0 0.2em; } td code { white-space: nowrap; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(headers: list[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _connection_section(
    result: ConnectionAnalysis, sidecar: Sidecar | None, start: float | None
) -> list[str]:
    """start: frame 1's time, Wireshark's clock, which the page's times count from."""
    c = result.connection
    origin = c.first_time if start is None else start
    parts = [
        f"<h2>Connection #{c.id}: {_e(format_endpoint(c.client, c.family))} → "
        f"{_e(format_endpoint(c.server, c.family))}</h2>",
        f"<p>{_e(result.summary())}</p>",
        f"<figure>{figure_svg(figure(result, sidecar, start))}<figcaption>Sequence diagram</figcaption></figure>",
        f"<figure>{figure_svg(timeline_figure(result, sidecar))}<figcaption>TCP states over time</figcaption></figure>",
    ]
    if result.syn_backoff.intervals or result.synack_backoff.intervals:
        parts.append(
            f"<figure>{figure_svg(backoff_figure(result, sidecar))}<figcaption>SYN backoff</figcaption></figure>"
        )
    h = result.handshake
    parts.append("<h3>Handshake</h3>")
    parts.append(f"<p>{_e(h.explain())}</p>")
    parts.append(
        _table(
            ["check", "expected", "seen", "ok"],
            [[check.what, check.expected, check.seen, "yes" if check.ok else "NO"] for check in h.checks],
        )
    )
    parts.append(_table(["", "client", "server"], [
        ["ISN", h.client_isn, h.server_isn],
        ["options", h.client_options, h.server_options],
    ]))  # fmt: skip
    parts.append("<h3>Close and resets</h3>")
    parts.append(f"<p>{_e(result.close.explain())}</p>")
    if result.resets:
        parts.append(
            _table(
                ["time", "sender", "state", "cause", "explanation", "evidence frames"],
                [
                    [
                        f"+{format_duration(r.segment.time - origin)}",
                        r.sender,
                        r.state,
                        r.cause,
                        r.explanation,
                        ", ".join(map(str, r.evidence)),
                    ]
                    for r in result.resets
                ],
            )
        )
    if result.diagnoses:
        parts.append("<h3>Diagnoses</h3>")
        parts.append(_diagnoses_table([(None, d) for d in result.diagnoses]))
    parts.append("<h3>States</h3>")
    rows = [
        [
            side,
            " → ".join(f"{state.value} (+{format_duration(t - origin)})" for t, state in history)
            or "unknown",
        ]
        for side, history in result.states.items()
    ]
    parts.append(_table(["end", "states"], rows))
    if result.kernel is not None:
        cls = "good" if not result.kernel.disagreements else "bad"
        parts.append(f'<p class="{cls}">{_e(result.kernel.describe())}</p>')
        events = result.kernel.events  # the kernel's own account: the text report's lines
        if events is not None:
            cls = "good" if not events.disagreements else "bad"
            parts.extend(f'<p class="{cls}">{_e(line)}</p>' for line in events.describe(origin))
    if result.sequence.flags:
        parts.append("<h3>Sequence analysis (Wireshark's rules)</h3>")
        parts.append(_table(["kind", "segments"], sorted(result.sequence.counts().items())))
    zeek = result.compatibility.zeek
    parts.append(
        _table(
            ["Zeek conn_state", "Zeek history", "notes"],
            [[zeek.conn_state, zeek.history, "; ".join(result.notes)]],
        )
    )
    return parts


def _diagnoses_table(rows: Sequence[tuple[int | None, Diagnosis]]) -> str:
    """Each diagnosis: its kind and mark, its sentence, its frames, and the display filter to
    paste into Wireshark (as code: a reader copies it). With connection ids when given."""
    with_ids = any(connection is not None for connection, _d in rows)
    headers = (["#"] if with_ids else []) + ["kind", "what", "frames", "Wireshark display filter"]
    body = "".join(
        "<tr>"
        + (f"<td>{_e(connection)}</td>" if with_ids else "")
        + f"<td>{_e(d.kind)}<br><small>{_e(d.label)}</small></td><td>{_e(d.sentence)}</td>"
        + f"<td>{_e(', '.join(map(str, sorted(set(d.frames)))))}</td><td><code>{_e(d.display_filter)}</code></td>"
        + "</tr>"
        for connection, d in rows
    )
    return "<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + f"</tr>{body}</table>"


def _udp_section(flow: UdpFlow, sidecar: Sidecar | None, start: float | None) -> list[str]:
    return [
        f"<h2>UDP flow #{flow.id}: {_e(format_endpoint(flow.client, flow.family))} → "
        f"{_e(format_endpoint(flow.server, flow.family))}</h2>",
        f"<p>{_e(flow.summary())}</p>",
        f"<figure>{figure_svg(figure(flow, sidecar, start))}<figcaption>Sequence diagram</figcaption></figure>",
        "".join(f"<p>{_e(finding)}</p>" for finding in flow.findings),
    ]


def html_report(analysis: Analysis, connection: int | str | None = None) -> str:
    sidecar = analysis.sidecar
    chosen, note = pick_connection(analysis, connection)
    name = Path(analysis.file).name
    title = f"{sidecar['scenario']}: {name}" if sidecar and "scenario" in sidecar else name
    stats = analysis.stats
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{stats.frames} packets ({_e(stats.format)}), {stats.tcp_segments} TCP, "
        f"{len(analysis.connections)} TCP connection(s), {len(analysis.udp)} UDP flow(s).</p>",
    ]
    if sidecar:
        release = sidecar.get("kernel", {}).get("release", "not recorded")
        parts.append(f"<p>{_e(sidecar.get('summary', ''))} (kernel {_e(release)})</p>")
    parts.extend(f'<p class="bad">warning: {_e(w)}</p>' for w in stats.warnings)
    if analysis.application:
        parts.append("<h2>What the application saw</h2><ul>")
        parts.extend(f"<li>{_e(finding)}</li>" for finding in analysis.application)
        parts.append("</ul>")
    if note:
        parts.append(f"<p>{_e(note)}</p>")
    start = stats.start_time
    parts.extend(
        _udp_section(chosen, sidecar, start)
        if isinstance(chosen, UdpFlow)
        else _connection_section(chosen, sidecar, start)
    )
    if len(analysis.connections) > 1:
        parts.append("<h2>All connections</h2>")
        rows = [
            [r.connection.id, format_endpoint(r.connection.client, r.connection.family),
             format_endpoint(r.connection.server, r.connection.family), r.handshake.status, r.close.shape,
             ", ".join(x.cause for x in r.resets), ", ".join(d.kind for d in r.diagnoses),
             r.compatibility.zeek.conn_state]
            for r in analysis.connections[:MAX_ROWS]
        ]  # fmt: skip
        parts.append(
            _table(["#", "client", "server", "handshake", "close", "resets", "diagnoses", "Zeek"], rows)
        )
        if len(analysis.connections) > MAX_ROWS:
            parts.append(f"<p>… and {len(analysis.connections) - MAX_ROWS} more (see the JSON analysis).</p>")
        diagnosed = [(r.connection.id, d) for r in analysis.connections for d in r.diagnoses]
        if diagnosed:
            parts.append("<h2>Diagnoses in all connections</h2>")
            parts.append(_diagnoses_table(diagnosed[:MAX_ROWS]))
            if len(diagnosed) > MAX_ROWS:
                parts.append(f"<p>… and {len(diagnosed) - MAX_ROWS} more (see the JSON analysis).</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(analysis: Analysis, directory: Path, connection: int | str | None = None) -> Path:
    page = html_report(analysis, connection)  # first: a capture with nothing to show leaves no folder
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "index.html"
    partial = target.with_name(target.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    return target
