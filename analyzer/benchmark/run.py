"""`make bench`: our analyzer against tshark and tcptrace on the same synthetic captures.

Each file is generated once into a cache folder outside git (BENCH_CACHE, default
~/.cache/handshake-analyzer/bench); each tool runs on it several times; the table gives
the median wall time, packets per second and the peak resident memory of the command's
processes together, and the ratios the targets are stated in. The smallest
file's analysis is also checked, connection by connection, against what the generator
wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from analyzer import native
from analyzer.benchmark.synthetic import write_capture
from analyzer.benchmark.truth import compare

GENERATOR_VERSION = 1  # in the file names: a changed generator writes new files
SIZES = {"100k": 100_000, "1M": 1_000_000, "5M": 5_000_000}
# (size, format): pcapng at one size, so that both readers are measured.
FILES = [("100k", "pcap"), ("1M", "pcap"), ("1M", "pcapng"), ("5M", "pcap")]
# The targets, on the largest file.
MIN_SPEEDUP_OVER_TSHARK = 2.0
MIN_SHARE_OF_TCPTRACE = 0.5
MAX_RSS_MB = 200


@dataclass
class Timing:
    tool: str
    seconds: list[float]
    peak_rss_mb: float
    ours: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "handshake-analyzer" / "bench"
    return Path(os.environ.get("BENCH_CACHE", default))


def ensure_capture(size: str, fmt: str) -> tuple[Path, int]:
    """The cached synthetic capture of this size and format, written if missing."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"synthetic-v{GENERATOR_VERSION}-{size}.{fmt}"
    count_file = path.with_name(path.name + ".packets")
    if not path.exists() or not count_file.exists():
        print(f"generating {path} ...", file=sys.stderr, flush=True)
        partial = path.with_name(path.name + ".partial")
        partial_truth = partial.with_name(partial.name + ".truth.jsonl")
        try:
            count = write_capture(partial, SIZES[size], fmt)
            partial_truth.replace(path.with_name(path.name + ".truth.jsonl"))
            partial.replace(path)
            count_file.write_text(str(count))
        finally:
            partial.unlink(missing_ok=True)
            partial_truth.unlink(missing_ok=True)
    return path, int(count_file.read_text())


SAMPLE_EVERY = 0.05  # seconds between looks at the memory of a command's processes


def run_once(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run, output discarded. The peak is that of all
    the command's processes together (sampled), or of its largest process (from wait4)
    if that is more: wait4 alone would hide the processes a command starts beside it."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    together = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        together = max(together, _tree_rss_kb(process.pid))
        time.sleep(SAMPLE_EVERY)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")
    return elapsed, max(usage.ru_maxrss, together) / 1024


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants, in kB (0 for those already gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


OUR_COMMAND = [sys.executable, "-m", "analyzer", "analyze", "--json", "--quiet"]


def tools(path: Path) -> dict[str, list[str]]:
    ours = [*OUR_COMMAND, str(path)]
    # As people run it: one big file in shares, a process on each CPU (analyze --jobs);
    # and, for comparison, in one process.
    found = {"handshake analyze --json": ours}
    if len(os.sched_getaffinity(0)) > 1:
        found["  ... --jobs 1"] = [*ours, "--jobs", "1"]
    if shutil.which("tshark"):
        found["tshark -q -z conv,tcp"] = ["tshark", "-q", "-z", "conv,tcp", "-r", str(path)]
    if shutil.which("tcptrace"):
        found["tcptrace -n"] = ["tcptrace", "-n", str(path)]
    return found


def measure(path: Path, runs: int) -> list[Timing]:
    timings = []
    for tool, command in tools(path).items():
        samples = [run_once(command) for _ in range(runs)]
        mine = command[: len(OUR_COMMAND)] == OUR_COMMAND
        timings.append(Timing(tool, [s for s, _ in samples], max(m for _, m in samples), mine))
    return timings


def check_truth(path: Path) -> str:
    with tempfile.TemporaryFile("w+") as out:
        subprocess.run([*OUR_COMMAND, str(path)], stdout=out, check=True)
        out.seek(0)
        report = json.load(out)
    kinds, differences = compare(report, path.with_name(path.name + ".truth.jsonl"))
    lines = [f"life cycles of {path.name}: {sum(kinds.values())} connections of {len(kinds)} kinds, "
             f"{len(differences)} differences from what the generator wrote"]  # fmt: skip
    lines.extend(f"  {d}" for d in differences[:20])
    return "\n".join(lines)


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


def verdicts(timings: list[Timing]) -> list[str]:
    by_tool = {t.tool: t for t in timings}
    lines = []
    for ours in (t for t in timings if t.ours):
        lines.append(f"{ours.tool.strip()}:")
        tshark = by_tool.get("tshark -q -z conv,tcp")
        if tshark:
            speedup = tshark.median / ours.median
            lines.append(f"  throughput vs tshark: {speedup:.2f}x (target >= {MIN_SPEEDUP_OVER_TSHARK}x): "
                         f"{'met' if speedup >= MIN_SPEEDUP_OVER_TSHARK else 'NOT met'}")  # fmt: skip
        tcptrace = by_tool.get("tcptrace -n")
        if tcptrace:
            share = tcptrace.median / ours.median
            lines.append(f"  throughput vs tcptrace: {share:.2f}x (target >= {MIN_SHARE_OF_TCPTRACE}x): "
                         f"{'met' if share >= MIN_SHARE_OF_TCPTRACE else 'NOT met'}")  # fmt: skip
        lines.append(f"  peak RSS: {ours.peak_rss_mb:.0f} MB (target < {MAX_RSS_MB} MB): "
                     f"{'met' if ours.peak_rss_mb < MAX_RSS_MB else 'NOT met'}")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.benchmark", description=__doc__)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", ",".join(SIZES)),
                        help="comma-separated, of " + ", ".join(SIZES))  # fmt: skip
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        print(f"bench: unknown size {', '.join(unknown)}; known: {', '.join(SIZES)}", file=sys.stderr)
        return 2
    results = []
    print(f"analyzer per-packet path: {native.describe(native.build_state())}", flush=True)
    print(TABLE_HEAD, flush=True)
    for size, fmt in FILES:
        if size not in sizes:
            continue
        path, packets = ensure_capture(size, fmt)
        print(
            f"timing {path.name} ({packets:,} packets, {args.runs} runs each) ...",
            file=sys.stderr,
            flush=True,
        )
        results.append((path, packets, measure(path, args.runs)))
        print(table_rows(*results[-1]), flush=True)
    largest_path, _packets, largest = max(results, key=lambda r: r[1])
    print(f"\ntargets on {largest_path.name}:")
    print("\n".join(f"  {line}" for line in verdicts(largest)))
    print("\n" + check_truth(min(results, key=lambda r: r[1])[0]))
    return 0
