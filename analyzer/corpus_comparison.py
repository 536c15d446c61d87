"""Our answers against tshark's and tcptrace's on the same files (../shared/corpus layout).

For each pcap with an oracle, one row per question: ours, theirs, and whether they
agree. Questions where the tools count differently by design are compared with the
tool that counts the same way (connections: tcptrace, which like us splits a reused
4-tuple; tshark keeps one stream for it). A disagreement is either fixed or listed,
with its reason, in the known-disagreements file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from analyzer.analysis import analyze_file
from analyzer.decode.segment import ACK, FIN, RST, SYN
from analyzer.errors import UserError

# Our kinds and the tshark oracle's names for the same expert flags.
SEQUENCE_QUESTIONS = {
    "retransmission": "retransmission",
    "fast_retransmission": "fast_retransmission",
    "spurious_retransmission": "spurious_retransmission",
    "out_of_order": "out_of_order",
    "duplicate_ack": "duplicate_ack",
    "lost_segment": "lost_segment",
    "keep_alive": "keep_alive",
    "zero_window": "zero_window",
}


# Zeek's conn_state-RST-behavior btest prints one line per trace, in the order its
# TEST-EXEC lines read them; the corpus stores that output beside each of the four.
RST_BEHAVIOR_ORDER = [
    "zeek_single-rst.pcap",
    "zeek_syn-then-rst.pcap",
    "zeek_syn-then-ack-then-rst.pcap",
    "zeek_syn-then-stuff-then-rst.pcap",
]


def zeek_log_rows(path: Path) -> list[dict[str, str]]:
    """A conn.log as dicts: columns from "#fields", or from the first line where the baseline
    was cut with zeek-cut (a line of column names)."""
    lines = path.read_text().splitlines()
    fields = next((line.split("\t")[1:] for line in lines if line.startswith("#fields")), None)
    data = [line for line in lines if line and not line.startswith("#")]
    if fields is None:
        header = data[0].split("\t") if data else []
        if header and header[0].startswith(("id.", "ts", "uid")):
            fields, data = header, data[1:]
        else:
            fields = []  # a cut without column names: rows can be counted, not read
    return [dict(zip(fields, line.split("\t"), strict=False)) for line in data]


@dataclass
class Row:
    file: str
    question: str
    ours: str
    theirs: str
    oracle: str

    @property
    def agrees(self) -> bool:
        return self.ours == self.theirs


def _counts(values: list) -> str:
    return ", ".join(f"{value}x{count}" for value, count in sorted(Counter(values).items()))


def compare_file(pcap: Path, oracle_dir: Path) -> list[Row]:
    tshark = json.loads((oracle_dir / f"{pcap.name}.tshark.json").read_text())
    tcptrace_path = oracle_dir / f"{pcap.name}.tcptrace.json"
    tcptrace = json.loads(tcptrace_path.read_text()) if tcptrace_path.exists() else None
    try:
        analysis = analyze_file(str(pcap))
    except UserError as error:
        return [Row(pcap.name, "readable", "no", "yes", f"error: {error}")]
    segments = [s for r in analysis.connections for s in r.connection.with_copies()]
    totals = tshark["totals"]
    name = pcap.name
    rows = [
        # The segments of a long (folded) connection are counted, not all kept: its control
        # segments, all that the other rows count, are.
        Row(
            name,
            "TCP packets",
            str(sum(r.connection.packets for r in analysis.connections)),
            str(tshark["tcp_packets"]),
            "tshark",
        ),
        Row(
            name,
            "SYN",
            str(sum(1 for s in segments if s.flags & (SYN | ACK) == SYN)),
            str(totals["syn"]),
            "tshark",
        ),
        Row(
            name,
            "SYN/ACK",
            str(sum(1 for s in segments if s.flags & (SYN | ACK) == SYN | ACK)),
            str(totals["synack"]),
            "tshark",
        ),
        Row(name, "FIN", str(sum(1 for s in segments if s.flags & FIN)), str(totals["fin"]), "tshark"),
        Row(name, "RST", str(sum(1 for s in segments if s.flags & RST)), str(totals["rst"]), "tshark"),
        Row(
            name,
            "handshakes completed",
            str(sum(1 for r in analysis.connections if r.handshake.status == "complete")),
            str(totals["handshake_completed_streams"]),
            "tshark",
        ),
    ]
    if tcptrace is not None and tcptrace.get("read_ok"):
        rows.append(
            Row(name, "connections", str(len(analysis.connections)), str(tcptrace["connections"]), "tcptrace")
        )
        theirs = [p["complete_conn"] for p in tcptrace.get("parsed", [])]
        ours = [r.compatibility.tcptrace for r in analysis.connections]
        rows.append(Row(name, "complete/reset verdicts", _counts(ours), _counts(theirs), "tcptrace"))
    else:
        rows.append(
            Row(
                name, "connections", str(len(analysis.connections)), str(tshark["tcp_stream_count"]), "tshark"
            )
        )
    ours_sequence: Counter = Counter()
    for result in analysis.connections:
        ours_sequence += result.sequence.counts()
    for kind, oracle_key in SEQUENCE_QUESTIONS.items():
        rows.append(
            Row(name, kind.replace("_", " "), str(ours_sequence[kind]), str(totals[oracle_key]), "tshark")
        )
    zeek_log = oracle_dir / f"{pcap.name}.zeek-conn.log"
    zeek_ours = [r.compatibility.zeek for r in analysis.connections]
    if zeek_log.exists():
        logged = zeek_log_rows(zeek_log)
        rows.append(Row(name, "connections (Zeek)", str(len(analysis.connections)), str(len(logged)), "Zeek"))
        for column, ours in (
            ("conn_state", [z.conn_state for z in zeek_ours]),
            ("history", [z.history for z in zeek_ours]),
        ):
            if logged and column in logged[0]:
                rows.append(
                    Row(name, f"Zeek {column}", _counts(ours), _counts([r[column] for r in logged]), "Zeek")
                )
    behavior = oracle_dir / f"{pcap.name}.zeek-history_conn_state.out"
    if behavior.exists() and name in RST_BEHAVIOR_ORDER and len(zeek_ours) == 1:
        lines = [line for line in behavior.read_text().splitlines() if line and not line.startswith("#")]
        rows.append(
            Row(
                name,
                "Zeek history, conn_state",
                f"{zeek_ours[0].history}, {zeek_ours[0].conn_state}",
                lines[RST_BEHAVIOR_ORDER.index(name)],
                "Zeek",
            )
        )
    theirs_completeness = [s["tcp_completeness"] for s in tshark["streams"]]
    ours_completeness = [r.compatibility.wireshark_completeness for r in analysis.connections]
    rows.append(
        Row(
            name,
            "tcp.completeness per stream",
            _counts(ours_completeness),
            _counts(theirs_completeness),
            "tshark",
        )
    )
    return rows


def load_known(path: Path) -> dict[tuple[str, str], str]:
    """(file, question) -> the reason the difference is right or a known limitation."""
    known = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                file, question, reason = line.split("\t", 2)
                known[(file, question)] = reason
    return known


def corpus_rows(corpus: Path) -> list[Row]:
    rows = []
    for pcap in sorted((corpus / "pcaps").iterdir()):
        if (corpus / "oracle" / f"{pcap.name}.tshark.json").exists():
            rows.extend(compare_file(pcap, corpus / "oracle"))
    return rows


def agreement_table(rows: list[Row], known: dict[tuple[str, str], str]) -> str:
    questions = list(dict.fromkeys(r.question for r in rows))
    lines = [f"{'question':30} {'agree':>6} {'explained':>10} {'unexplained':>12}"]
    for question in questions:
        these = [r for r in rows if r.question == question]
        agree = sum(r.agrees for r in these)
        explained = sum(1 for r in these if not r.agrees and (r.file, r.question) in known)
        lines.append(
            f"{question:30} {agree:>3}/{len(these):<3}{explained:>9} {len(these) - agree - explained:>12}"
        )
    for r in rows:
        if not r.agrees:
            why = known.get((r.file, r.question), "UNEXPLAINED")
            lines.append(f"  {r.file}: {r.question}: ours {r.ours} | {r.oracle} {r.theirs} | {why}")
    return "\n".join(lines)
