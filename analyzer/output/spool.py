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
    """Texts by id, given in any order, read back in id order or as added. What it keeps of
    each text besides the text: its id and length, in the order added (16 bytes); only for
    the ids given: a report that spools a few connections of millions (the text report of
    a flood folds the others) keeps those few. The id order is found when read back."""

    def __init__(self) -> None:
        self._memory = bytearray()
        self._file: IO[bytes] | None = None  # once the texts outgrow SPOOL_BYTES
        self._size = 0
        self._added = array("q")  # the ids in the order they were added: the file's order
        self._lengths = array("q")  # by the same place

    def add(self, ident: int, data: bytes) -> None:
        """Keep `data`, UTF-8 text, for `ident` (each id once)."""
        self._added.append(ident)
        self._lengths.append(len(data))
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
        return len(self._added)

    def _places(self) -> array[int]:
        """By id, where its text was added (its place in _added), -1 for ids not added:
        made when read back, not kept."""
        added = self._added
        # 4 bytes an id: 2**31 texts would not fit in memory anyway.
        places = array("i", [-1]) * (max(added) + 1 if added else 0)
        for place, ident in enumerate(added):
            places[ident] = place
        return places

    def ids(self) -> Iterator[int]:
        """The ids kept, in order, without reading their texts."""
        for ident, _length in self.id_lengths():
            yield ident

    def id_lengths(self) -> Iterator[tuple[int, int]]:
        """(id, length of its text in bytes), in id order, without reading the texts."""
        lengths = self._lengths
        for ident, place in enumerate(self._places()):
            if place >= 0:
                yield ident, lengths[place]

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
        lengths = self._lengths
        offsets = array("q", [0]) * len(lengths)  # by place: the texts lie in the order added
        size = 0
        for place, length in enumerate(lengths):
            offsets[place] = size
            size += length
        for ident, place in enumerate(self._places()):
            if place < 0:
                continue
            offset, length = offsets[place], lengths[place]
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
            offset = 0
            for ident, length in zip(self._added, self._lengths, strict=True):
                yield (
                    ident,
                    file.read(length) if file is not None else bytes(memory[offset : offset + length]),
                )
                offset += length
        finally:
            if file is not None and not file.closed:
                file.seek(0, 2)  # more may be added after a read-back

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._memory = bytearray()
