"""Rendered connections kept in id order without keeping them in memory.

Connections are over in whatever order their closes come; reports list them by id (the
order of their first packets). Each rendered text goes to a spooled temporary file
(in memory while small, on disk past SPOOL_BYTES) and comes back in id order at the end.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator

SPOOL_BYTES = 16 << 20


class IdOrderedSpool:
    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")  # noqa: SIM115
        self._offsets = array("q")
        self._lengths = array("q")

    def add(self, ident: int, text: str) -> None:
        data = text.encode()
        missing = ident + 1 - len(self._offsets)
        if missing > 0:
            self._offsets.extend([-1] * missing)
            self._lengths.extend([0] * missing)
        self._offsets[ident] = self._file.tell()
        self._lengths[ident] = len(data)
        self._file.write(data)

    def __len__(self) -> int:
        return sum(1 for offset in self._offsets if offset >= 0)

    def __iter__(self) -> Iterator[str]:
        # A generator, not a generator expression: mypyc compiles the latter into a list,
        # which would hold the whole report in memory.
        for _ident, text in self.items():
            yield text

    def items(self) -> Iterator[tuple[int, str]]:
        """(id, text) in id order."""
        end = self._file.tell()
        try:
            for ident, (offset, length) in enumerate(zip(self._offsets, self._lengths, strict=True)):
                if offset >= 0:
                    self._file.seek(offset)
                    yield ident, self._file.read(length).decode()
        finally:
            self._file.seek(end)

    def close(self) -> None:
        self._file.close()
