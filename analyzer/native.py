"""The analyzer's per-packet path compiled to C with mypyc, and the way back to plain Python.

The modules in COMPILED are ordinary typed Python, written for mypyc (docs/mypyc.md). The
build (setup.py, for `pip install .`, a wheel, and `make setup` in place) compiles them into
extension modules, which Python imports in preference to the .py files beside them: the
same code, four to five times as fast. The sources stay the one definition and are
installed beside their build.

The build leaves a record beside the modules: the checksum of every source it compiled, or
why it compiled nothing (no C compiler, say). Every module is imported from its source
instead when HANDSHAKE_PURE=1 is set, or when the build is missing, incomplete, or was made
from other sources than these (edited since: a stale build would run old code). Checksums,
not dates: an installed wheel's files are dated by their unpacking. Reading the sources and
checking them takes as long at start-up as comparing their dates did (a millisecond or two,
measured alternately). Both ways give the same reports, byte for byte (tests/test_native.py).

This module is imported before any of them (by analyzer/__init__.py), so it is never
compiled; setup.py reads it by its path for what to compile and how.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import zlib
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

COMPILED = (
    "analyzer.timefmt",
    "analyzer.decode.fields",
    "analyzer.decode.segment",
    "analyzer.parallel.partition",
    "analyzer.decode.capture_file",
    "analyzer.decode.undecodable",
    "analyzer.decode.link_layer",
    "analyzer.decode.tunnels",
    "analyzer.decode.addresses",
    "analyzer.decode.ip_tcp",
    "analyzer.decode.udp_icmp",
    "analyzer.decode.point_clocks",
    "analyzer.decode.reader",
    "analyzer.flow_key",
    "analyzer.held_attempt",
    "analyzer.packed_segments",
    "analyzer.connections",
    "analyzer.tcp_state",
    "analyzer.findings.resends",
    "analyzer.loss_inference",
    "analyzer.findings.handshake",
    "analyzer.findings.backoff",
    "analyzer.findings.close",
    "analyzer.findings.resets",
    "analyzer.findings.retransmissions",
    "analyzer.findings.gaps",
    "analyzer.findings.zeek_conn",
    "analyzer.findings.compatibility",
    "analyzer.findings.diagnoses",
    "analyzer.findings.vantage",
    "analyzer.findings.scans",
    "analyzer.findings.links",
    "analyzer.long_connection",
    "analyzer.arrivals",
    "analyzer.attempt_shapes",
    "analyzer.analysis",
    "analyzer.output.spool",
    "analyzer.parallel.placement",
    "analyzer.output.json_report",
    "analyzer.output.text_report",
)
# mypyc puts the code of all of them in one shared library, imported as this module + "__mypyc";
# each module's own extension module is a stub that loads it.
GROUP = "analyzer._native"
# Type errors in the compiled modules fail the build; the modules they import are only
# read for their types.
MYPYC_OPTIONS = ("--follow-imports=silent", "--ignore-missing-imports")
MYPYC_OPT_LEVEL = "3"
PURE_VARIABLE = "HANDSHAKE_PURE"
# Beside the modules: "compiled" and a line "<CRC-32> <path>" for every source the build
# read, or one line "not compiled: <why>".
BUILD_RECORD = "native-build.txt"

ROOT = Path(__file__).resolve().parent.parent
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def _file(module: str, suffix: str) -> str:
    """The module's file under ROOT, as the record names it: analyzer/tcp_state.py."""
    return module.replace(".", "/") + suffix


def source_path(module: str) -> Path:
    return ROOT / _file(module, ".py")


def built_path(module: str) -> Path:
    return ROOT / _file(module, _SUFFIX)


def extension_names() -> list[str]:
    """The extension modules a build makes: the shared library, and a stub for each module."""
    return [GROUP + "__mypyc", *COMPILED]


def source_checksums() -> dict[str, str]:
    """CRC-32 of each compiled module's source, by its path under ROOT. A checksum, not a
    cryptographic hash: it tells an edited file from its build (hashlib would add 3 ms to
    every start, loading OpenSSL). Paths as strings: pathlib's would double the time."""
    root, checksums = str(ROOT), {}
    for module in COMPILED:
        name = _file(module, ".py")
        with open(os.path.join(root, name), "rb") as source:
            checksums[name] = f"{zlib.crc32(source.read()):08x}"
    return checksums


def record_text(checksums: dict[str, str] | None, why_not: str | None = None) -> str:
    """The build record: of a build from sources with these checksums, or of one that
    compiled nothing, and why (on one line)."""
    if checksums is None:
        return "not compiled: " + " ".join(str(why_not).split()) + "\n"
    return "compiled\n" + "".join(f"{crc} {path}\n" for path, crc in checksums.items())


def build_state() -> str:
    """'compiled', or why the sources are used: 'disabled by HANDSHAKE_PURE=1', 'not built',
    'not compiled: <why>', 'incomplete: <library> missing', 'stale: <source> changed since
    the build'."""
    if os.environ.get(PURE_VARIABLE):
        return f"disabled by {PURE_VARIABLE}={os.environ[PURE_VARIABLE]}"
    try:
        record = (ROOT / "analyzer" / BUILD_RECORD).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return "not built"
    if not record or record[0] != "compiled":
        return record[0] if record else "not built"
    root = str(ROOT)
    missing = [m for m in extension_names() if not os.path.exists(os.path.join(root, _file(m, _SUFFIX)))]
    if missing:
        return f"incomplete: {', '.join(built_path(m).name for m in missing)} missing"
    built = {path: crc for crc, _, path in (line.partition(" ") for line in record[1:])}
    try:
        current = source_checksums()
    except FileNotFoundError as error:
        return f"stale: {os.path.relpath(error.filename, ROOT)} is gone"
    for path, crc in current.items():
        if built.get(path) != crc:
            return f"stale: {path} changed since the build"
    if built.keys() != current.keys():
        return f"stale: built with {', '.join(sorted(built.keys() - current.keys()))}"
    return "compiled"


def describe(state: str) -> str:
    """What runs the per-packet path, for --version and the benchmark."""
    return state if state == "compiled" else f"plain Python, {state}"


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


def mypyc_extensions() -> list[Any]:
    """Have mypyc write the C of COMPILED (under build/): the extension modules to compile.
    Half a minute; raises SystemExit on a type error, ImportError without mypy."""
    from mypyc.build import mypycify

    sources = [_file(m, ".py") for m in COMPILED]
    return mypycify([*MYPYC_OPTIONS, *sources], opt_level=MYPYC_OPT_LEVEL, group_name=GROUP)


def build() -> None:
    """Compile COMPILED in place, through setup.py as a wheel is built (`make setup`, in a
    clone); silent when the build is up to date or HANDSHAKE_PURE is set."""
    state = build_state()
    if state == "compiled" or state.startswith("disabled"):
        return
    print(f"native: {state}; compiling {len(COMPILED)} modules with mypyc (about 30 s)", flush=True)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT, check=True)
    for left in stale_extensions():
        left.unlink()
    print(f"native: {describe(build_state())}")


def stale_extensions(root: Path = ROOT) -> list[Path]:
    """Extension modules in the package that no build makes any more (a module moved or no
    longer compiled): imported ahead of the sources, its stub would look in the shared
    library for code that is not there."""
    made = {root / _file(m, _SUFFIX) for m in extension_names()}
    return sorted(p for p in (root / "analyzer").rglob("*" + _SUFFIX) if p not in made)
