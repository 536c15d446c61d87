"""The gallery: one report per stored capture and an index page linking them, by scenario."""

from __future__ import annotations

import html
from pathlib import Path

from analyzer.analysis import analyze_file
from analyzer.files import write_output
from analyzer.output.html_report import write_report
from analyzer.output.page_script import STYLE
from analyzer.sidecar import find_sidecar, load_sidecar


def write_gallery(captures: Path, output: Path) -> Path:
    rows = []
    for pcap in sorted(captures.glob("*.pcap")):
        found = find_sidecar(pcap)
        sidecar = load_sidecar(found) if found else None
        analysis = analyze_file(str(pcap), sidecar=sidecar)
        report = write_report(analysis, output / pcap.stem)
        summary = sidecar.get("summary", "") if sidecar else ""
        first = (
            analysis.connections[0].summary()
            if analysis.connections
            else (analysis.udp[0].summary() if analysis.udp else "")
        )
        rows.append(
            f'<tr><td><a href="{html.escape(report.relative_to(output).as_posix())}">{html.escape(pcap.stem)}</a></td>'
            f"<td>{html.escape(summary)}</td><td>{html.escape(first)}</td></tr>"
        )
    index = output / "index.html"
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>handshake-analyzer gallery</title>'
        f"<style>{STYLE}</style></head><body><h1>Stored captures</h1>"
        "<table><tr><th>capture</th><th>scenario</th><th>what the analysis says</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )
    write_output(index, lambda partial: partial.write_text(page, encoding="utf-8"))
    return index
