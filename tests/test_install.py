"""The package as users install it: `pip install <clone>` into a fresh virtual environment
compiles the per-packet path (setup.py) and analyzes as the build in place does, byte for
byte; without a C compiler it installs the plain sources, which say why and analyze the same.

Slow (two builds: about four minutes on two cores; `-m "not install"` leaves them out), and
pip needs PyPI for the build's requirements and the package's dependencies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, stored_captures

from analyzer import native

# Its module fixture is costly: one worker runs all of it (make test: --dist loadgroup).
pytestmark = [pytest.mark.install, pytest.mark.xdist_group("install")]


def _clone(destination: Path) -> Path:
    """The working tree as a clone would have it: tracked and new files, nothing ignored
    (no build, no compiled modules)."""
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout: no list of the files a clone has")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def _environment(**variables: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in (native.PURE_VARIABLE, "PYTHONPATH")}
    return {**environment, **variables}


def _pip_install(venv: Path, clone: Path, *options: str, **variables: str) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *options, str(clone)],
        capture_output=True, text=True, env=_environment(**variables), timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    place = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "venv", str(place / "venv")], check=True)
    _pip_install(place / "venv", _clone(place / "clone"))
    return place / "venv"


def _handshake(venv: Path, *arguments: str) -> str:
    """The installed command, run from the repository (relative file names in the reports):
    its own package, not the one in the working directory (sys.path starts at venv/bin)."""
    result = subprocess.run(
        [str(venv / "bin" / "handshake"), *arguments],
        capture_output=True, text=True, cwd=ROOT, env=_environment(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _installed_package(venv: Path) -> Path:
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import analyzer; print(analyzer.__file__)"],
        capture_output=True, text=True, cwd=venv, env=_environment(), check=True,
    ).stdout.strip()  # fmt: skip
    package = Path(found).parent
    assert package.is_relative_to(venv), package
    return package


def _in_place_reports(*options: str) -> str:
    """The same analyses by this checkout (`make setup`'s build in place)."""
    result = subprocess.run(
        [sys.executable, "-m", "analyzer", "analyze", "--quiet", *options, *_captures()],
        capture_output=True, text=True, cwd=ROOT, env=_environment(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _captures() -> list[str]:
    return [str(path.relative_to(ROOT)) for path in stored_captures()]


def test_pip_install_of_a_clone_is_compiled_and_analyzes_as_the_build_in_place(venv: Path) -> None:
    assert _handshake(venv, "--version") == "handshake-analyzer 0.1.0 (per-packet path: compiled)\n"
    package = _installed_package(venv)
    assert len(list(package.rglob("*.so"))) == len(native.extension_names())
    for options in (["--json"], []):
        installed = _handshake(venv, "analyze", "--quiet", *options, *_captures())
        assert installed.count("captures/") >= len(_captures())
        assert installed == _in_place_reports(*options), options


def test_without_a_c_compiler_the_plain_sources_are_installed_and_say_why(venv: Path, tmp_path) -> None:
    # A fresh clone: the first one's build/ holds its compiled modules, up to date, which
    # the build would take as they are without calling the compiler.
    _pip_install(venv, _clone(tmp_path), "--no-deps", "--force-reinstall", CC="/bin/false")
    assert _handshake(venv, "--version") == (
        "handshake-analyzer 0.1.0 (per-packet path: plain Python, not compiled: "
        "the C compiler failed: /bin/false exited with status 1)\n"
    )
    assert list(_installed_package(venv).rglob("*.so")) == []
    assert _handshake(venv, "analyze", "--quiet", "--json", *_captures()) == _in_place_reports("--json")
