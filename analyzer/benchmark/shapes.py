"""The shapes of capture the benchmark measures: the files of each, how many runs, the check.

- synthetic: many concurrent connections of twelve kinds (synthetic.py), 100k to 5M packets;
- long-flow: one connection of 2M packets, a download with a little loss (long_flow.py);
- syn-flood: 1M half-open attempts and a few real clients (syn_flood.py);
- port-scan: 1M probes of one scanner, to open, closed and filtered ports (port_scan.py);
- concurrent: 100 downloads of 21,000 packets each, all open at once (concurrent_flows.py);
- real-mix: about 1M packets of real kernel traffic, recorded in a network namespace of its
  own (real_mix.py; needs root the first time, when it is recorded).

Each is made once into the cache (cache.py). The targets are judged on a shape's largest file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzer.benchmark import checks, concurrent_flows, long_flow, port_scan, real_mix, syn_flood, synthetic
from analyzer.benchmark.cache import cached, find


class Skipped(Exception):
    """A shape that cannot be made here; the message says why."""


@dataclass(frozen=True)
class BenchFile:
    path: Path
    packets: int


@dataclass(frozen=True)
class Shape:
    name: str
    runs: int  # per tool and file, unless BENCH_RUNS says otherwise
    files: Callable[[Sequence[str]], list[BenchFile]]  # of the synthetic sizes asked for
    check: Callable[[list[BenchFile]], tuple[list[str], bool]]

    @staticmethod
    def judged(files: list[BenchFile]) -> BenchFile:
        return max(files, key=lambda f: f.packets)


SIZES = {"100k": 100_000, "1M": 1_000_000, "5M": 5_000_000}
# (size, format): pcapng at one size, so that both readers are measured.
SYNTHETIC_FILES = [("100k", "pcap"), ("1M", "pcap"), ("1M", "pcapng"), ("5M", "pcap")]
LONG_FLOW_PACKETS = 2_000_000
SYN_FLOOD_ATTEMPTS = 1_000_000
PORT_SCAN_PROBES = 1_000_000
CONCURRENT_CONNECTIONS, CONCURRENT_ROUNDS = 100, 14_000
TRUTH = (".truth.jsonl",)


def _synthetic(sizes: Sequence[str]) -> list[BenchFile]:
    def make(size: str, fmt: str) -> Callable[[Path], int]:
        return lambda path: synthetic.write_capture(path, SIZES[size], fmt)

    return [
        BenchFile(*cached(f"synthetic-v{synthetic.VERSION}-{size}.{fmt}", make(size, fmt), TRUTH))
        for size, fmt in SYNTHETIC_FILES
        if size in sizes
    ]


def _check_smallest(files: list[BenchFile]) -> tuple[list[str], bool]:
    # The generator's truth is the same at every size; the smallest file checks it soonest.
    return checks.truth(min(files, key=lambda f: f.packets).path)


def _long_flow(_sizes: Sequence[str]) -> list[BenchFile]:
    name = f"long-flow-v{long_flow.VERSION}-{LONG_FLOW_PACKETS // 1_000_000}M.pcap"
    return [BenchFile(*cached(name, lambda path: long_flow.write_capture(path, LONG_FLOW_PACKETS), TRUTH))]


def _syn_flood(_sizes: Sequence[str]) -> list[BenchFile]:
    name = f"syn-flood-v{syn_flood.VERSION}-{SYN_FLOOD_ATTEMPTS // 1_000_000}M.pcap"
    return [BenchFile(*cached(name, lambda path: syn_flood.write_capture(path, SYN_FLOOD_ATTEMPTS), TRUTH))]


def _port_scan(_sizes: Sequence[str]) -> list[BenchFile]:
    name = f"port-scan-v{port_scan.VERSION}-{PORT_SCAN_PROBES // 1_000_000}M.pcap"
    return [BenchFile(*cached(name, lambda path: port_scan.write_capture(path, PORT_SCAN_PROBES), TRUTH))]


def _concurrent(_sizes: Sequence[str]) -> list[BenchFile]:
    name = f"concurrent-v{concurrent_flows.VERSION}-{CONCURRENT_CONNECTIONS}x{CONCURRENT_ROUNDS}.pcap"

    def make(path: Path) -> int:
        return concurrent_flows.write_capture(path, CONCURRENT_CONNECTIONS, CONCURRENT_ROUNDS)

    return [BenchFile(*cached(name, make, TRUTH))]


def _check_each(files: list[BenchFile]) -> tuple[list[str], bool]:
    lines, ok = [], True
    for file in files:
        more, fine = checks.truth(file.path)
        lines.extend(more)
        ok = ok and fine
    return lines, ok


def _real_mix(_sizes: Sequence[str]) -> list[BenchFile]:
    name, sides = f"real-mix-v{real_mix.VERSION}.pcap", (".made.json",)
    if find(name, sides) is None:
        why = real_mix.skip_reason()
        if why is not None:
            raise Skipped(why)
    return [BenchFile(*cached(name, real_mix.record, sides, verb="recording real traffic into"))]


def _check_recorded(files: list[BenchFile]) -> tuple[list[str], bool]:
    return checks.recorded(files[0].path)


SHAPES = {
    shape.name: shape
    for shape in (
        Shape("synthetic", 3, _synthetic, _check_smallest),
        Shape("long-flow", 1, _long_flow, _check_each),
        Shape("syn-flood", 1, _syn_flood, _check_each),
        Shape("port-scan", 1, _port_scan, _check_each),
        Shape("concurrent", 1, _concurrent, _check_each),
        Shape("real-mix", 1, _real_mix, _check_recorded),
    )
}
