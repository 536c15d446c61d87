"""The benchmark's captures, made once into a folder outside git and found there after.

BENCH_CACHE, default ~/.cache/handshake-analyzer/bench. Each file's name carries its
generator's version, so a changed generator writes new files beside the old ones. A file
is made under a `.partial` name and renamed with its side files (truth, what a recording
made) and its packet count only once all are complete: an interrupted run leaves nothing
that a later one would take for finished.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "handshake-analyzer" / "bench"
    # Absolute: the tools run in other folders (timing.py).
    return Path(os.environ.get("BENCH_CACHE", default)).expanduser().absolute()


def find(name: str, sides: Sequence[str] = ()) -> tuple[Path, int] | None:
    """(the cached file `name`, its packets), if it is there complete."""
    path = cache_dir() / name
    count_file = path.with_name(name + ".packets")
    if path.exists() and count_file.exists() and all(path.with_name(name + s).exists() for s in sides):
        return path, int(count_file.read_text())
    return None


def cached(
    name: str, make: Callable[[Path], int], sides: Sequence[str] = (), verb: str = "generating"
) -> tuple[Path, int]:
    """(the cached file `name`, its packets); `make(path)` writes it (and `<path><side>` for
    each of `sides`) and returns its packets, when it is not there yet."""
    found = find(name, sides)
    if found is not None:
        return found
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    print(f"{verb} {path} ...", file=sys.stderr, flush=True)
    partial = path.with_name(name + ".partial")
    try:
        count = make(partial)
        for side in sides:
            partial.with_name(partial.name + side).replace(path.with_name(name + side))
        partial.replace(path)
        path.with_name(name + ".packets").write_text(str(count))
    finally:
        partial.unlink(missing_ok=True)
        for side in sides:
            partial.with_name(partial.name + side).unlink(missing_ok=True)
    return path, count
