"""Shared fixtures: where things are, the command as a user runs it, and skips that always say why."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
# Public captures that are not ours to commit: CI puts them beside the clone; a clone on its
# own has none, and what needs them skips saying so.
CORPUS = ROOT.parent / "shared" / "corpus"
NO_CORPUS = f"the shared corpus is not beside the repository ({CORPUS})"

# CI has the corpus, root and every tool, so a skip there means something went missing:
# .ci/run sets this to make every skip a failure instead of a quiet pass.
NO_SKIPS = "HANDSHAKE_NO_SKIPS"


def like_a_terminal() -> None:
    """For preexec_fn: the command starts as a terminal starts one in the foreground, with
    Ctrl-C at its default. A shell without job control starts a background job with SIGINT
    ignored, and a runner may start the whole suite that way (CI has): a command that
    inherits it rightly keeps ignoring Ctrl-C (POSIX), and a test of how it takes Ctrl-C
    then sees it run to its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`handshake ARGS...` as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Status 2, no traceback, and one line on stderr holding every fragment."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0]


def stored_captures() -> list[Path]:
    return sorted(CAPTURES.glob("*.pcap"))


def corpus_pcaps() -> list[Path]:
    return sorted((CORPUS / "pcaps").glob("*")) if CORPUS.is_dir() else []


def corpus_params(keep: Callable[[Path], bool] = lambda path: True) -> list:
    """The corpus files `keep` takes, as parameters named after the files; without the corpus,
    one parameter that skips saying so, where the files would have been silently left out."""
    if not CORPUS.is_dir():
        return [pytest.param(None, id="corpus", marks=pytest.mark.skip(reason=NO_CORPUS))]
    return [pytest.param(path, id=path.name) for path in corpus_pcaps() if keep(path)]


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(NO_CORPUS)
    return CORPUS


def capture_skip_reason() -> str | None:
    """Why live captures cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "live capture needs root (network namespace, tcpdump)"
    for tool in ("tcpdump", "ip", "ss", "nft"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"live capture needs {tool} (run 'make setup' as root)"
    return None


def _fail_if_no_skips(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (os.environ.get(NO_SKIPS) and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"skipped, but {NO_SKIPS} is set (CI runs every test): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, None]:
    outcome = yield
    _fail_if_no_skips(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    _fail_if_no_skips(outcome.get_result())
