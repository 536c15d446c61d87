"""Timing a command: wall time and the peak resident memory of all its processes.

Our analyzer runs as `python -m analyzer` with this interpreter, from the folder that holds
the `analyzer` package this process imported: the one measured is the one the benchmark
runs with (a checkout built in place, an installed package), never one found elsewhere.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from analyzer import native
from analyzer.parallel.options import usable_cpus

# The default output, the text report; the JSON document is timed besides (JSON_OPTION).
OUR_COMMAND = [sys.executable, "-m", "analyzer", "analyze", "--quiet"]
JSON_OPTION = "--json"
# `python -m` looks in its working folder first.
ANALYZER_ROOT = native.ROOT
SAMPLE_EVERY = 0.05  # seconds between looks at the memory of a command's processes


@dataclass
class Timing:
    tool: str
    seconds: list[float]
    peak_rss_mb: float
    ours: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_once(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run, output discarded. The peak is that of all
    the command's processes together (sampled), or the command's own high-water mark
    (VmHWM, read until it ends) if that is more. Not wait4's ru_maxrss: Linux carries into
    a child the high-water mark of the memory it had before exec(), the bench's own."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ANALYZER_ROOT
    )
    together = own = 0
    while True:
        pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        together = max(together, _tree_rss_kb(process.pid))
        own = max(own, _status_kb(process.pid, "VmHWM:"))
        time.sleep(SAMPLE_EVERY)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")
    return elapsed, max(own, together) / 1024


def _status_kb(pid: int, field: str) -> int:
    """A kB figure of /proc/PID/status (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith(field)), 0)
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants, in kB (0 for those already gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        total += _status_kb(current, "VmRSS:")
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def tools(path: Path) -> dict[str, list[str]]:
    ours = [*OUR_COMMAND, str(path)]
    # As people run it: one big file in shares, a process on each CPU (analyze --jobs);
    # and, for comparison, in one process; then the whole JSON document.
    found = {"handshake analyze": ours}
    if usable_cpus() > 1:
        found["  ... --jobs 1"] = [*ours, "--jobs", "1"]
    found["handshake analyze --json"] = [*ours, JSON_OPTION]
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
