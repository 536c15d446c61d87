"""The benchmark's table (a row per tool per file) and its verdicts on the targets."""

from __future__ import annotations

from pathlib import Path

from analyzer.benchmark.timing import Timing

# The targets, judged on each shape's largest file.
MIN_SPEEDUP_OVER_TSHARK = 2.0
MIN_SHARE_OF_TCPTRACE = 0.5
MAX_RSS_MB = 200
TSHARK = "tshark -q -z conv,tcp"
TCPTRACE = "tcptrace -n"
DEFAULT = "handshake analyze"  # the text report: what the command writes with no option
ONE_JOB = "  ... --jobs 1"

TABLE_HEAD = (
    f"{'file':34} {'packets':>10}  {'tool':26} {'median s':>9} {'packets/s':>11} {'peak RSS':>10}  vs ours"
)


def table_rows(path: Path, packets: int, timings: list[Timing]) -> str:
    ours = [t for t in timings if t.ours]
    lines = []
    for timing in timings:
        ratio = ""
        if not timing.ours:
            ratio = "ours " + ", ".join(f"{timing.median / mine.median:.2f}x" for mine in ours) + " as fast"
        lines.append(
            f"{path.name:34} {packets:>10,}  {timing.tool:26} {timing.median:9.2f} "
            f"{packets / timing.median:11,.0f} {timing.peak_rss_mb:8.0f} MB  {ratio}"
        )
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def verdicts(timings: list[Timing]) -> list[str]:
    """Each way of running ours against each target."""
    by_tool = {t.tool: t for t in timings}
    lines = []
    for ours in (t for t in timings if t.ours):
        lines.append(f"{ours.tool.strip()}:")
        tshark = by_tool.get(TSHARK)
        if tshark:
            speedup = tshark.median / ours.median
            lines.append(f"  throughput vs tshark: {speedup:.2f}x (target >= {MIN_SPEEDUP_OVER_TSHARK}x): "
                         f"{_met(speedup >= MIN_SPEEDUP_OVER_TSHARK)}")  # fmt: skip
        tcptrace = by_tool.get(TCPTRACE)
        if tcptrace:
            share = tcptrace.median / ours.median
            lines.append(f"  throughput vs tcptrace: {share:.2f}x (target >= {MIN_SHARE_OF_TCPTRACE}x): "
                         f"{_met(share >= MIN_SHARE_OF_TCPTRACE)}")  # fmt: skip
        lines.append(f"  peak RSS: {ours.peak_rss_mb:.0f} MB (target < {MAX_RSS_MB} MB): "
                     f"{_met(ours.peak_rss_mb < MAX_RSS_MB)}")  # fmt: skip
    return lines


def targets(timings: list[Timing]) -> str:
    """The three targets as issue 16 states them, in one line: the throughput of tshark
    twice over with the default options (the text report), half that of tcptrace in one
    process (--jobs 1), and under MAX_RSS_MB either way."""
    by_tool = {t.tool: t for t in timings}
    default, one_job = by_tool.get(DEFAULT), by_tool.get(ONE_JOB, by_tool.get(DEFAULT))
    tshark, tcptrace = by_tool.get(TSHARK), by_tool.get(TCPTRACE)
    parts = []
    if default and tshark:
        speedup = tshark.median / default.median
        parts.append(f"tshark {speedup:.2f}x with default options (>= {MIN_SPEEDUP_OVER_TSHARK}x) "
                     f"{_met(speedup >= MIN_SPEEDUP_OVER_TSHARK)}")  # fmt: skip
    if one_job and tcptrace:
        share = tcptrace.median / one_job.median
        parts.append(f"tcptrace {share:.2f}x with --jobs 1 (>= {MIN_SHARE_OF_TCPTRACE}x) "
                     f"{_met(share >= MIN_SHARE_OF_TCPTRACE)}")  # fmt: skip
    # Of the default options and --jobs 1, as the targets are stated: not of --json.
    peak = max((t.peak_rss_mb for t in (default, one_job) if t is not None), default=0.0)
    parts.append(f"peak RSS {peak:.0f} MB (< {MAX_RSS_MB} MB) {_met(peak < MAX_RSS_MB)}")
    return "; ".join(parts)
