"""The analyzer's per-packet path compiled to C with mypyc, and the way back to plain Python.

The modules in COMPILED are ordinary typed Python. `build()` (run by `make setup`) compiles
them in place into extension modules, which Python imports in preference to the .py files
beside them: the same code, four to five times as fast, being written for mypyc (classes with
their own __init__, Final constants, bytes read by index: see README). The sources stay the
one definition.
Every module is imported from its source instead when HANDSHAKE_PURE=1 is set, or when the
build is incomplete or older than any of the sources (edited since: a stale build would run
old code). Both ways give the same reports, byte for byte (tests/test_native.py).

This module is imported before any of them (by analyzer/__init__.py), so it is never compiled.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

COMPILED = (
    "analyzer.timefmt",
    "analyzer.decode.fields",
    "analyzer.decode.segment",
    "analyzer.decode.capture_file",
    "analyzer.decode.link_layer",
    "analyzer.decode.ip_tcp",
    "analyzer.decode.udp_icmp",
    "analyzer.decode.reader",
    "analyzer.connections",
    "analyzer.tcp_state",
    "analyzer.findings.resends",
    "analyzer.loss_inference",
    "analyzer.findings.handshake",
    "analyzer.findings.backoff",
    "analyzer.findings.close",
    "analyzer.findings.resets",
    "analyzer.findings.retransmissions",
    "analyzer.findings.zeek_conn",
    "analyzer.findings.compatibility",
    "analyzer.analysis",
    "analyzer.output.spool",
    "analyzer.output.shares",
    "analyzer.output.json_report",
)
# mypyc puts the code of all of them in one shared library, imported as this module.
GROUP = "analyzer._native"
PURE_VARIABLE = "HANDSHAKE_PURE"

ROOT = Path(__file__).resolve().parent.parent
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def source_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def built_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_name(module.rsplit(".", 1)[-1] + _SUFFIX)


def _shared_library() -> Path:
    return built_path(GROUP + "__mypyc")


def build_state() -> str:
    """'compiled', or why the sources are used: 'disabled (HANDSHAKE_PURE=1)', 'not built',
    'incomplete (...)', 'stale (... is newer than its build)'."""
    if os.environ.get(PURE_VARIABLE):
        return f"disabled ({PURE_VARIABLE}={os.environ[PURE_VARIABLE]})"
    try:
        built = _shared_library().stat().st_mtime
    except FileNotFoundError:
        return "not built"
    missing = [built_path(m).name for m in COMPILED if not built_path(m).exists()]
    if missing:
        return f"incomplete ({', '.join(missing)} missing)"
    # The code of every module is in the shared library; the modules' own libraries are
    # stubs that load it, left as they are when a rebuild does not change them.
    for module in COMPILED:
        if source_path(module).stat().st_mtime > built:
            return f"stale ({source_path(module).relative_to(ROOT)} is newer than its build)"
    return "compiled"


class _SourceFinder(MetaPathFinder):
    """Finds the compiled modules' .py files, ahead of the extension modules beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname in COMPILED:
            return importlib.util.spec_from_file_location(fullname, source_path(fullname))
        return None


def choose() -> str:
    """Import the compiled modules from their sources unless the build is usable; the state."""
    state = build_state()
    if state != "compiled" and not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())
    return state


def build() -> None:
    """Compile COMPILED in place (intermediate files under build/native); silent when the
    build is up to date or HANDSHAKE_PURE is set."""
    state = build_state()
    if state == "compiled" or state.startswith("disabled"):
        return
    from mypyc.build import mypycify
    from setuptools import Distribution

    os.chdir(ROOT)
    sources = [str(source_path(module).relative_to(ROOT)) for module in COMPILED]
    print(f"native: {state}; compiling {len(sources)} modules with mypyc (about 30 s)", flush=True)
    # Type errors in the compiled modules fail the build; the modules they import are
    # only read for their types.
    options = ["--follow-imports=silent", "--ignore-missing-imports"]
    # A bare Distribution: setup() would read pyproject.toml, which describes the package.
    distribution = Distribution(
        {"name": "handshake-analyzer-native",
         "ext_modules": mypycify(options + sources, opt_level="3", group_name=GROUP)}
    )  # fmt: skip
    distribution.script_args = ["-q", "build_ext", "--inplace", "--build-temp", "build/native"]
    distribution.parse_command_line()
    started = time.time()
    distribution.run_commands()
    mark_built(started)
    print(f"native: {build_state()}")


def mark_built(started: float) -> None:
    """Date the shared library no earlier than the build that just ended, which started at
    `started`. An edit that leaves the generated C as it was (a comment, a docstring) makes
    build_ext keep the old library, whose date would leave the build stale for good. A
    source edited while the compiler ran is newer still: it stays stale."""
    library = _shared_library()
    if library.stat().st_mtime < started:
        os.utime(library, (started, started))
