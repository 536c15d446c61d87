"""`make bench`: our analyzer against tshark and tcptrace on captures of several shapes.

Each shape's files are made once into a cache folder outside git (BENCH_CACHE, default
~/.cache/handshake-analyzer/bench; shapes.py says what each is); each tool runs on each
file several times; the table gives the median wall time, packets per second and the
peak resident memory of the command's processes together, and the ratios the targets
are stated in. Then, per shape, the verdicts on the targets (on its largest file) and the
check of what our analysis says of it against what made it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from analyzer import native
from analyzer.benchmark.shapes import SHAPES, SIZES, BenchFile, Shape, Skipped
from analyzer.benchmark.table import TABLE_HEAD, table_rows, targets, verdicts
from analyzer.benchmark.timing import Timing, measure
from analyzer.errors import UserError


@dataclass
class Measured:
    shape: Shape
    files: list[BenchFile]
    timings: dict[str, list[Timing]]  # by file name


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.benchmark", description=__doc__)
    runs = os.environ.get("BENCH_RUNS")
    parser.add_argument("--runs", type=int, default=int(runs) if runs else None,
                        help="per tool and file (default: 3 for synthetic, 1 for the others)")  # fmt: skip
    parser.add_argument("--shapes", default=os.environ.get("BENCH_SHAPES") or ",".join(SHAPES),
                        help="comma-separated, of " + ", ".join(SHAPES))  # fmt: skip
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES") or ",".join(SIZES),
                        help="of the synthetic shape, comma-separated, of " + ", ".join(SIZES))  # fmt: skip
    args = parser.parse_args(argv)
    shapes, sizes = _names(args.shapes), _names(args.sizes)
    for what, asked, known in (("shape", shapes, SHAPES), ("size", sizes, SIZES)):
        unknown = [name for name in asked if name not in known]
        if unknown or not asked:
            print(
                f"bench: unknown {what} {', '.join(unknown) or '(none)'}; known: {', '.join(known)}",
                file=sys.stderr,
            )
            return 2
    where = native.ROOT / "analyzer"
    print(f"analyzer per-packet path: {native.describe(native.build_state())} ({where})", flush=True)
    print(TABLE_HEAD, flush=True)
    measured: list[Measured] = []
    notes: list[str] = []  # shapes skipped or failed, one line each
    failed = False
    for name in (name for name in SHAPES if name in shapes):
        shape = SHAPES[name]
        try:
            files = shape.files(sizes)
        except Skipped as why:
            notes.append(f"{name}: skipped: {why}")
            print(notes[-1], file=sys.stderr, flush=True)
            continue
        except UserError as error:
            notes.append(f"{name}: FAILED: {error}")
            print(notes[-1], file=sys.stderr, flush=True)
            failed = True
            continue
        count = args.runs or shape.runs
        result = Measured(shape, files, {})
        for file in files:
            each = f"{count} run{'s' * (count > 1)} each"
            print(
                f"timing {file.path.name} ({file.packets:,} packets, {each}) ...", file=sys.stderr, flush=True
            )
            result.timings[file.path.name] = measure(file.path, count)
            print(table_rows(file.path, file.packets, result.timings[file.path.name]), flush=True)
        measured.append(result)
    for result in measured:
        judged = result.shape.judged(result.files)
        timings = result.timings[judged.path.name]
        print(f"\n{result.shape.name}: targets on {judged.path.name}: {targets(timings)}")
        print("\n".join(f"  {line}" for line in verdicts(timings)))
    if measured:
        print()
    for result in measured:
        print(f"checking {result.shape.name} ...", file=sys.stderr, flush=True)
        lines, ok = result.shape.check(result.files)
        print("\n".join(lines), flush=True)
        failed = failed or not ok
    for note in notes:
        print(note)
    return 1 if failed else 0
