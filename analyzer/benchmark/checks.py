"""The benchmark's correctness checks: what the analysis of a shape's file must say.

Each runs our analyzer once more, for its JSON document (the default options otherwise),
and reads the report a connection at a time: the syn-flood's has a million of them. Each
returns its lines and whether the analysis said what it must.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analyzer.benchmark.real_mix import BULK_PORT, made_path
from analyzer.benchmark.timing import ANALYZER_ROOT, JSON_OPTION, OUR_COMMAND
from analyzer.benchmark.truth import compare_stream, streamed_report

LISTED = 20  # differences shown


def _counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@contextmanager
def _report(path: Path) -> Iterator[Iterator[str]]:
    """The lines of our JSON report on `path`, as the analyzer writes them."""
    command = [*OUR_COMMAND, JSON_OPTION, str(path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ANALYZER_ROOT)
    assert process.stdout is not None
    try:
        yield iter(process.stdout)
        for _line in process.stdout:  # what the reader left: the analyzer must not block
            pass
    except BaseException:
        process.kill()
        raise
    finally:
        process.stdout.close()
        process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")


def truth(path: Path) -> tuple[list[str], bool]:
    """Every connection's life cycle against what the generator wrote."""
    with _report(path) as lines:
        result = compare_stream(lines, path.with_name(path.name + ".truth.jsonl"))
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(result.kinds.items()))
    total, kind_count = sum(result.kinds.values()), len(result.kinds)
    out = [
        f"life cycles of {path.name}: {_counted(total, 'connection')} of {_counted(kind_count, 'kind')} "
        f"({kinds}), {_counted(result.count, 'difference')} from what the generator wrote"
    ]
    out.extend(f"  {line}" for line in result.differences[:LISTED])
    return out, result.count == 0


def recorded(path: Path) -> tuple[list[str], bool]:
    """A recording's connections against what its traffic made: each connect that was
    answered a complete handshake, each refused one refused, nothing else."""
    made = json.loads(made_path(path).read_text())
    statuses: Counter = Counter()
    resent = 0
    with _report(path) as lines:
        _head, connections = streamed_report(lines)
        for connection in connections:
            statuses[connection["handshake"]["status"]] += 1
            if connection["server"]["port"] == BULK_PORT:
                resent += connection["sequence"]["counts"].get("retransmission", 0)
    expected = {"complete": made["bulk"] + made["short"], "refused": made["refused"]}
    others = sum(n for status, n in statuses.items() if status not in expected)
    out = [
        f"connections of {path.name}: {sum(statuses.values()):,}: {statuses['complete']:,} complete "
        f"(made {made['bulk']} bulk + {made['short']:,} short), {statuses['refused']:,} refused "
        f"(made {made['refused']:,}), {others} other; the bulk uploads resent {resent:,} segments "
        f"({made['loss_per_thousand'] / 10:g}% dropped on input)"
    ]
    out.extend(f"  {status}: {n:,}" for status, n in statuses.items() if status not in expected)
    ok = all(statuses[status] == n for status, n in expected.items()) and not others and resent > 0
    return out, ok
