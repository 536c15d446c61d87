"""Ctrl-C and SIGTERM land where the command can take them: never inside an import, where
a C extension's init or importlib's own clean-up can lose the KeyboardInterrupt (the
command then ran to its end as if never stopped, or Python, after the clean exit, killed
itself with SIGINT)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT

from analyzer.interrupts import import_uninterrupted, raise_interrupt, stop_signals_held

# Runs one command in a fresh interpreter and prints the modules it loaded with Ctrl-C and
# SIGTERM not held (an audit hook sees each module as it is loaded).
SPY = """
import json, signal, sys
import analyzer.cli as cli
unheld = []
def hook(event, args):
    if event == "import" and signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, []):
        unheld.append(args[0])
sys.addaudithook(hook)
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "late": unheld}), file=sys.stderr)
"""


def loaded_unheld(*argv: str) -> list[str]:
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
            # To this thread: a signal to the process goes to a thread not holding it, if
            # there is one (pytest-xdist's worker has several).
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
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
        ["diagram", "refused.pcap"],  # Mermaid to stdout
        ["diagram", "--connection", "0", "refused.pcap", "-o", "{out}/d.svg"],
        ["analyze", "refused.pcap", "syn-timeout.pcap"],  # a pool of processes for the files
        ["scenarios"],
        pytest.param(
            ["analyze", "--decoder", "tshark", "refused.pcap"],
            marks=pytest.mark.skipif(
                shutil.which("tshark") is None, reason="tshark is not installed (make setup)"
            ),
        ),
    ],
    ids=lambda argv: "-".join(a.strip("-") for a in argv if not a.startswith("{") and a != "-o") or "none",
)
def test_a_command_loads_every_module_with_the_stop_signals_held(argv: list[str], tmp_path: Path) -> None:
    resolved = [str(CAPTURES / a) if a.endswith(".pcap") else a.replace("{out}", str(tmp_path)) for a in argv]
    assert loaded_unheld(*resolved) == []


def test_a_module_that_cannot_be_imported_is_left_to_the_command() -> None:
    """One a command may not even need (pyshark without --decoder tshark's package, POSIX
    semaphores a container lacks) must not end every command in an ImportError."""
    sys.modules.pop("colorsys", None)
    import_uninterrupted(["json", "analyzer_no_such_module", "colorsys"])
    assert "colorsys" in sys.modules  # the modules after it are still imported
