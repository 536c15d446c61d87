"""Ctrl-C and SIGTERM land where the command can take them: never inside an import, where
a C extension's init or importlib's own clean-up can lose the KeyboardInterrupt (the
command then ran to its end as if never stopped, or Python, after the clean exit, killed
itself with SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT

from analyzer.interrupts import raise_interrupt, stop_signals_held

# Runs one command in a fresh interpreter and prints what it imported after the imports
# main() makes with the signals held.
SPY = """
import json, sys
import analyzer.cli as cli
held = cli.import_uninterrupted
after = {}
def spy(modules):
    held(modules)
    after["held"] = set(sys.modules)
cli.import_uninterrupted = spy
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "late": sorted(set(sys.modules) - after["held"])}), file=sys.stderr)
"""


def imported_while_running(*argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SPY, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return result["late"]


def test_a_signal_while_held_is_taken_as_the_block_ends() -> None:
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    reached = False
    try:
        with pytest.raises(KeyboardInterrupt), stop_signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # bytecode enough for a pending handler to run, were it not held
            reached = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reached


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "refused.pcap"],
        ["analyze", "--json", "refused.pcap"],
        ["analyze", "--format", "jsonl", "refused.pcap"],
        ["analyze", "--format", "conn", "refused.pcap"],
        ["analyze", "--summary", "refused.pcap"],
        ["diagram", "refused.pcap", "-o", "{out}/d.png"],
        ["timeline", "refused.pcap", "-o", "{out}/t.svg"],
        ["backoff", "syn-timeout.pcap", "-o", "{out}/b.png"],
        ["overview", "refused.pcap", "-o", "{out}/o.png"],
        ["report", "refused.pcap", "-o", "{out}/report"],
    ],
    ids=lambda argv: "-".join(a.strip("-") for a in argv if not a.startswith("{") and a != "-o"),
)
def test_a_command_imports_nothing_once_it_runs(argv: list[str], tmp_path: Path) -> None:
    resolved = [str(CAPTURES / a) if a.endswith(".pcap") else a.replace("{out}", str(tmp_path)) for a in argv]
    assert imported_while_running(*resolved) == []
