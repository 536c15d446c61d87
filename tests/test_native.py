"""The compiled per-packet path: in use after `make setup`, never stale, and the same reports
as the plain Python it is compiled from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, corpus_pcaps, stored_captures

from analyzer import native
from analyzer.benchmark.synthetic import write_capture


def test_the_compiled_modules_are_in_use() -> None:
    if os.environ.get(native.PURE_VARIABLE):
        pytest.skip(f"{native.PURE_VARIABLE} is set: this run tests the plain Python path")
    assert native.build_state() == "compiled", "run 'make setup' to compile (analyzer/native.py)"
    for name in native.COMPILED:
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        assert module.__file__ is not None and module.__file__.endswith(".so"), name


def _fake_tree(built: bool = True) -> None:
    """Empty sources and libraries under native.ROOT, the libraries newer."""
    for module in native.COMPILED:
        source = native.source_path(module)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
        os.utime(source, (1000, 1000))
    if built:
        for module in (*native.COMPILED, native.GROUP + "__mypyc"):
            native.built_path(module).write_bytes(b"")
            os.utime(native.built_path(module), (2000, 2000))


def test_build_state_names_why_the_sources_are_used(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    monkeypatch.setattr(native, "ROOT", tmp_path)
    _fake_tree(built=False)
    assert native.build_state() == "not built"
    _fake_tree()
    assert native.build_state() == "compiled"
    edited = tmp_path / "analyzer" / "tcp_state.py"
    os.utime(edited, (3000, 3000))
    assert native.build_state() == "stale (analyzer/tcp_state.py is newer than its build)"
    # The stubs of unchanged modules keep their times; the shared library's counts.
    os.utime(native.built_path(native.GROUP + "__mypyc"), (4000, 4000))
    assert native.build_state() == "compiled"
    native.built_path("analyzer.connections").unlink()
    assert native.build_state() == f"incomplete ({native.built_path('analyzer.connections').name} missing)"
    monkeypatch.setenv(native.PURE_VARIABLE, "1")
    assert native.build_state() == "disabled (HANDSHAKE_PURE=1)"


def test_a_build_that_changed_no_code_is_not_stale(tmp_path, monkeypatch) -> None:
    """A docstring edited: build_ext keeps the old library (same C), which must not then
    look older than the sources for good; an edit during the build still counts."""
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    monkeypatch.setattr(native, "ROOT", tmp_path)
    _fake_tree()
    os.utime(tmp_path / "analyzer" / "tcp_state.py", (3000, 3000))
    native.mark_built(3500)
    assert native.build_state() == "compiled"
    os.utime(tmp_path / "analyzer" / "connections.py", (4000, 4000))  # while the compiler ran
    native.mark_built(3600)
    assert native.build_state() == "stale (analyzer/connections.py is newer than its build)"


def _imported_from(environment: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-c", "import analyzer.tcp_state as m; print(m.__file__)"],
        capture_output=True, text=True, check=True, env=environment, cwd=ROOT,
    ).stdout.strip()  # fmt: skip


def test_pure_python_on_request() -> None:
    assert _imported_from({**os.environ, native.PURE_VARIABLE: "1"}).endswith("tcp_state.py")


def _reports(paths: list[Path], pure: bool, *options: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != native.PURE_VARIABLE}
    if pure:
        environment[native.PURE_VARIABLE] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "analyzer", "analyze", "--quiet", *options, *map(str, paths)],
        capture_output=True, text=True, env=environment, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _assert_the_same_reports(files: list[Path], at_least: int) -> None:
    """JSON and text, each naming every file and at least `at_least` characters long."""
    for options in (["--json"], []):
        compiled = _reports(files, False, *options)
        assert all(str(path) in compiled for path in files) and len(compiled) > at_least, options
        assert compiled == _reports(files, True, *options), options


@pytest.mark.slow
def test_compiled_and_pure_python_reports_are_the_same(tmp_path) -> None:
    """Every stored capture (with its sidecar) and a synthetic file with every life cycle the
    benchmark writes."""
    synthetic = tmp_path / "synthetic.pcapng"
    write_capture(synthetic, 20_000, "pcapng")
    _assert_the_same_reports([*stored_captures(), synthetic], 500_000)


@pytest.mark.slow
def test_compiled_and_pure_python_reports_are_the_same_on_the_corpus(corpus_dir) -> None:
    _assert_the_same_reports(corpus_pcaps(), 1_000_000)
