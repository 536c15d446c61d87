"""A connection too long to keep whole (long_connection.FoldedConnection): the same
findings as when it is kept whole, in memory that does not grow with its length."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import pytest
from conftest import CAPTURES, NO_CORPUS, corpus_pcaps

from analyzer.analysis import analyze_connection
from analyzer.connections import stream_connections
from analyzer.decode.reader import read_segments
from analyzer.decode.segment import ACK, FIN, PSH, SYN, Segment
from analyzer.long_connection import RECENT_STEPS, RESEND_CONTEXTS, FoldedConnection, KeptBudget, KeptRange
from analyzer.output.json_report import connection_to_dict
from analyzer.timefmt import Clock

# Folded from the 24th segment on, nothing kept of the start, losses decided 32 segments
# ahead: every rule that folding changes is at work on the small connections of the files.
SMALL_FOLD = functools.partial(FoldedConnection, head_steps=0, look_ahead=32)


def _reports(path: Path, fold: object, long_connection: int) -> dict[int, dict]:
    segments = read_segments(str(path))
    return {
        c.id: connection_to_dict(analyze_connection(c), Clock(0.0))
        for c in stream_connections(segments, fold=fold, long_connection=long_connection)  # type: ignore[arg-type]
    }


def _assert_folding_changes_nothing(path: Path) -> None:
    whole = _reports(path, None, 1 << 30)
    folded = _reports(path, SMALL_FOLD, 24)
    for report in folded.values():  # the one thing that differs: a note that says so
        said = [note for note in report["notes"] if note.startswith("a long connection: ")]
        assert len(said) <= (report["packets"] >= 24)  # one-sided ones fold later
        report["notes"] = [note for note in report["notes"] if note not in said]
    assert folded == whole


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.pcap")), ids=lambda p: p.stem)
def test_a_folded_connection_has_the_findings_of_a_whole_one(path: Path) -> None:
    _assert_folding_changes_nothing(path)


def test_folding_changes_nothing_on_the_corpus() -> None:
    if not corpus_pcaps():
        pytest.skip(NO_CORPUS)
    for path in corpus_pcaps():
        _assert_folding_changes_nothing(path)


def bulk_flow(packets: int, lose_every: int = 0, resend_late: bool = False) -> list[Segment]:
    """One connection: handshake, data one way (an ACK every other segment), a resend
    of every `lose_every`-th segment (at once, or with `resend_late` after the next: a fast
    retransmission, not of the tail), four-way close."""
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    out: list[Segment] = []

    def add(sender: tuple, flags: int, seq: int, ack: int, length: int = 0) -> None:
        src, dst = (c, s) if sender is c else (s, c)
        out.append(
            Segment(
                len(out) + 1, 1000.0 + len(out) * 1e-5, 4, *src, *dst, flags, seq, ack, 5000, length, None
            )
        )

    add(c, SYN, 0, 0)
    add(s, SYN | ACK, 0, 1)
    add(c, ACK, 1, 1)
    seq = 1
    late = -1
    while len(out) < packets - 4:
        add(s, PSH | ACK, seq, 1, 1000)
        if late >= 0:
            add(s, PSH | ACK, late, 1, 1000)  # a resend, data sent since
            late = -1
        elif lose_every and len(out) % lose_every == 0:
            if resend_late:
                late = seq
            else:
                add(s, PSH | ACK, seq, 1, 1000)  # a resend
        seq += 1000
        if len(out) % 3 == 0:
            add(c, ACK, 1, seq)
    add(s, FIN | ACK, seq, 1)
    add(c, ACK, 1, seq + 1)
    add(c, FIN | ACK, 1, seq + 1)
    add(s, ACK, seq + 1, 2)
    return out


def _kept(packets: int) -> tuple[int, dict]:
    [connection] = stream_connections(iter(bulk_flow(packets)), fold=FoldedConnection, long_connection=20_000)
    result = connection_to_dict(analyze_connection(connection), Clock(0.0))
    return len(connection.segments), result


def test_what_a_long_connection_keeps_does_not_grow_with_its_length() -> None:
    short_kept, short = _kept(60_000)
    long_kept, long = _kept(240_000)
    assert long_kept == short_kept < 1_100  # the first HEAD_STEPS and a few
    assert (short["packets"], long["packets"]) == (60_000, 240_000)
    for result in (short, long):
        assert result["handshake"]["status"] == "complete"
        assert result["close"]["shape"] == "four-way"
        # The server closed first: it holds TIME_WAIT.
        assert [result["states"][side][-1][1] for side in ("client", "server")] == ["CLOSED", "TIME_WAIT"]


def test_resends_in_a_long_connection_are_all_counted() -> None:
    segments = bulk_flow(60_000, lose_every=1_000)
    resent = (
        len(segments)
        - len({(s.seq, s.flags, s.sport) for s in segments if s.payload_len})
        - sum(1 for s in segments if not s.payload_len)
    )
    [connection] = stream_connections(iter(segments), fold=FoldedConnection)
    result = analyze_connection(connection)
    assert result.sequence.counts()["retransmission"] == len(result.resends) == resent > 20
    assert all(n == 1 for n, _time in result.resends.values())


def _lossy(packets: int, resend_late: bool = True) -> tuple[FoldedConnection, dict]:
    [connection] = stream_connections(
        iter(bulk_flow(packets, lose_every=50, resend_late=resend_late)), fold=FoldedConnection
    )
    assert isinstance(connection.folded, FoldedConnection)
    return connection.folded, connection_to_dict(analyze_connection(connection), Clock(0.0))


def test_a_lossy_long_connection_keeps_the_steps_before_its_first_resends_only() -> None:
    """The tail loss probe's rule reads the steps before a first resend of data: a long
    flow keeps them for its first RESEND_CONTEXTS resends, and past them for a resend of the
    tail of its sender's data (what a probe resends) only; any other it keeps alone, so what
    it keeps grows by a step or two a resend, not RECENT_STEPS more. Its note says so."""
    short, _short_report = _lossy(40_000)
    long, long_report = _lossy(80_000)
    resends = [len(folded.resends) for folded in (short, long)]  # each the first of its data
    assert resends[0] > RESEND_CONTEXTS
    assert (short.resends_alone, long.resends_alone) == (
        resends[0] - RESEND_CONTEXTS,
        resends[1] - RESEND_CONTEXTS,
    )
    kept = [len(folded.machine.steps) for folded in (short, long)]
    assert kept[1] - kept[0] <= 2 * (resends[1] - resends[0])
    assert kept[0] < 1_100 + (RECENT_STEPS + 2) * RESEND_CONTEXTS + 2 * resends[0]
    tails, _report = _lossy(40_000, resend_late=False)  # each resent at once: the tail, a probe's shape
    assert len(tails.resends) > RESEND_CONTEXTS and tails.resends_alone == 0
    [note] = [note for note in long_report["notes"] if note.startswith("a long connection: ")]
    assert note.endswith(
        f"the tail loss probe's rule read what came before its first {RESEND_CONTEXTS} resends of data "
        f"and each later resend of the tail of its sender's data, not before the {long.resends_alone:,} others "
        "(a probe resends the tail)"
    )


def _stalled_flow(before: int, after: int) -> list[Segment]:
    """Data one way; the receiver's window closes for 57 µs, then opens with a window
    update (the same ACK, room again), and the data goes on: an iperf3 run's shape."""
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    out: list[Segment] = []
    clock = [1000.0]

    def add(sender: tuple, flags: int, seq: int, ack: int, length: int = 0, window: int = 5000) -> None:
        src, dst = (c, s) if sender is c else (s, c)
        out.append(Segment(len(out) + 1, clock[0], 4, *src, *dst, flags, seq, ack, window, length, None))
        clock[0] += 1e-4

    def data(count: int, seq: int) -> int:
        for _ in range(count):
            add(s, PSH | ACK, seq, 1, 1000)
            seq += 1000
            add(c, ACK, 1, seq)
        return seq

    add(c, SYN, 0, 0)
    add(s, SYN | ACK, 0, 1)
    add(c, ACK, 1, 1)
    seq = data(before, 1)
    out[-1].window = 0
    clock[0] += 57e-6 - 1e-4
    add(c, ACK, 1, seq)  # the window update
    seq = data(after, seq)
    add(s, FIN | ACK, seq, 1)
    add(c, FIN | ACK, 1, seq + 1)
    add(s, ACK, seq + 1, 2)
    return out


def test_a_folded_connection_keeps_the_end_of_a_zero_window() -> None:
    """The window update that ends a stall is kept when the data around it is folded away:
    the stall lasts 57 µs, not until the next segment kept."""
    reports = []
    for fold, long_connection in ((None, 1 << 30), (SMALL_FOLD, 24)):
        [connection] = stream_connections(
            iter(_stalled_flow(200, 400)),
            fold=fold,  # type: ignore[arg-type]
            long_connection=long_connection,
        )
        reports.append(connection_to_dict(analyze_connection(connection), Clock(0.0)))
    whole, folded = ([d for d in report["diagnoses"] if d["kind"] == "zero_window"] for report in reports)
    assert (
        len(whole) == 1
        and "zero for 57 µs from frame 403, until its window update (frame 404)" in whole[0]["sentence"]
    )
    assert folded == whole


def test_the_range_a_diagram_asks_for_is_kept_on_one_budget_for_the_file() -> None:
    """Which connection is drawn is known only after the analysis: every folded connection
    keeps the range's steps, but from one budget (RANGE_KEPT for the file), not one each."""
    budget = KeptBudget(30)
    kept = KeptRange(frames=(2_000, 2_099))
    plain = []
    for _ in range(2):
        folded = FoldedConnection(bulk_flow(5_000), kept=kept, budget=budget, head_steps=10, look_ahead=16)
        connection = folded.connection(0)
        plain.append(sum(1 for s in connection.segments if 2_000 <= s.frame <= 2_099 and not s.flags & 0x07))
    assert budget.left == 0
    assert plain[0] == 30 and plain[1] < 5  # the first took the budget; the second keeps only its own


def _probed_flow() -> list[Segment]:
    """40 data segments acknowledged one by one, the server's window closes, the client
    probes it twice with its next byte (a Windows or BSD sender), the server's ACK of that
    byte opens it, and 40 more data segments follow the byte."""
    from segments import HANDSHAKE, conversation

    steps: list[tuple] = [*HANDSHAKE]
    seq = 101
    for _ in range(40):
        steps += [("c", "PA", seq, 501, 100), ("s", "A", 501, seq + 100)]
        seq += 100
    steps += [(1.0, "c", "A", seq, 501, 1), (1.5, "c", "A", seq, 501, 1), (1.6, "s", "A", 501, seq + 1)]
    seq += 1
    for _ in range(40):
        steps += [("c", "PA", seq, 501, 100), ("s", "A", 501, seq + 100)]
        seq += 100
    segments = conversation(*steps)
    segments[2 + 2 * 40].window = 0  # the ACK of the 40th: no room left
    return segments


def test_a_window_probe_s_byte_reads_the_same_folded() -> None:
    """The report's own reading (the probe's byte sent once acknowledged: no gap, nothing
    missed by the capture) is a long connection's too, where Wireshark's flags are kept."""

    def reports(fold: object, long_connection: int) -> list[tuple[dict, Counter]]:
        found = stream_connections(_probed_flow(), fold=fold, long_connection=long_connection)  # type: ignore[arg-type]
        results = [analyze_connection(c) for c in found]
        return [(connection_to_dict(r, Clock(0.0)), r.own_sequence.counts()) for r in results]

    [(whole, whole_own)] = reports(None, 1 << 30)
    [(folded, folded_own)] = reports(SMALL_FOLD, 24)
    folded["notes"] = [note for note in folded["notes"] if not note.startswith("a long connection: ")]
    assert folded == whole
    assert folded_own == whole_own and not whole_own["lost_segment"] and not whole_own["ack_lost_segment"]
    assert whole["sequence"]["gaps"] is None
    flagged = {kind for kinds in whole["sequence"]["frames"].values() for kind in kinds}
    assert {"zero_window_probe", "ack_lost_segment", "lost_segment"} <= flagged  # Wireshark's


def test_data_sent_again_in_smaller_pieces_past_the_first_copies_was_captured(tmp_path) -> None:
    """helper-120's smtp.pcap: after an ICMP fragmentation needed, the client sends its data
    again in smaller pieces, the last reaching past what it had sent; Wireshark takes that
    piece for a resend alone and flags the server's ACK of it "ACKed segment that wasn't
    captured". The own reading holds that every byte was captured, folded or whole."""
    from pcap_builder import tcp_packet, write_capture

    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 25)
    packets = [
        tcp_packet(4, *c, *s, "S", 0),
        tcp_packet(4, *s, *c, "SA", 0, 1),
        tcp_packet(4, *c, *s, "A", 1, 1),
        # The server's greeting in 20 lines, each acknowledged: folded (SMALL_FOLD) before what follows.
        *[
            packet
            for n in range(20)
            for packet in (
                tcp_packet(4, *s, *c, "PA", 1 + 10 * n, 1, b"y" * 10),
                tcp_packet(4, *c, *s, "A", 1, 11 + 10 * n),
            )
        ],
        *[tcp_packet(4, *c, *s, "A", 1 + 1460 * n, 201, b"x" * 1460) for n in range(4)],
        *[tcp_packet(4, *c, *s, "A", 1 + 1452 * n, 201, b"x" * 1452) for n in range(5)],
        tcp_packet(4, *s, *c, "A", 201, 1 + 1452 * 5),
    ]
    path = write_capture(tmp_path / "pieces.pcap", packets)
    [connection] = stream_connections(read_segments(str(path)))
    result = analyze_connection(connection)
    last = len(packets)
    assert "ack_lost_segment" in result.sequence.flags[last]  # Wireshark's
    assert "ack_lost_segment" not in result.own_sequence.flags.get(last, [])
    assert result.gaps is None or not result.gaps.unfilled
    _assert_folding_changes_nothing(path)
    [folded] = stream_connections(read_segments(str(path)), fold=SMALL_FOLD, long_connection=24)  # type: ignore[arg-type]
    assert folded.folded is not None
    assert "ack_lost_segment" not in analyze_connection(folded).own_sequence.flags.get(last, [])
