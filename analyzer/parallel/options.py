"""What `handshake analyze` is asked to do with each file, and how many processes it may use."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from analyzer.connections import Timeouts

# text: the report for people; json: the JSON document; jsonl: a JSON line a connection, as
# each ends (output/jsonl_report.py); conn: a Zeek conn.log (output/conn_log.py).
FORMATS = ("text", "json", "jsonl", "conn")
SUMMARY_FORMATS = ("text", "json")


@dataclass(frozen=True)
class AnalyzeOptions:
    """How a file is analyzed and its report written."""

    format: str = "text"  # one of FORMATS
    summary: bool = False  # the summary (output/summary.py) instead of the report, as text or JSON
    decoder: str = "fast"  # or "tshark" (see analysis.stream_file)
    use_sidecar: bool = True  # compare with the kernel's states when FILE.sidecar.json is beside it
    progress: bool = False  # a progress line on stderr while a file is read
    # Processes: files analyzed at once, or the shares of one big file's report (text or JSON).
    jobs: int = 1
    timeouts: Timeouts = field(default_factory=Timeouts)  # when open connections are given up
    only: tuple[str, ...] | None = None  # just these kinds of connection (output/only.py); None: all
    show_all: bool = False  # the text report shows the connections of scans and floods too

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {self.jobs}")
        if self.format not in (SUMMARY_FORMATS if self.summary else FORMATS):
            raise ValueError(f"no {'summary' if self.summary else 'report'} in the format {self.format!r}")
        if self.summary and self.only is not None:
            raise ValueError("the summary shows no connections to choose among")

    @property
    def json(self) -> bool:
        """JSON (the report or the summary): several files' reports are merged into one
        document of the same shape (output/json_report.py); their summaries make
        {"files": [...]}."""
        return self.format == "json"


# The most processes `analyze` starts unless told (--jobs): every process of a big file
# reads and checks every packet header, and carries an interpreter of its own (50-100 MB),
# so past a handful the scanning and the memory grow while the analysis left to share does not.
DEFAULT_JOBS_LIMIT = 8


def default_jobs() -> int:
    """The CPUs this process may run on, at most DEFAULT_JOBS_LIMIT."""
    return min(usable_cpus(), DEFAULT_JOBS_LIMIT)


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity, as taskset or a container's cpuset
    sets it, where the system tells it (os.process_cpu_count from Python 3.13, which also
    heeds -X cpu_count; sched_getaffinity on Linux); elsewhere (macOS, Windows before 3.13)
    the machine's count."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
