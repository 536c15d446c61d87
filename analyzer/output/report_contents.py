"""What the HTML report keeps of a file's connections: fed each one as its analysis is done,
in any order (analysis.FileStream.results), it holds a bounded number whole and counts the
rest, so that the page of a capture of a million connections is made in the memory of a few
hundred (`handshake report` held every analysis: 730 MB for 50,000 connections).

Held whole: the table's rows (the MAX_ROWS connections of the lowest ids); those that may be
drawn (the connection asked for, or the first worth a look; and of each outcome the
MAX_SECTIONS + 1 worth a section with the most packets, html_report's rule of which to draw,
one more for the one asked for, which is drawn besides). Counted or summed: every outcome, the
overview's rows (overview_chart.Overview keeps its own best), the diagnoses (the MAX_ROWS of
the lowest ids listed), and the other tools' codes the glossary explains.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from analyzer.analysis import ConnectionAnalysis, Diagnosis
from analyzer.output.overview_chart import Overview, keep_greatest, outcome

MAX_ROWS: Final = 500  # connections listed in the table; the JSON has them all
# Connections drawn in sections of their own (each a ladder and a timeline): the one asked
# for, then those worth a look in id order. More would make a page too slow to open.
MAX_SECTIONS: Final = 12


def resent_count(result: ConnectionAnalysis) -> int:
    """Its segments sent again: those whose first copy the capture holds, and those that
    filled a gap in their sender's numbers (the first copy lost before the capture point:
    helper-122's bottleneck connections said "resends 0" beside a ladder of retransmissions)."""
    gaps = result.gaps
    return len(result.resends) + (len(gaps.resent) if gaps is not None else 0)


def worth_a_section(result: ConnectionAnalysis) -> bool:
    """A RST, a resend, an unfinished handshake or an expiry (`interesting`), or a diagnosis."""
    return bool(result.interesting or result.diagnoses or resent_count(result))


@dataclass
class ReportContents:
    """Fed every connection (add); `wanted`: the connection asked for, as --connection gives
    it (a UDP flow's "U0" asks for none of them)."""

    wanted: int | str | None = None
    count: int = 0  # connections fed
    outcomes: Counter[str] = field(default_factory=Counter)
    overview: Overview = field(default_factory=Overview)
    # The MAX_ROWS lowest ids: a heap of (-id, result), its root the highest kept.
    _first: list[tuple[int, ConnectionAnalysis]] = field(default_factory=list)
    # By outcome, those worth a section with the most packets (then the lowest id): a heap of
    # ((packets, -id), result), its root the one least likely drawn; how many are worth one,
    # and the two lowest ids among them (the outcomes' order, as html_report meets them, the
    # connection asked for left out).
    _worth: dict[str, list[tuple[tuple[int, int], ConnectionAnalysis]]] = field(default_factory=dict)
    worth_counts: Counter[str] = field(default_factory=Counter)
    worth_first: dict[str, list[int]] = field(default_factory=dict)
    asked: ConnectionAnalysis | None = None  # the connection `wanted`
    first_interesting: ConnectionAnalysis | None = None
    # The diagnoses of the lowest ids: a heap of ((-id, -index), diagnosis); all counted.
    _diagnosed: list[tuple[tuple[int, int], Diagnosis]] = field(default_factory=list)
    diagnosed_count: int = 0
    zeek_states: set[str] = field(default_factory=set)
    zeek_letters: set[str] = field(default_factory=set)
    flag_kinds: set[str] = field(default_factory=set)

    def add(self, result: ConnectionAnalysis) -> None:
        key = result.connection.id
        self.count += 1
        kind = outcome(result)
        self.outcomes[kind] += 1
        self.overview.add(result)
        keep_greatest(self._first, (-key, result), MAX_ROWS)
        if key == self.wanted:
            self.asked = result
        if result.interesting and (
            self.first_interesting is None or key < self.first_interesting.connection.id
        ):
            self.first_interesting = result
        if worth_a_section(result):
            self.worth_counts[kind] += 1
            self.worth_first[kind] = sorted([*self.worth_first.get(kind, []), key])[:2]
            heap = self._worth.setdefault(kind, [])
            keep_greatest(heap, ((result.connection.packets, -key), result), MAX_SECTIONS + 1)
        for index, diagnosis in enumerate(result.diagnoses):
            self.diagnosed_count += 1
            keep_greatest(self._diagnosed, ((-key, -index), diagnosis), MAX_ROWS)
        zeek = result.compatibility.zeek
        self.zeek_states.add(zeek.conn_state)
        self.zeek_letters.update(letter.upper() for letter in zeek.history)
        for kinds in result.sequence.flags.values():
            self.flag_kinds.update(kinds)

    def results(self) -> list[ConnectionAnalysis]:
        """Every connection held whole, in id order."""
        held = {r.connection.id: r for _key, r in self._first}
        for heap in self._worth.values():
            held.update((r.connection.id, r) for _key, r in heap)
        for extra in (self.asked, self.first_interesting):
            if extra is not None:
                held[extra.connection.id] = extra
        return [held[key] for key in sorted(held)]

    def listed(self) -> list[ConnectionAnalysis]:
        """The table's rows before any drawn beyond them: the MAX_ROWS lowest ids."""
        return sorted((r for _key, r in self._first), key=lambda r: r.connection.id)

    def section_queues(self, chosen: ConnectionAnalysis | None) -> list[list[ConnectionAnalysis]]:
        """html_report's turns: of each outcome, the connections it may draw (every one while
        they are MAX_SECTIONS at most, else those worth a section), the most packets first
        (then the lowest id), `chosen` (drawn anyway) left out; the outcomes with the fewest
        first, then the one met first in id order."""
        left_out = chosen.connection.id if chosen is not None else None
        groups: list[tuple[int, int, list[ConnectionAnalysis]]] = []
        if self.count <= MAX_SECTIONS:
            by_kind: dict[str, list[ConnectionAnalysis]] = {}
            for result in self.listed():
                if result.connection.id != left_out:
                    by_kind.setdefault(outcome(result), []).append(result)
            groups = [(len(members), members[0].connection.id, members) for members in by_kind.values()]
        else:
            worth = chosen is not None and worth_a_section(chosen)
            left_kind = outcome(chosen) if chosen is not None and worth else None
            for kind, heap in self._worth.items():
                members = [r for _key, r in heap]
                size, first = self.worth_counts[kind], self.worth_first[kind]
                if kind == left_kind:
                    members = [r for r in members if r.connection.id != left_out]
                    size -= 1
                    first = [key for key in first if key != left_out]
                if members:
                    groups.append((size, first[0], members))
        return [
            sorted(members, key=lambda r: (-r.connection.packets, r.connection.id))
            for _size, _first, members in sorted(groups, key=lambda g: (g[0], g[1]))
        ]

    def diagnosed(self) -> list[tuple[int, Diagnosis]]:
        """(connection id, diagnosis) of the lowest ids, MAX_ROWS at most, in id order."""
        ordered = sorted(self._diagnosed, key=lambda entry: entry[0], reverse=True)
        return [(-key[0], diagnosis) for key, diagnosis in ordered]
