"""The build: the package pyproject.toml describes, its per-packet path compiled by mypyc
(analyzer/native.py says which modules, and how) where that can be done, and its plain
sources alone, with a warning, where not: no C compiler, no Python headers, mypyc failing.

`pip install .`, `python -m build` and `make setup` (in place) all build through here. The
build leaves a record beside the modules that tells the installed package which of the two
it got, and why (`handshake --version`).
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

# By its path: importing the package would choose between its compiled and plain modules.
_spec = importlib.util.spec_from_file_location("native", Path(__file__).parent / "analyzer" / "native.py")
assert _spec is not None and _spec.loader is not None
native = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(native)


class BuildNative(build_ext):
    """Has mypyc write the C of the extension modules, compiles it, and records the build;
    when either step fails, builds none and records why."""

    def run(self) -> None:
        # Read before mypyc reads them: a source edited during the build leaves it stale.
        checksums = native.source_checksums()
        why_not = self._write_c() or self._compile()
        if why_not is None:
            record = native.record_text(checksums)
        else:
            self.warn(f"the per-packet path is not compiled ({why_not}); "
                      "the plain Python sources are used, four to five times slower")  # fmt: skip
            for name in native.extension_names():  # an earlier build's, in place or in build/
                Path(self.get_ext_fullpath(name)).unlink(missing_ok=True)
            self.extensions = []
            record = native.record_text(None, why_not)
        # Beside the modules: in place, or in the build a wheel is made of.
        modules = Path(self.get_ext_fullpath(native.GROUP + "__mypyc")).parent
        modules.mkdir(parents=True, exist_ok=True)
        (modules / native.BUILD_RECORD).write_text(record, encoding="utf-8")

    def _write_c(self) -> str | None:
        """Fill in the extension modules named in setup() with what mypyc wrote; why not."""
        try:
            written = {extension.name: extension for extension in native.mypyc_extensions()}
        except ImportError as error:
            return f"mypyc is not installed: {error}"
        except SystemExit as error:  # mypyc's way out, after printing the errors it found
            return f"mypyc failed: {error.code}" if isinstance(error.code, str) else "mypyc found errors"
        if written.keys() != {extension.name for extension in self.extensions}:
            return f"mypyc wrote other extension modules than named: {', '.join(sorted(written))}"
        for extension in self.extensions:
            vars(extension).update(
                (key, value)
                for key, value in vars(written[extension.name]).items()
                if not key.startswith("_")
            )
        return None

    def _compile(self) -> str | None:
        try:
            super().run()
        except (CCompilerError, ExecError, PlatformError) as error:
            command = error.__cause__ or error.__context__
            if isinstance(command, subprocess.CalledProcessError):  # not its whole command line
                return f"the C compiler failed: {command.cmd[0]} exited with status {command.returncode}"
            return f"the C compiler failed: {error}"
        return None


setup(
    # One for each compiled module and one for the shared library that holds their code,
    # named here so that the wheel is built for this platform. What they are made of mypyc
    # writes when build_ext runs (half a minute), not each time pip asks for the metadata.
    ext_modules=[Extension(name, sources=[]) for name in native.extension_names()],
    cmdclass={"build_ext": BuildNative},
)
