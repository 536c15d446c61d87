"""Where each share's lines go in the one document: the parent's arithmetic and the
share's renumbering (see analyzer.parallel for who sends what).

A share numbers its connections among themselves. What ties the shares together is small
(ShareIndex): per connection its first frame, the length of its line less the ids it
holds, and the share's id of the connection whose ports it reuses (same ports, so the
same share). From those alone the parent orders every connection (by first frame, the
order of ids in the whole file) and tells each line where it goes in the document. The
share keeps where in each line the ids are written (ShareLines: the encoder tells, from
the encoded length of the members up to each; nothing is searched for), writes the
file's ids there, and the lines where they go.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

from analyzer.output.spool import IdOrderedSpool

# The fields of a connection's line that hold connection ids, in the order ShareLines.add
# is told where their values lie.
RENUMBERED: Final = ("id", "reuses_ports_of")
_OWN_ID: Final = RENUMBERED[:1]


def renumbered_fields(reuses: int | None) -> tuple[str, ...]:
    """The fields of a connection's line its renumbering rewrites: its id, and the id of
    the connection whose ports it reuses if there is one (null stays null)."""
    return _OWN_ID if reuses is None else RENUMBERED


class ShareIndex:
    """What a share tells the parent about its lines, by its own connection id: all the
    parent needs to place them."""

    def __init__(self) -> None:
        self.firsts = array("q")  # first frame; -1: no connection has this id
        self.lengths = array("q")  # the line's length in bytes less the values it gets renumbered
        # The share's id of the connection whose ports it reuses, for the few that do.
        self.reuses: dict[int, int] = {}

    def add_first(self, ident: int, first: int) -> None:
        """Only the first frame (the text report: its blocks' lengths come later)."""
        missing = ident + 1 - len(self.firsts)
        if missing > 0:
            self.firsts.extend([-1] * missing)
        self.firsts[ident] = first

    def add(self, ident: int, first: int, length: int, reuses: int | None) -> None:
        self.add_first(ident, first)
        missing = ident + 1 - len(self.lengths)
        if missing > 0:
            self.lengths.extend([0] * missing)
        self.lengths[ident] = length
        if reuses is not None:
            self.reuses[ident] = reuses


class ShareLines:
    """What a share notes of the lines it spools, by its own connection id: the index it
    sends the parent, and where in each line the values of its renumbered fields begin and
    end, which it keeps to write the file's ids there (-1: its reused ports' id is null,
    and stays null)."""

    def __init__(self) -> None:
        self.index = ShareIndex()
        # Places within one line: C ints, half the memory of the index's 64-bit numbers.
        self.id_at = array("i")
        self.id_end = array("i")
        self.reuses_at = array("i")
        self.reuses_end = array("i")

    def add(self, ident: int, first: int, length: int, reuses: int | None, spans: list[int]) -> None:
        """`spans`: where the values of the line's renumbered_fields(reuses) begin and end."""
        missing = ident + 1 - len(self.id_at)
        if missing > 0:
            for column in (self.id_at, self.id_end, self.reuses_at, self.reuses_end):
                column.extend([-1] * missing)
        self.id_at[ident], self.id_end[ident] = spans[0], spans[1]
        values = spans[1] - spans[0]
        if reuses is not None:
            self.reuses_at[ident], self.reuses_end[ident] = spans[2], spans[3]
            values += spans[3] - spans[2]
        self.index.add(ident, first, length - values, reuses)


def file_ids(indexes: list[ShareIndex]) -> tuple[list[array[int]], array[int]]:
    """Per share, the file's id of each of its connections (by the share's id); and per
    file id, the share that has it. A share's ids follow its first frames, so the file's
    ids are the shares' merged by first frame: the shares are few, so each step looks at
    every share's next (a heap of tuples took a third of a second for a flood's million)."""
    ids = [array("q", [-1]) * len(index.firsts) for index in indexes]
    owners = array("H" if len(indexes) <= 0xFFFF else "q")  # 2 bytes a connection, not 8
    firsts = [index.firsts for index in indexes]
    following = [_with_connection(share_firsts, 0) for share_firsts in firsts]
    while True:
        best, best_first = -1, 0
        for share in range(len(firsts)):
            ident = following[share]
            if ident < len(firsts[share]):
                first = firsts[share][ident]
                if best < 0 or first < best_first:  # equal firsts: the lower share first
                    best, best_first = share, first
        if best < 0:
            return ids, owners
        ident = following[best]
        ids[best][ident] = len(owners)
        owners.append(best)
        following[best] = _with_connection(firsts[best], ident + 1)


def _with_connection(firsts: array[int], ident: int) -> int:
    """The first id from `ident` on that a connection has (len(firsts): none)."""
    while ident < len(firsts) and firsts[ident] < 0:
        ident += 1
    return ident


def positions(
    indexes: list[ShareIndex], ids: list[array[int]], owners: array[int], start: int,
    between: Callable[[int], bytes] | None = None,
) -> array[int]:  # fmt: skip
    """Where each connection's part of the report begins (its separator, then its line as
    renumbered), by file id, counting from `start`; one more: where the last ends. A line
    of length -1 is not in the report (a text block folded into a scan): its part is empty.
    `between`: what comes before each part, by file id (the JSON document's separator by
    default)."""
    before = between or separator
    # Each share's next id: its file ids rise with its own (file_ids), so walking the file
    # ids finds each share's in order, with no table from file id back to share id.
    following = [0] * len(indexes)
    where = array("q", [start])
    at = start
    for file_id, share in enumerate(owners):
        index, share_ids, ident = indexes[share], ids[share], following[share]
        while share_ids[ident] != file_id:
            ident += 1  # an id with no connection (-1)
        following[share] = ident + 1
        length = index.lengths[ident]
        if length >= 0:
            length += _digits(file_id)
            reused = index.reuses.get(ident, -1)
            if reused >= 0:
                length += _digits(ids[share][reused])
            at += len(before(file_id)) + length
        where.append(at)
    return where


def _digits(number: int) -> int:
    """How many decimal digits a number that is not negative has (counted, not printed)."""
    digits = 1
    while number >= 10:
        number //= 10
        digits += 1
    return digits


def separator(file_id: int) -> bytes:
    """What comes before a connection's line in the document: the first opens the array on
    a new line (json_report.write_framed writes the same)."""
    return b"\n" if file_id == 0 else b",\n"


def placed_parts(
    lines: Iterator[tuple[int, bytes]], noted: ShareLines, ids: array[int], where: array[int]
) -> Iterator[tuple[int, bytes]]:
    """A share's parts of the document, for its lines as (share's id, line): (where it goes,
    separator and line renumbered with the file's ids)."""
    reuses = noted.index.reuses
    for ident, line in lines:
        file_id = ids[ident]
        reused = reuses.get(ident, -1)
        part = renumbered(line, noted, ident, file_id, ids[reused] if reused >= 0 else -1, separator(file_id))
        if len(part) != where[file_id + 1] - where[file_id]:
            raise RuntimeError(f"connection {file_id}: its line is not the length it was placed for")
        yield where[file_id], part


def placed_blocks(
    blocks: Iterator[tuple[int, bytes]], lengths: array[int], ids: array[int], where: array[int]
) -> Iterator[tuple[int, bytes]]:
    """A share's parts of the text report, for its blocks as (share's id, block): (where it
    goes, block as printed with the file's id); those of length -1 are not printed."""
    from analyzer.output.text_report import renumbered_block

    for ident, block in blocks:
        if lengths[ident] < 0:
            continue
        file_id = ids[ident]
        part = renumbered_block(block, ident, file_id)
        if len(part) != where[file_id + 1] - where[file_id]:
            raise RuntimeError(f"connection {file_id}: its block is not the length it was placed for")
        yield where[file_id], part


Parts = Callable[[Iterator[tuple[int, bytes]]], Iterator[tuple[int, bytes]]]


def write_placed(spool: IdOrderedSpool, parts: Parts, out: int | BinaryIO) -> None:
    """A share's parts (`parts` makes them from the spool's (id, text)) into the output: at
    their places in the file descriptor `out`, in the order the spool holds them (read
    straight through); or in id order into the pipe `out` (the parent takes them in the
    order of the report)."""
    if isinstance(out, int):
        for at, part in parts(spool.stored_items()):
            write_at(out, part, at)
    else:
        for _at, part in parts(spool.encoded_items()):
            out.write(part)


def write_at(descriptor: int, data: bytes, at: int) -> None:
    """All of `data` at offset `at` of the file (a write may take less than it is given)."""
    done = 0
    while done < len(data):
        done += os.pwrite(descriptor, data[done:] if done else data, at + done)


def renumbered(
    line: bytes, noted: ShareLines, ident: int, file_id: int, reused: int, before: bytes = b""
) -> bytes:
    """The share's line `ident` with the file's ids, after `before`: `file_id` for its own,
    and `reused` (-1: none) for the connection whose ports it reuses. They are written
    where the share noted the line has them, in whichever order they come."""
    own = (noted.id_at[ident], noted.id_end[ident], str(file_id).encode())
    if reused < 0:
        return b"".join((before, line[: own[0]], own[2], line[own[1] :]))
    other = (noted.reuses_at[ident], noted.reuses_end[ident], str(reused).encode())
    first, second = (own, other) if own[0] < other[0] else (other, own)
    return b"".join(
        (before, line[: first[0]], first[2], line[first[1] : second[0]], second[2], line[second[1] :])
    )
