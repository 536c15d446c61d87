"""The one resend detector: copies of a segment its sender sent before, numbered."""

from __future__ import annotations

import random

from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.decode.segment import ACK, SYN, Segment
from analyzer.findings.resends import DATA_LOOK_BACK, CopyFinder, earlier_copies, numbered_resends
from analyzer.timefmt import NS


def test_copies_point_to_the_copy_before_and_are_numbered() -> None:
    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 10),  # index 3
        (0.2, "c", "PA", 101, 501, 10),
        ("s", "A", 501, 101),  # a pure ACK is never a copy, however often it repeats
        ("s", "A", 501, 101),
        (0.6, "c", "PA", 101, 501, 10),
    )
    assert earlier_copies(segments) == {4: 3, 7: 4}
    assert numbered_resends(segments, earlier_copies(segments)) == {
        5: (1, segments[3].stamp),
        8: (2, segments[4].stamp),
    }


def test_a_copy_has_the_same_sender_and_sequence_number_and_data_sent_before() -> None:
    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 10),  # index 3
        ("c", "PA", 106, 501, 10),  # past what was sent: new data too
        ("s", "PA", 101, 111, 10),  # the peer's own numbers, equal by chance
        ("c", "FA", 101, 501, 10),  # FIN: a different segment
        ("c", "PA", 101, 501, 5),  # shorter: part of what index 3 sent
    )
    assert earlier_copies(segments) == {7: 3}


def test_a_resend_of_part_of_a_large_packet_is_its_copy() -> None:
    """Captured on a sender whose NIC cuts its packets (TSO): 5 segments' worth in one
    packet, then the third segment resent by the timer, twice, and the fifth once: each a
    copy of the packet, the second of the third's first resend. Data below the furthest sent
    that no earlier packet held (the capture saw it after what follows it) is no copy."""
    mss = 1448
    segments = conversation(
        *HANDSHAKE,
        ("c", "A", 101 + 5 * mss, 501, mss),  # index 3: captured ahead of the packet before it
        ("c", "PA", 101, 501, 5 * mss),  # index 4: the large packet
        (0.3, "c", "A", 101 + 2 * mss, 501, mss),
        (0.9, "c", "A", 101 + 2 * mss, 501, mss),
        (1.0, "c", "A", 101 + 4 * mss, 501, mss),
    )
    earlier = earlier_copies(segments)
    assert earlier == {5: 4, 6: 5, 7: 4}
    numbered = numbered_resends(segments, earlier)
    assert numbered == {6: (1, segments[4].stamp), 7: (2, segments[5].stamp), 8: (1, segments[4].stamp)}
    bounded = CopyFinder(segments[0], memory=16)
    for index, segment in enumerate(segments):
        bounded.feed(index, segment)
    assert bounded.resends == numbered


def test_a_syn_is_the_same_whatever_rides_with_it() -> None:
    """A Fast Open SYN resent as a plain SYN, and an end's SYN/ACK after its own SYN
    (simultaneous open): both repeat a SYN."""
    fast_open = conversation(("c", "S", 100, 0, 300), (1.0, "c", "S", 100, 0))
    assert earlier_copies(fast_open) == {1: 0}
    simultaneous = conversation(("c", "S", 100, 0), ("s", "S", 500, 0), ("c", "SA", 100, 501))
    assert earlier_copies(simultaneous) == {2: 0}


def test_the_core_numbers_the_resends_the_ladder_draws() -> None:
    [result] = analyze_segments(
        conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0), (3.0, "c", "S", 100, 0))
    ).connections
    assert result.resends == {2: (1, 100 * NS), 3: (2, 101 * NS)}


def _bounded_copies(segments: list[Segment], memory: int) -> dict[int, int]:
    finder = CopyFinder(segments[0], memory=memory)
    found = {index: finder.feed(index, segment) for index, segment in enumerate(segments)}
    return {index: before for index, before in found.items() if before >= 0}


def test_a_bounded_finder_forgets_all_but_the_latest_segments_it_remembered() -> None:
    """With a memory of 3, a FIN sent again after three other segments that can be copied
    is new; after two it is a copy; and a FIN copied since is remembered by its latest copy,
    not forgotten with the first. (Data below the furthest sent is looked for apart, among
    the latest DATA_LOOK_BACK.)"""
    fin = ("c", "FA", 101, 501)
    data = [("s", "A", 501 + n * 100, 102, 100) for n in range(3)]
    within = conversation(*HANDSHAKE, fin, *data[:2], fin)
    assert _bounded_copies(within, 3) == {6: 3}
    beyond = conversation(*HANDSHAKE, fin, *data, fin)
    assert _bounded_copies(beyond, 3) == {}
    assert _bounded_copies(beyond, 4) == {7: 3}
    copied_since = conversation(*HANDSHAKE, fin, fin, *data[:2], fin)
    assert _bounded_copies(copied_since, 3) == {4: 3, 7: 4}
    finder = CopyFinder(copied_since[0], memory=3)
    for index, segment in enumerate(copied_since):
        finder.feed(index, segment)
    assert finder.resends == {5: (1, copied_since[3].stamp), 8: (2, copied_since[4].stamp)}


def test_data_resent_in_other_bounds_is_a_copy_of_what_held_it_together() -> None:
    """The path's MTU lowered (ICMP fragmentation needed): three 1,448-byte segments resent
    as 1,148, 1,148, 1,148 and 900 bytes, the middle ones each across two of the first:
    every piece a copy, of the latest segment that held part of it (helper-99's e7: 6 of 14
    counted). Data below the furthest sent that was not all sent before is no copy."""
    mss, small = 1448, 1148
    first = [("c", "PA", 101 + n * mss, 501, mss) for n in range(3)]
    again = [("c", "PA", 101 + n * small, 501, small) for n in range(3)] + [
        ("c", "PA", 101 + 3 * small, 501, 900)
    ]
    segments = conversation(*HANDSHAKE, *first, *again)
    assert earlier_copies(segments) == {6: 3, 7: 4, 8: 5, 9: 5}
    missed = conversation(*HANDSHAKE, first[0], first[2], ("c", "PA", 101 + small, 501, small))
    assert earlier_copies(missed) == {}  # part of it was in the segment the capture lacks


def test_data_that_came_late_is_new_and_then_copied_like_any() -> None:
    """Behind reordering a segment comes after those sent after it: it is no copy (none of
    its data was sent before; the finder knows it from the holes its sender left, without
    searching its look-back). Once it came, data resent across it and its neighbours is a
    copy of the latest that held it together, and so when more holes were open at once than
    the finder keeps (HOLES: the oldest forgotten, searched for again)."""
    mss = 100

    def data(n: int, length: int = mss, at: int = 0) -> tuple:
        return ("c", "PA", 101 + n * mss + at, 501, length)

    late = conversation(*HANDSHAKE, data(0), data(1), data(3), data(4), data(2), data(1, 250, 50))
    assert earlier_copies(late) == {8: 7}  # frames 4-8 new; the resend across 1-3 of frame 8
    never = conversation(*HANDSHAKE, data(0), data(2), data(1, 150, 50))
    assert earlier_copies(never) == {}  # part of it (1) was never sent
    holes = 40  # every other of 80 segments late, the late ones in reverse order
    sent = [data(n) for n in range(0, 2 * holes, 2)] + [data(n) for n in reversed(range(1, 2 * holes, 2))]
    across = [data(n, 2 * mss, mss // 2) for n in range(0, 2 * holes - 2, 2)]
    copies = earlier_copies(conversation(*HANDSHAKE, *sent, *across))
    first = len(HANDSHAKE) + len(sent)
    for k, _ in enumerate(across):  # seq 101 + (2k + 0.5) * mss: held by 2k, 2k+1, 2k+2
        latest_holder = len(HANDSHAKE) + holes + (holes - 1 - k)  # 2k+1, late, came last
        assert copies[first + k] == latest_holder
    assert len(copies) == len(across)


def test_the_finder_knows_which_data_was_never_sent() -> None:
    """The holes behind its sender's furthest data (what lets a late segment skip the search
    of the look-back): open where data starts beyond the furthest, filled by what comes late,
    forgotten beyond HOLES (then searched for again, no wrong answer)."""
    mss = 100
    segments = conversation(*HANDSHAKE, *[("c", "PA", 101 + n * mss, 501, mss) for n in (0, 1, 3, 4, 2)])
    finder = CopyFinder(segments[0], memory=64)
    client = finder._senders[1]  # the first segment's sender
    for index, segment in enumerate(segments[:-1]):
        finder.feed(index, segment)
    assert client.unsent(301, 401)  # the hole at 2
    assert client.unsent(350, 450)  # partly in it
    assert not client.unsent(101, 301) and not client.unsent(401, 601)
    assert client.unsent(550, 650)  # beyond the furthest data
    finder.feed(len(segments) - 1, segments[-1])  # 2 comes late
    assert not client.unsent(301, 401) and not client.unsent(101, 601)


def _lossy_transfer(seed: int, isn: int, count: int) -> list[Segment]:
    """A server's data in order from `isn` (the numbers wrapping past 2**32 on the way), with
    resends of segments sent up to 40 before, late segments, resends of part of a segment,
    its FIN sent twice, and the client's ACKs among them."""
    rng = random.Random(seed)
    sent: list[tuple[int, int]] = []  # (seq, length) of the data sent so far
    steps: list[tuple] = [("c", "S", 100, 0), ("s", "SA", isn, 101), ("c", "A", 101, isn + 1)]
    seq = (isn + 1) % 2**32
    while len(steps) < count:
        roll = rng.random()
        if roll < 0.08 and sent:
            old_seq, old_length = rng.choice(sent[-40:])
            if rng.random() < 0.3 and old_length > 1:  # part of it: held by the earlier one
                old_length = rng.randrange(1, old_length)
            steps.append(("s", "A", old_seq, 101, old_length))
        elif roll < 0.12:  # one segment late: the next one first
            first, second = rng.randrange(100, 1449), rng.randrange(100, 1449)
            steps.append(("s", "A", (seq + first) % 2**32, 101, second))
            steps.append(("s", "A", seq, 101, first))
            sent += [((seq + first) % 2**32, second), (seq, first)]
            seq = (seq + first + second) % 2**32
        elif roll < 0.3:
            steps.append(("c", "A", 101, seq))
        else:
            length = rng.choice((1448, 1448, 1448, rng.randrange(2, 1449)))
            steps.append(("s", "A", seq, 101, length))
            sent.append((seq, length))
            seq = (seq + length) % 2**32
    steps += [("s", "FA", seq, 101), ("c", "A", 101, (seq + 1) % 2**32), ("s", "FA", seq, 101)]
    return conversation(*steps)


def test_a_bounded_finder_that_forgets_nothing_finds_what_the_whole_file_finds() -> None:
    """In order data, resends, late segments and partial resends, their numbers wrapping past
    2**32: a finder whose memory holds every segment finds every copy the whole file's finder
    does, and numbers the resends as numbered_resends does."""
    for seed, isn in ((1, 2**32 - 50_000), (2, 7), (3, 2**31 - 1_000)):
        segments = _lossy_transfer(seed, isn, 600)
        whole = earlier_copies(segments)
        assert len(whole) > 30  # resends, and FIN's copy
        assert _bounded_copies(segments, 4_096) == whole
        finder = CopyFinder(segments[0], memory=4_096)
        for index, segment in enumerate(segments):
            finder.feed(index, segment)
        assert finder.resends == numbered_resends(segments, whole)


def test_a_resend_from_beyond_the_data_look_back_is_found_across_the_wrap() -> None:
    """Resends of data sent more than DATA_LOOK_BACK segments before (found by their numbers
    alone, not by the look-back for what holds them), the numbers wrapping in between: the
    bounded finder finds the same copies as the whole file's."""
    isn = 2**32 - 100_000  # the 100th wraps
    data = [("s", "A", (isn + 1 + n * 1000) % 2**32, 101, 1000) for n in range(DATA_LOOK_BACK + 900)]
    resent = [data[n] for n in (0, 1, 99, 100, 500, 800, 2_000, 4_500, DATA_LOOK_BACK + 899)]
    segments = conversation(("c", "S", 100, 0), ("s", "SA", isn, 101), *data, *resent, *resent)
    whole = earlier_copies(segments)
    assert len(whole) == 2 * len(resent)
    assert _bounded_copies(segments, 16_384) == whole
    assert _bounded_copies(segments, DATA_LOOK_BACK) == {
        index: before for index, before in whole.items() if index - before <= DATA_LOOK_BACK
    }


def test_numbers_that_leap_round_the_sequence_space_still_find_their_copies() -> None:
    """A sender whose numbers leap on by a quarter of the sequence space or more (a capture
    that missed gigabytes, a crafted one): its numbers come round to those of a segment
    remembered, so they no longer tell what is new; the bounded finder finds what the whole
    file's does, on crafted leaps and on random ones among resends."""
    quarter = 1 << 30
    leaps = [("c", "PA", 1000 + n * quarter, 1, 100) for n in range(4)]
    back = conversation(*leaps, ("c", "PA", 1000, 1, 100))  # round to the first: its copy
    assert earlier_copies(back) == {4: 0} == _bounded_copies(back, 1 << 14)
    after = conversation(*leaps, ("c", "PA", 1100, 1, 100), ("c", "PA", 1000, 1, 100))
    assert earlier_copies(after) == {5: 0} == _bounded_copies(after, 1 << 14)
    rng = random.Random(7)
    for _ in range(20):
        steps: list[tuple] = []
        seq = rng.randrange(2**32)
        for _ in range(300):
            if steps and rng.random() < 0.1:
                steps.append(rng.choice(steps))  # a resend
                continue
            seq = (seq + rng.choice((100, 100, 100, 5_000, 1 << 29, 3 << 29, 1 << 31))) % 2**32
            steps.append(("c", "PA", seq, 1, 100))
        segments = conversation(*steps)
        whole = earlier_copies(segments)
        assert _bounded_copies(segments, 4_096) == whole
        finder = CopyFinder(segments[0], memory=4_096)
        for index, segment in enumerate(segments):
            finder.feed(index, segment)
        assert finder.resends == numbered_resends(segments, whole)


def test_probes_that_move_the_numbers_on_unremembered_still_let_a_copy_be_found() -> None:
    """Against a zero window, 1-byte probes are not remembered, yet they move their sender's
    furthest on: probes leaping round the sequence space bring its numbers back to those of a
    segment remembered, whose copy the bounded finder still finds as the whole file's does."""
    step = 500_000_000  # under a 3-segment memory's bound for a leap at once
    probes = [("c", "A", (1100 + n * step) % 2**32, 1, 1) for n in range(1, 9)]
    segments = conversation(
        ("c", "PA", 1000, 1, 100), ("s", "A", 1, 1100), *probes, ("c", "PA", 1000, 1, 100)
    )
    segments[1].window = 0  # the server's window shut: the probes are not remembered
    whole = earlier_copies(segments)
    assert whole == {len(segments) - 1: 0}
    assert _bounded_copies(segments, 3) == whole


def test_stamps_beyond_a_machine_integer_are_held_all_the_same() -> None:
    """A pcapng's offset or resolution can stamp a capture past 2**63 ns (the year 2262): the
    copy finder, which holds stamps as machine integers, holds them as int objects then
    (helper-127: OverflowError, the analysis lost)."""
    for base in (1 << 63, -(1 << 63) - 10, 4 * 10**18):
        steps = [((1, 100, 0), SYN), ((2, 101, 1000), 0), ((3, 101, 1000), 0), ((4, 1101, 1000), 0)]
        segments = [
            Segment(frame, (base + frame) / NS, 4, "10.0.0.1", 40000, "10.0.0.2", 80, flags | ACK,
                    seq, 1, 65535, length, None, stamp=base + frame)
            for (frame, seq, length), flags in steps
        ]  # fmt: skip
        segments[0].flags = SYN
        assert earlier_copies(segments) == {2: 1}
        finder = CopyFinder(segments[0], 16)
        assert [finder.feed(index, segment) for index, segment in enumerate(segments)] == [-1, -1, 1, -1]
        assert finder.resends == {3: (1, base + 2)}
