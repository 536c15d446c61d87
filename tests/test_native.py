"""The compiled per-packet path: in use after `make setup`, never stale, and the same reports
as the plain Python it is compiled from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, corpus_pcaps, stored_captures

import analyzer
from analyzer import native
from analyzer.benchmark.synthetic import write_capture


def test_the_compiled_modules_are_in_use() -> None:
    if os.environ.get(native.PURE_VARIABLE):
        pytest.skip(f"{native.PURE_VARIABLE} is set: this run tests the plain Python path")
    assert native.build_state() == "compiled", "run 'make setup' to compile (analyzer/native.py)"
    assert analyzer.native_state == "compiled"
    for name in native.COMPILED:
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        assert module.__file__ is not None and module.__file__.endswith(".so"), name


def _fake_tree(built: bool = True) -> None:
    """Empty sources under native.ROOT and, when built, a build of them."""
    for module in native.COMPILED:
        source = native.source_path(module)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
    if built:
        for module in native.extension_names():
            native.built_path(module).write_bytes(b"")
        _record(native.record_text(native.source_checksums()))


def _record(text: str) -> None:
    (native.ROOT / "analyzer" / native.BUILD_RECORD).write_text(text)


def test_build_state_names_why_the_sources_are_used(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    monkeypatch.setattr(native, "ROOT", tmp_path)
    _fake_tree(built=False)
    assert native.build_state() == "not built"
    _fake_tree()
    assert native.build_state() == "compiled"
    edited = tmp_path / "analyzer" / "tcp_state.py"
    edited.write_text("# edited\n")
    assert native.build_state() == "stale: analyzer/tcp_state.py changed since the build"
    edited.write_text("")
    assert native.build_state() == "compiled"
    native.built_path("analyzer.connections").unlink()
    assert native.build_state() == f"incomplete: {native.built_path('analyzer.connections').name} missing"
    _record(native.record_text(None, "the C compiler failed: command 'gcc'\nfailed with exit code 1"))
    assert (
        native.build_state() == "not compiled: the C compiler failed: command 'gcc' failed with exit code 1"
    )
    monkeypatch.setenv(native.PURE_VARIABLE, "1")
    assert native.build_state() == "disabled by HANDSHAKE_PURE=1"


def test_a_build_is_judged_by_its_sources_contents_not_their_dates(tmp_path, monkeypatch) -> None:
    """An installed wheel's files are dated by their unpacking, a clone's by its checkout."""
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    monkeypatch.setattr(native, "ROOT", tmp_path)
    _fake_tree()
    for module in native.COMPILED:
        os.utime(native.source_path(module), (4000, 4000))
    for module in native.extension_names():
        os.utime(native.built_path(module), (2000, 2000))
    assert native.build_state() == "compiled"


def test_a_build_of_other_modules_is_stale(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    monkeypatch.setattr(native, "ROOT", tmp_path)
    _fake_tree()
    _record(native.record_text({**native.source_checksums(), "analyzer/gone.py": "00000000"}))
    assert native.build_state() == "stale: built with analyzer/gone.py"
    _fake_tree()
    native.source_path("analyzer.timefmt").unlink()
    assert native.build_state() == "stale: analyzer/timefmt.py is gone"
    _fake_tree()
    _record("compiled\ncut off")  # a record written in part: never an error at import
    assert native.build_state() == "stale: analyzer/timefmt.py changed since the build"


def test_the_per_packet_path_is_described_for_people() -> None:
    assert native.describe("compiled") == "compiled"
    assert native.describe("not built") == "plain Python, not built"


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
    """JSON and text, each naming every file and at least `at_least` characters long (the
    text with every connection's block: --all unfolds the scans)."""
    for options in (["--json"], ["--all"]):
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


def test_extensions_no_build_makes_are_found_to_be_removed(tmp_path) -> None:
    suffix = native._SUFFIX
    kept = [tmp_path / native._file(m, suffix) for m in native.extension_names()]
    gone = tmp_path / "analyzer" / "output" / ("shares" + suffix)  # a module that moved
    for path in [*kept, gone]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert native.stale_extensions(tmp_path) == [gone]
