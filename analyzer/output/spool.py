"""Rendered connections kept in id order without keeping them in memory.

Connections are over in whatever order their closes come; reports list them by id (the
order of their first packets). Each rendered text is kept in memory while the spool is
small and in an anonymous temporary file past SPOOL_BYTES, and comes back in id order at
the end. The file is a plain buffered one: tempfile.SpooledTemporaryFile would do the
same, but through Python methods run for every connection.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterator
from typing import IO

SPOOL_BYTES = 4 << 20


class IdOrderedSpool:
    def __init__(self) -> None:
        self._memory = bytearray()
        self._file: IO[bytes] | None = None  # once the texts outgrow SPOOL_BYTES
        self._size = 0
        self._offsets = array("q")
        self._lengths = array("q")
        self._added = array("q")  # the ids in the order they were added: the file's order

    def add(self, ident: int, data: bytes) -> None:
        """Keep `data`, UTF-8 text, for `ident` (each id once)."""
        missing = ident + 1 - len(self._offsets)
        if missing > 0:
            self._offsets.extend([-1] * missing)
            self._lengths.extend([0] * missing)
        self._offsets[ident] = self._size
        self._lengths[ident] = len(data)
        self._added.append(ident)
        self._size += len(data)
        if self._file is not None:
            self._file.write(data)
            return
        self._memory += data
        if len(self._memory) > SPOOL_BYTES:
            # Written in pieces of a megabyte, not of the 8 KiB default: a system call for
            # every two or three connections was a third of the spool's time.
            file = tempfile.TemporaryFile("w+b", buffering=1 << 20)  # noqa: SIM115 - closed by close()
            file.write(self._memory)
            self._file = file
            self._memory = bytearray()

    def __len__(self) -> int:
        return sum(1 for offset in self._offsets if offset >= 0)

    def length(self, ident: int) -> int:
        """The length of the text kept for `ident`, in bytes (one that is kept)."""
        return self._lengths[ident]

    def ids(self) -> Iterator[int]:
        """The ids kept, in order, without reading their texts."""
        for ident, offset in enumerate(self._offsets):
            if offset >= 0:
                yield ident

    def __iter__(self) -> Iterator[str]:
        # A generator function: a generator expression, compiled, is a list (docs/mypyc.md),
        # which would hold the whole report in memory.
        for _ident, text in self.items():
            yield text

    def items(self) -> Iterator[tuple[int, str]]:
        """(id, text) in id order."""
        for ident, data in self.encoded_items():
            yield ident, data.decode()

    def encoded_items(self) -> Iterator[tuple[int, bytes]]:
        """(id, text as added) in id order."""
        file, memory = self._file, self._memory
        if file is not None:
            file.flush()
        for ident, (offset, length) in enumerate(zip(self._offsets, self._lengths, strict=True)):
            if offset < 0:
                continue
            if file is None:
                yield ident, bytes(memory[offset : offset + length])
            else:
                # Read where it lies, past the file's buffer: made to write in large pieces,
                # it would fill itself anew for every text read out of order.
                yield ident, os.pread(file.fileno(), length, offset)

    def stored_items(self) -> Iterator[tuple[int, bytes]]:
        """(id, text as added) in the order they were added: read straight through, in
        the file's large pieces, where encoded_items reads each text where it lies."""
        file, memory = self._file, self._memory
        if file is not None:
            file.flush()
            file.seek(0)
        try:
            for ident in self._added:
                offset, length = self._offsets[ident], self._lengths[ident]
                yield (
                    ident,
                    file.read(length) if file is not None else bytes(memory[offset : offset + length]),
                )
        finally:
            if file is not None and not file.closed:
                file.seek(0, 2)  # more may be added after a read-back

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._memory = bytearray()
