"""What the ladder says of a packet's fate, each claim no stronger than its evidence (issue 18
review): a tail loss probe named as a question when only its timing says so, as a fact when
a D-SACK shows the original had arrived, in the same words in the text report and on the
ladder; a cross only where a packet did not reach its receiver, and one wording, at one
place, for a SYN, a keep-alive or a zero-window probe that got no answer."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from conftest import CAPTURES, ROOT
from matplotlib.lines import Line2D
from segments import HANDSHAKE, conversation

from analyzer.analysis import ConnectionAnalysis, analyze_file, analyze_segments
from analyzer.output.labels import NO_ANSWER, segment_kinds, unanswered_probes
from analyzer.output.mermaid import connection_mermaid
from analyzer.output.sequence_diagram import (
    DIAGNOSIS_MARK,
    KEY_LOST,
    KEY_NO_ANSWER,
    PACKET_LABEL,
    figure,
)
from analyzer.output.text_report import analysis_text
from analyzer.sidecar import sidecar_path_for

REAL = ROOT / "tests" / "data" / "real_sockets"
SUFFIX = f" — {NO_ANSWER}"


def _analyzed(pcap: Path) -> tuple[list[ConnectionAnalysis], dict | None]:
    beside = sidecar_path_for(pcap)
    sidecar = json.loads(beside.read_text()) if beside.exists() else None
    return analyze_file(str(pcap), sidecar=sidecar).connections, sidecar


def _drawn(result: ConnectionAnalysis, sidecar: dict | None = None) -> tuple[dict[str, list[str]], int]:
    """The figure's texts by gid ('' for those without), and how many crosses it draws."""
    fig = figure(result, sidecar)
    try:
        texts: dict[str, list[str]] = {}
        for text in fig.findobj(plt.Text):
            texts.setdefault(text.get_gid() or "", []).append(text.get_text())
        crosses = sum(1 for line in fig.findobj(Line2D) if line.get_marker() == "x")
        return texts, crosses
    finally:
        plt.close(fig)


def _unwrapped(mark: str) -> str:
    return " ".join(mark.split())


def test_a_tail_loss_probe_is_a_question_unless_a_d_sack_confirms_it() -> None:
    """tail-loss-probe.pcap (real sockets, the kernel's counters recorded): the first
    resend is answered by a plain ACK (timing alone), the second by a D-SACK of it."""
    pcap = REAL / "tail-loss-probe.pcap"
    results, _sidecar = _analyzed(pcap)
    headlines = []
    for result in results:
        [probe] = [d for d in result.diagnoses if d.kind == "tail_loss_probe"]
        headline = probe.label
        headlines.append(headline)
        assert probe.sentence.startswith(headline)
        texts, _crosses = _drawn(result)
        # The ladder's mark is the text's headline, word for word (wrapped to the margin).
        assert headline in [_unwrapped(mark) for mark in texts[DIAGNOSIS_MARK]]
    timing, confirmed = headlines
    assert timing.startswith("resent after ") and timing.endswith(" of silence: a tail loss probe?")
    assert confirmed.startswith("tail loss probe after ")
    assert confirmed.endswith(" (the D-SACK shows the original arrived)")
    text = analysis_text(analyze_file(str(pcap)), show_all=True)
    for headline in headlines:
        assert f"diagnosis  tail_loss_probe: {headline}" in text


@pytest.mark.parametrize(
    ("name", "crosses", "unanswered"),
    [
        ("syn-timeout.pcap", 6, 6),  # six SYNs, nothing from the server: each crossed and unanswered
        ("keepalive.pcap", 0, 2),  # the two probes after the server was silenced reached it
        # (freed by the server's TCP as old after their ACK: TCP_OLD_SEQUENCE, no cross), while
        # the data a firewall dropped before the server's TCP did not: each drawn one crossed.
        ("lossy-transfer.pcap", 2, 0),
    ],
)
def test_no_answer_is_one_note_on_the_arrow_and_a_cross_only_for_a_lost_packet(
    name: str, crosses: int, unanswered: int
) -> None:
    results, sidecar = _analyzed(CAPTURES / name)
    texts, drawn_crosses = _drawn(results[0], sidecar)
    labels = texts[PACKET_LABEL]
    noted = [label for label in labels if label.endswith(SUFFIX)]
    assert len(noted) == unanswered, labels
    assert all(label.startswith(("SYN ", "keep-alive: ")) for label in noted), noted
    assert drawn_crosses == crosses
    # One wording: the margin's marks do not say it again in other words.
    assert not [m for m in texts.get(DIAGNOSIS_MARK, []) if NO_ANSWER in m]
    # The legend explains the marks drawn, and only those.
    legend = texts[""]
    assert (KEY_LOST in legend) == bool(crosses)
    assert (KEY_NO_ANSWER in legend) == bool(unanswered)


def test_what_counts_as_an_answer() -> None:
    """A keep-alive answered by an ACK; one the peer never answered before the prober's RST;
    a SYN refused by a RST (an answer); data (not a probe) never said unanswered."""
    keep_alive = conversation(
        *HANDSHAKE,
        (5.0, "c", "A", 100, 501),  # one below the next seq: a keep-alive
        (5.0001, "s", "A", 501, 101),
        (10.0, "c", "A", 100, 501),
        (15.0, "c", "RA", 101, 501),
    )
    result = analyze_segments(keep_alive).connections[0]
    kinds = segment_kinds(result)
    probes = [s.frame for s in keep_alive if kinds.get(s.frame) == "keep-alive"]
    assert len(probes) == 2
    assert unanswered_probes(result, kinds) == {probes[1]}
    refused = analyze_segments(conversation(("c", "S", 100, 0), ("s", "RA", 0, 101))).connections[0]
    assert unanswered_probes(refused, segment_kinds(refused)) == set()
    data = analyze_segments(conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10))).connections[0]
    assert unanswered_probes(data, segment_kinds(data)) == set()


def test_the_mermaid_text_marks_the_same_as_the_ladder() -> None:
    """syn-timeout: each of the six SYNs a cross and the note; keepalive: the two probes after
    the server was silenced the note, named keep-alives, and no cross."""
    results, sidecar = _analyzed(CAPTURES / "syn-timeout.pcap")
    syns = [line for line in connection_mermaid(results[0], sidecar).splitlines() if "SYN seq=0" in line]
    assert len(syns) == 6 and all("--x" in line and SUFFIX in line for line in syns), syns
    results, sidecar = _analyzed(CAPTURES / "keepalive.pcap")
    lines = connection_mermaid(results[0], sidecar).splitlines()
    assert not [line for line in lines if "--x" in line]
    noted = [line for line in lines if SUFFIX in line]
    assert len(noted) == 2 and all("keep-alive: ACK" in line for line in noted), noted
