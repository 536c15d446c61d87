"""The summary (`analyze --summary`): counts that add up to the connections and agree with the
JSON document, the slowest handshakes and busiest sources, in memory that does not grow."""

from __future__ import annotations

import io
import json
import random
import tracemalloc
from collections import Counter
from types import SimpleNamespace

import pytest
from conftest import CAPTURES, CORPUS, NO_CORPUS, assert_one_line_error, run, stored_captures

from analyzer.analysis import analyze_file, stream_file
from analyzer.output.json_report import write_document
from analyzer.output.summary import HANDSHAKES, RESETS, SourceTally, Summary, write_summary

NORMAL = ("four-way", "three-segment", "simultaneous", "half-close")


def _summary(pcap) -> dict:
    out = io.StringIO()
    write_summary(stream_file(str(pcap)), out, as_json=True)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("pcap", stored_captures(), ids=lambda p: p.name)
def test_the_counts_add_up_and_agree_with_the_document(pcap) -> None:
    summary = _summary(pcap)
    document = io.StringIO()
    write_document(stream_file(str(pcap)), document)
    connections = json.loads(document.getvalue())["connections"]
    assert summary["connection_count"] == len(connections)
    assert sum(summary["handshakes"].values()) == len(connections)
    endings = summary["endings"]
    ended = sum(endings["closed"].values()) + sum(endings["reset"].values())
    assert ended + endings["one_side_closed"] + endings["no_close_seen"] == len(connections)
    statuses = Counter(
        "ack_not_taken" if c["handshake"]["ack_not_taken"] else c["handshake"]["status"] for c in connections
    )
    assert summary["handshakes"] == {status: statuses[status] for status in HANDSHAKES}
    shapes = Counter(c["close"]["ending"] for c in connections)
    assert endings["closed"] == {shape: shapes[shape] for shape in NORMAL}
    first_causes = Counter(
        c["resets"][0]["cause"] for c in connections if c["resets"] and c["close"]["ending"] not in NORMAL
    )
    assert endings["reset"] == {cause: first_causes[cause] for cause in RESETS}
    sources = Counter(c["client"]["ip"] for c in connections)
    assert {s["ip"]: s["connections"] for s in summary["busiest_sources"]} == dict(sources.most_common(10))
    assert summary["source_counts_short_by"] == 0


@pytest.mark.parametrize("name", ["fin-wait-2-timeout", "fin-wait-2-timeout-ipv6"])
def test_fins_cut_short_by_a_reset_count_as_reset_not_as_a_normal_close(name: str) -> None:
    """Both FINs, then the RST that found the client's socket gone: no four-way close."""
    endings = _summary(CAPTURES / f"{name}.pcap")["endings"]
    assert endings["reset"]["fin_wait_2_expired"] == 1
    assert sum(endings["closed"].values()) == 0


def _overview_counts(pcap) -> tuple[int, list[int], list[str]]:
    summary = Summary(tables=False)
    for result in stream_file(str(pcap)).results:
        summary.add(result)
    lines = summary.overview_lines()
    rows = []
    for line in lines[1:]:
        if not line.startswith("  "):
            break  # the timers' lines after: counted in the lines above too, and said so
        rows.append(int(line.rsplit(None, 1)[1].replace(",", "")))
    return summary.connections, rows, lines


@pytest.mark.parametrize("pcap", stored_captures(), ids=lambda p: p.name)
def test_the_overview_counts_each_connection_once(pcap) -> None:
    connections, rows, lines = _overview_counts(pcap)
    assert sum(rows) == connections, lines


@pytest.mark.skipif(not (CORPUS / "pcaps").is_dir(), reason=NO_CORPUS)
def test_the_overview_of_a_capture_with_a_reset_after_a_complete_handshake_adds_up() -> None:
    """ppa_http_espn_fail: 7 complete (one of them reset), 9 unanswered: 16 lines, not 17."""
    [pcap] = (CORPUS / "pcaps").glob("ppa_http_espn_fail.*")
    connections, rows, lines = _overview_counts(pcap)
    assert connections == 16 and sum(rows) == 16, lines
    assert "  complete, reset: late segment after the FIN_WAIT_2 timer" in "\n".join(lines)


def test_the_slowest_handshakes_run_from_the_first_syn_to_the_completing_ack() -> None:
    pcap = CAPTURES / "backlog.pcap"  # the second client resends its SYN three times
    slowest = _summary(pcap)["slowest_handshakes"]
    results = {r.connection.id: r for r in analyze_file(str(pcap)).connections}
    assert [s["id"] for s in slowest] == [1, 0]
    for entry in slowest:
        handshake = results[entry["id"]].handshake
        assert handshake.final_ack is not None
        assert entry["syn_to_ack"] == pytest.approx(
            (handshake.final_ack.stamp - handshake.syns[0].stamp) / 1e9, abs=1e-12
        )
        assert entry["syns"] == len(handshake.syns)
    assert slowest[0]["syn_to_ack"] > 3 and slowest[0]["syns"] == 4


def _fake(
    ident: int,
    seconds: float | None,
    source: str,
    packets: int = 2,
    status: str = "complete",
    taken: bool = True,
    unseen: bool = False,
    bare_ack_lost: bool = False,
):
    """A connection as far as the summary reads it."""
    syn = SimpleNamespace(time=100.0, stamp=100 * 10**9)
    return SimpleNamespace(
        connection=SimpleNamespace(
            id=ident,
            family=4,
            client=(source, 40000 + ident % 20000),
            server=("192.0.2.1", 80),
            packets=packets,
            expired=None,
            continues=None,
        ),
        handshake=SimpleNamespace(
            status=status,
            syns=[syn],
            final_ack=SimpleNamespace(time=100.0 + seconds, stamp=100 * 10**9 + round(seconds * 1e9))
            if seconds is not None
            else None,
            opened_unseen=unseen,
            ack_not_taken=not taken,
            taken_late=None,
            unseen_answer=SimpleNamespace(frame=2) if unseen else None,
            completed_by=None,
            synack_uncaptured=False,
            bare_ack_uncaptured=bare_ack_lost,
        ),
        close=SimpleNamespace(shape="none", ending="none", unseen=None),
        resets=[],
        vantage=None,
        acked_uncaptured=lambda: 0,
    )


def test_the_ten_slowest_whatever_order_the_connections_end_in() -> None:
    fakes = [_fake(n, (n % 7) / 10, "10.0.0.1") for n in range(100)]
    orders = [fakes, fakes[::-1], random.Random(7).sample(fakes, len(fakes))]
    tables = []
    for order in orders:
        summary = Summary()
        for fake in order:
            summary.add(fake)
        tables.append(summary.slowest())
    assert tables[0] == tables[1] == tables[2]
    # 0.6 s for ids 6, 13, 20, ...: the ten lowest of them, in id order.
    assert [entry[1] for entry in tables[0]] == list(range(6, 100, 7))[:10]
    assert {entry[0] for entry in tables[0]} == {0.6}
    # A handshake whose ACK the server never took has no handshake's time (helper-100's ackdrop2).
    summary = Summary()
    for fake in [*fakes, _fake(100, 9.0, "10.0.0.2", taken=False)]:
        summary.add(fake)
    assert 100 not in [entry[1] for entry in summary.slowest()]
    # Nor has one whose bare ACK the capture lost: its time runs to the client's data, a bound.
    summary = Summary()
    for fake in [*fakes, _fake(101, 9.0, "10.0.0.2", bare_ack_lost=True)]:
        summary.add(fake)
    assert 101 not in [entry[1] for entry in summary.slowest()] and summary.handshakes["complete"] == 101
    # Counted complete, left out of the table: the table's empty line says it times none.
    alone = Summary()
    alone.add(_fake(0, 9.0, "10.0.0.2", bare_ack_lost=True))
    lines = alone.text_lines()
    assert lines[
        lines.index("slowest handshakes (first SYN to the ACK that completed the handshake):") + 1
    ] == ("  no complete handshake timed")
    summary = Summary()
    for fake in [*fakes, _fake(100, 9.0, "10.0.0.2", taken=False)]:
        summary.add(fake)
    # Nor is it counted complete: the server made no connection of it.
    assert summary.handshakes["complete"] == 100 and summary.handshakes["ack_not_taken"] == 1
    assert summary.outcomes["ACK not taken (server stayed in SYN_RCVD)"] == 1
    # A handshake whose SYN/ACK the capture lacks, the client's ACK showing it came (helper-104):
    # an opened connection, not one begun and not finished.
    summary.add(_fake(101, None, "10.0.0.3", status="incomplete", unseen=True))
    assert summary.handshakes["answered_unseen"] == 1 and summary.handshakes["incomplete"] == 0
    assert any(label.startswith("answered unseen, ") for label in summary.outcomes)
    # Seen only in its SYN/ACK, the server acknowledging more later (helper-147: only the
    # server's direction captured): completed, not begun and unfinished.
    completed = _fake(102, None, "10.0.0.4", status="incomplete")
    completed.handshake.completed_by = SimpleNamespace(frame=3)
    summary.add(completed)
    assert summary.handshakes["completed_unseen"] == 1 and summary.handshakes["incomplete"] == 0
    assert any(label.startswith("completed unseen, ") for label in summary.outcomes)
    # None of its server's packets captured: one direction, which the text then says.
    assert (
        summary.one_direction == 1
        and "1 connection with only one end's packets" in summary.overview_lines()[-1]
    )


def test_a_syn_flood_is_summarized_in_memory_that_does_not_grow() -> None:
    """A million spoofed sources would need a million counters: the tally keeps a bounded
    table, so 50,000 attempts take what 5,000 do, and says how far its counts may be off."""

    def peak(attempts: int) -> tuple[int, Summary]:
        summary = Summary(source_slots=200)
        tracemalloc.start()
        try:
            for n in range(attempts):
                source = "198.51.100.7" if n % 10 == 0 else f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                summary.add(_fake(n, None, source, packets=1, status="no_answer"))
            _now, top = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return top, summary

    small, _ = peak(5_000)
    large, summary = peak(50_000)
    assert large < 1.5 * small
    assert summary.handshakes["no_answer"] == 50_000 and summary.no_close == 50_000
    [(address, connections, _packets), *_] = summary.sources.top(10)
    assert address == "198.51.100.7"  # the one real flooder stands out of the spoofed ones
    assert 5_000 - summary.sources.short_by <= connections <= 5_000
    assert 0 < summary.sources.short_by <= 50_000 // 201
    text = "\n".join(summary.text_lines())
    assert f"more than 400 sources: a count may be short by up to {summary.sources.short_by:,}" in text


def test_the_source_tally_is_exact_until_it_is_full() -> None:
    tally = SourceTally(slots=3)
    for address in "abcabca":
        tally.add(address, 2)
    assert tally.top(10) == [("a", 3, 6), ("b", 2, 4), ("c", 2, 4)] and tally.short_by == 0
    counts = Counter[str]()
    rng = random.Random(3)
    for _ in range(2_000):
        address = rng.choice("ab") if rng.random() < 0.5 else f"x{rng.randrange(10_000)}"
        counts[address] += 1
        tally.add(address, 1)
    assert len(tally.counts) <= 6
    for address, connections, _packets in tally.top(2):
        assert counts[address] - tally.short_by <= connections <= counts[address]
    assert {address for address, *_ in tally.top(2)} == {"a", "b"}


def test_summary_on_the_command_line_text_and_json() -> None:
    files = [str(CAPTURES / "refused.pcap"), str(CAPTURES / "backlog.pcap")]
    text = run("analyze", "--summary", *files)
    assert text.returncode == 0, text.stderr
    first, second = text.stdout.split("\n\n")  # a blank line between the files' summaries
    assert first.startswith(f"{files[0]}: 2 packets") and "refused (SYN answered by RST)" in first
    assert "reset: refused (nothing listening on the port)" in first
    assert "#1 127.0.0.1:" in second and "(4 SYNs)" in second
    as_json = run("analyze", "--summary", "--format", "json", *files)
    assert [f["file"] for f in json.loads(as_json.stdout)["files"]] == files


def test_unknown_format_and_summary_in_a_format_it_has_none_exit_2() -> None:
    unknown = run("analyze", "--format", "xml", str(CAPTURES / "refused.pcap"))
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "invalid choice: 'xml'" in unknown.stderr and not unknown.stdout
    assert_one_line_error(
        run("analyze", "--summary", "--format", "conn", str(CAPTURES / "refused.pcap")), "--summary", "conn"
    )
    both = run("analyze", "--json", "--format", "text", str(CAPTURES / "refused.pcap"))
    assert both.returncode == 2 and "not allowed with argument --json" in both.stderr


@pytest.mark.parametrize("form", ["jsonl", "conn", "summary"])
def test_a_bad_file_is_one_line_and_the_others_still_count(tmp_path, form) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    args = ["--summary"] if form == "summary" else ["--format", form]
    alone = run("analyze", *args, str(bad))
    assert_one_line_error(alone, str(bad), "not a pcap or pcapng file")
    assert alone.stdout == ""
    among = run("analyze", *args, str(bad), str(CAPTURES / "refused.pcap"))
    assert_one_line_error(among, str(bad))
    assert "refused" in among.stdout


def test_the_summary_of_a_capture_without_packets(tmp_path) -> None:
    """A pcap of its header alone: no endings to size the labels by (was a TypeError)."""
    import struct

    empty = tmp_path / "empty.pcap"
    empty.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    result = run("analyze", "--summary", str(empty))
    assert result.returncode == 0, result.stderr
    assert "0 packets (pcap), 0 TCP, 0 connections" in result.stdout
    assert "endings:\n  no connections" in result.stdout


def test_connections_captured_in_one_direction_are_counted_and_said() -> None:
    """Asymmetric routing, or a filter on one host's packets: refused connects read as SYNs
    never answered and closed ones as still open. The overview and --summary say how many
    connections hold one end's packets only, and what that means for those counts."""
    from segments import conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.summary import Summary

    one_way = conversation(
        ("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 10), ("c", "FA", 111, 501)
    )
    summary = Summary()
    for result in analyze_segments(one_way).connections:
        summary.add(result)
    assert summary.one_direction == 1
    said = "1 connection with only one end's packets in the capture (asymmetric routing, a capture filter)"
    assert summary.overview_lines()[-1].startswith(f"of them, {said}")
    assert any(line.startswith(said) for line in summary.text_lines())
    assert summary.as_dict({}, 0)["one_direction"] == 1
    both = Summary()
    for result in analyze_segments(conversation(("c", "S", 100, 0), ("s", "SA", 500, 101))).connections:
        both.add(result)
    assert both.one_direction == 0 and not any("one end's packets" in line for line in both.overview_lines())


def test_once_counts_may_be_short_only_sources_counted_above_the_bound_are_listed() -> None:
    """A flood from forged sources, one attempt each, two real clients that opened one
    connection each, and one that opened many: past the exact table no one-connection source
    is told from another, so none is listed (helper-113's synflood_cookies listed nine forged
    ones and left out a client); the source that opened more than the bound is."""
    summary = Summary(source_slots=50)
    for n in range(2_000):
        summary.add(_fake(n, None, f"10.0.{n >> 8}.{n & 255}", packets=3, status="incomplete"))
        if n in (700, 1_400):
            summary.add(_fake(n, None, f"198.51.100.{n // 700}", packets=10, status="complete"))
        if n % 20 == 0:
            summary.add(_fake(n, None, "203.0.113.9", packets=2, status="complete"))
    short_by = summary.sources.short_by
    assert 1 < short_by < 100 // 2
    [(address, connections, _packets)] = summary.sources.top(10)
    assert address == "203.0.113.9" and 100 - short_by <= connections <= 100
    text = "\n".join(summary.text_lines())
    assert f"sources counted {short_by} or fewer are left out" in text
    alone = Summary(source_slots=50)
    for n in range(2_000):
        alone.add(_fake(n, None, f"10.0.{n >> 8}.{n & 255}", packets=3, status="incomplete"))
    assert alone.sources.top(10) == []
    assert "busiest sources (connections opened, packets in them):\n  none stands out\n" in "\n".join(
        alone.text_lines()
    )


def test_connections_whose_data_the_capture_missed_are_counted_and_said() -> None:
    """helper-131's many: tcpdump dropped packets (saying so on its standard error only),
    and SYNs read as never answered. Data acknowledged that the capture never held shows it
    missed packets: the overview and --summary say how many connections show it, and what
    that means for the other counts; merged shares add up."""
    from segments import HANDSHAKE, conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.summary import Summary

    # The client's data at 101..111 never captured; the server acknowledges it, then more.
    missed = conversation(
        *HANDSHAKE,
        ("c", "PA", 111, 501, 10),
        ("s", "A", 501, 121),
        ("c", "PA", 121, 501, 10),
        ("s", "A", 501, 131),
    )
    [result] = analyze_segments(missed).connections
    assert result.acked_uncaptured() == 1
    summary = Summary(tables=False)
    summary.add(result)
    said = (
        "1 connection with segments that acknowledge data the capture never held (1 segment): the capture missed "
        "packets (tcpdump's buffer, -B; a mirror port past its rate)"
    )
    assert summary.overview_lines()[-1].startswith(f"of them, {said}")
    whole = Summary()
    whole.add(result)
    assert any(line.startswith(said) for line in whole.text_lines())
    assert whole.as_dict({}, 0)["missed_by_capture"] == {"connections": 1, "segments": 1}
    other = Summary(tables=False)
    other.add(result)
    summary.merge(other)
    assert (summary.missed_by_capture, summary.acked_uncaptured) == (2, 2)
    [plain] = analyze_segments(
        conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    ).connections
    clean = Summary()
    clean.add(plain)
    assert plain.acked_uncaptured() == 0
    assert not any("never held" in line for line in clean.overview_lines() + clean.text_lines())
