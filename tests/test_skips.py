"""A test that cannot run here skips saying why; in CI, where everything it needs is there,
that skip fails the run instead (conftest.NO_SKIPS, set by .ci/run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import conftest

SKIPPING = """
import pytest

def test_runs() -> None:
    pass

def test_cannot_run_here() -> None:
    pytest.skip("needs a thing this machine lacks")
"""
SKIPPING_AT_COLLECTION = """
import pytest

pytest.importorskip("no_such_module_anywhere", reason="needs no_such_module_anywhere")
"""


def _pytest(directory: Path, *paths: str, no_skips: bool) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != conftest.NO_SKIPS}
    if no_skips:
        environment[conftest.NO_SKIPS] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(directory), *paths],
        capture_output=True, text=True, cwd=directory, env=environment, timeout=120,
    )  # fmt: skip


def _failed_skip(reason: str) -> str:
    return f"skipped, but {conftest.NO_SKIPS} is set (CI runs every test): {reason}"


def test_a_skip_fails_when_every_test_must_run(tmp_path) -> None:
    shutil.copy(Path(conftest.__file__), tmp_path / "conftest.py")
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_skipping_at_collection.py").write_text(SKIPPING_AT_COLLECTION)

    anywhere = _pytest(tmp_path, ".", no_skips=False)
    assert anywhere.returncode == 0, anywhere.stdout
    assert "1 passed, 2 skipped" in anywhere.stdout

    in_ci = _pytest(tmp_path, "test_skipping.py", no_skips=True)
    assert in_ci.returncode == 1, in_ci.stdout
    assert "1 failed, 1 passed" in in_ci.stdout
    assert _failed_skip("needs a thing this machine lacks") in in_ci.stdout
    # A whole module skipped is a collection error: the run stops there, saying why.
    in_ci = _pytest(tmp_path, ".", no_skips=True)
    assert in_ci.returncode == 2, in_ci.stdout
    assert "1 error" in in_ci.stdout
    assert _failed_skip("needs no_such_module_anywhere") in in_ci.stdout


def test_without_the_corpus_its_files_are_one_skip_that_says_so(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(conftest, "CORPUS", tmp_path / "absent")
    [missing] = conftest.corpus_params()
    assert missing.id == "corpus"
    [mark] = missing.marks
    assert (mark.name, mark.kwargs["reason"]) == ("skip", conftest.NO_CORPUS)
    assert "the shared corpus is not beside the repository" in conftest.NO_CORPUS


def test_with_the_corpus_its_files_are_parameters_named_after_them(monkeypatch, tmp_path) -> None:
    (tmp_path / "pcaps").mkdir()
    for name in ("b.pcap", "a.pcapng", "big.pcap"):
        (tmp_path / "pcaps" / name).write_bytes(b"")
    monkeypatch.setattr(conftest, "CORPUS", tmp_path)
    kept = conftest.corpus_params(lambda path: path.name != "big.pcap")
    assert [(p.id, p.values[0].name, p.marks) for p in kept] == [
        ("a.pcapng", "a.pcapng", ()),
        ("b.pcap", "b.pcap", ()),
    ]
