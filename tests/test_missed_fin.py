"""A FIN the capture missed (tcp_state.py, "A FIN the capture missed"): the peer's ACK of one
number past all that end sent shows it once the peer closes too; data or a FIN of that end's
past the number shows it was not one."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from conftest import ROOT
from segments import HANDSHAKE, conversation
from test_capture_gaps import _without_frame

from analyzer.analysis import ConnectionAnalysis, analyze_connection, analyze_file, analyze_segments
from analyzer.connections import stream_connections
from analyzer.long_connection import FoldedConnection
from analyzer.output.json_report import connection_to_dict
from analyzer.output.text_report import connection_text
from analyzer.timefmt import Clock

# 10 bytes each way, then the close.
DATA = (("c", "PA", 101, 501, 10), ("s", "PA", 501, 111, 10), ("c", "A", 111, 511))


def _analyzed(*steps: tuple) -> ConnectionAnalysis:
    [result] = analyze_segments(conversation(*HANDSHAKE, *DATA, *steps)).connections
    return result


def _states(result: ConnectionAnalysis) -> dict[str, list[str]]:
    return {side: [state.value for _t, state in history] for side, history in result.states.items()}


def _missed(result: ConnectionAnalysis) -> list[tuple[str, int]]:
    fins = result.close.fins or {}
    return [(side, fin.frame) for side, fin in fins.items() if fin in (result.close.missed or ())]


def test_the_first_closers_fin_missed_is_shown_by_the_peers_ack_and_fin() -> None:
    # The client's FIN (111) is not in the capture: the server's ACK and FIN acknowledge 112.
    result = _analyzed(("s", "A", 511, 112), ("s", "FA", 511, 112), ("c", "A", 112, 512))
    got = _states(result)
    assert got["client"] == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"] == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    # Each end's FIN moves at the frame that shows it: the client's at the server's ACK (7).
    assert result.state_frames["client"][3:5] == [7, 7] and result.state_frames["server"][3] == 7
    close = result.close
    assert (close.first_fin, close.shape, close.time_wait) == ("client", "four-way", "client")
    assert _missed(result) == [("client", 7)]
    assert "the client's FIN is not in the capture (frame 7 acknowledges it" in close.explain()
    assert not any("not applied to the receiver" in note for note in result.notes)
    assert connection_to_dict(result, Clock(100.0))["close"]["missed_fins"] == [
        {"sender": "client", "shown_by_frame": 7, "shown_by": "acknowledgment"}
    ]


def test_the_second_closers_fin_missed_is_shown_by_the_last_ack() -> None:
    # The server's FIN (511) is not in the capture; the client's last ACK acknowledges 512.
    result = _analyzed(("c", "FA", 111, 511), ("s", "A", 511, 112), ("c", "A", 112, 512))
    got = _states(result)
    assert got["client"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert (result.close.first_fin, result.close.shape) == ("client", "four-way")
    assert _missed(result) == [("server", 9)]
    assert "frame 9 acknowledges it" in "\n".join(connection_text(result, Clock(100.0)))


def test_a_fin_acknowledged_by_the_peers_fin_is_a_three_segment_close() -> None:
    result = _analyzed(("s", "FA", 511, 112), ("c", "A", 112, 512))
    got = _states(result)
    assert got["client"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert (result.close.first_fin, result.close.shape) == ("client", "three-segment")


def test_a_half_close_goes_on_past_the_missed_fin() -> None:
    # The client shut its side (FIN at 111, missed); the server sends on, the client acknowledges
    # from 112, then the server closes.
    result = _analyzed(
        ("s", "A", 511, 112),
        ("s", "PA", 511, 112, 100),
        ("c", "A", 112, 611),
        ("s", "FA", 611, 112),
        ("c", "A", 112, 612),
    )
    got = _states(result)
    assert got["client"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert (result.close.first_fin, result.close.shape) == ("client", "half-close")


def test_a_byte_of_data_missed_is_no_fin() -> None:
    # The client's byte at 111 is missed; it sends on from 112 and closes there itself.
    result = _analyzed(
        ("s", "A", 511, 112),
        ("c", "PA", 112, 511, 5),
        ("s", "A", 511, 117),
        ("c", "FA", 117, 511),
        ("s", "FA", 511, 118),
        ("c", "A", 118, 512),
    )
    assert _missed(result) == []
    assert (result.close.first_fin, result.close.shape) == ("client", "three-segment")
    assert result.close.fins is not None and result.close.fins["client"].frame == 10


def test_a_fin_at_the_number_after_it_shows_a_byte_not_a_fin() -> None:
    result = _analyzed(
        ("s", "A", 511, 112), ("c", "FA", 112, 511), ("s", "FA", 511, 113), ("c", "A", 113, 512)
    )
    assert _missed(result) == []
    assert result.close.fins is not None and result.close.fins["client"].frame == 8


def test_no_fin_is_taken_while_the_peer_never_closes() -> None:
    # One number acknowledged past all the client sent, and nothing more: a byte or a FIN.
    result = _analyzed(("s", "A", 511, 112))
    assert _missed(result) == []
    assert _states(result)["client"][-1] == "ESTABLISHED"
    assert any("frame 7 not applied to the receiver" in note for note in result.notes)


def test_a_connection_folded_as_it_comes_takes_the_same_fin() -> None:
    data = [(0.1 + i * 0.001, "s", "PA", 511 + 100 * i, 111, 100) for i in range(40)]
    acks = [(0.1 + i * 0.001 + 0.0005, "c", "A", 111, 611 + 100 * i) for i in range(40)]
    end = 511 + 100 * 40
    close = (
        (0.2, "s", "A", end, 112),
        (0.2001, "s", "FA", end, 112),
        (0.2002, "c", "A", 112, end + 1),
    )
    steps = sorted([*data, *acks], key=lambda step: step[0])

    def analyzed(fold: object, long_connection: int) -> ConnectionAnalysis:
        handshake = ((0.0, *HANDSHAKE[0]), (0.001, *HANDSHAKE[1]), (0.002, *HANDSHAKE[2]))
        segments = conversation(*handshake, (0.003, "c", "PA", 101, 501, 10), *steps, *close)
        [connection] = stream_connections(iter(segments), fold=fold, long_connection=long_connection)  # type: ignore[arg-type]
        return analyze_connection(connection)

    whole = analyzed(None, 1 << 30)
    folded = analyzed(functools.partial(FoldedConnection, head_steps=0, look_ahead=16), 24)
    assert whole.close.missed and folded.close.missed
    assert _states(folded) == _states(whole)
    assert _states(whole)["client"][-1] == "TIME_WAIT" and _states(whole)["server"][-1] == "CLOSED"
    assert folded.close.explain() == whole.close.explain()


def test_the_ladder_says_what_the_ack_acknowledges() -> None:
    from analyzer.output.labels import analysis_notes

    result = _analyzed(("s", "A", 511, 112), ("s", "FA", 511, 112), ("c", "A", 112, 512))
    assert analysis_notes(result)[7] == "ACKs a FIN not captured"
    unshown = _analyzed(("s", "A", 511, 112))
    assert analysis_notes(unshown)[7] == "ACKs data not captured"


def test_an_end_whose_numbers_skip_one_after_its_fin_was_missed() -> None:
    # The client shut its side (FIN at 111, missed) while the server's data was on its way: the
    # client acknowledges that from 112 before the server acknowledges the FIN.
    result = _analyzed(
        ("s", "PA", 511, 111, 100),
        ("c", "A", 112, 611),
        ("s", "PA", 611, 112, 100),
        ("c", "A", 112, 711),
        ("s", "FA", 711, 112),
        ("c", "A", 112, 712),
    )
    got = _states(result)
    assert got["client"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert (result.close.first_fin, result.close.shape) == ("client", "half-close")
    assert _missed(result) == [("client", 8)]
    # Sent before the client's ACK that skips it, and taken by the server: both at that ACK.
    assert result.state_frames["client"][3] == 8 and result.state_frames["server"][3] == 8
    assert "frame 8, its end's next segment, starts one number past it" in result.close.explain()
    from analyzer.output.labels import analysis_notes

    assert analysis_notes(result)[8] == "after a FIN not captured"


def test_numbers_that_skip_one_without_a_close_of_the_peer_are_no_fin() -> None:
    result = _analyzed(("s", "PA", 511, 111, 100), ("c", "A", 112, 611), ("s", "PA", 611, 112, 100))
    assert _missed(result) == []
    assert _states(result)["client"][-1] == "ESTABLISHED"


def test_a_reset_at_the_number_after_it_shows_the_fin() -> None:
    # The client closed (FIN at 111, missed); the server's data after it draws the client's RST
    # at 112: data after close.
    # As tests/data's data-after-close recording has it: the RST without ACK, 40 µs after.
    result = _analyzed(
        (0.05, "s", "A", 511, 112), (0.35, "s", "PA", 511, 112, 21), (0.35004, "c", "R", 112, 0)
    )
    assert _missed(result) == [("client", 7)]
    assert (result.close.first_fin, result.close.ending) == ("client", "fin-then-reset")
    assert [reset.cause for reset in result.resets] == ["data_after_close"]


RECORDED = ("handshake", "server-close", "half-close", "process-exit", "nagle", "data-after-close", "time-wait-reuse",
            "lossy-transfer", "handshake-ipv6", "half-close-ipv6")  # fmt: skip


def _ends(path: Path) -> list[tuple]:
    return [
        (
            {side: history[-1][1] for side, history in result.states.items()},
            result.close.first_fin,
            result.close.ending,
            [reset.cause for reset in result.resets],
        )
        for result in analyze_file(str(path)).connections
    ]


@pytest.mark.parametrize("name", RECORDED)
def test_a_recording_without_any_one_of_its_fins_ends_as_it_does_whole(name: str, tmp_path: Path) -> None:
    """Real kernels' exchanges (captures/), each FIN cut out in turn as tcpdump drops one."""
    pcap = ROOT / "captures" / f"{name}.pcap"
    whole = _ends(pcap)
    fins = [result.close.fins for result in analyze_file(str(pcap)).connections]
    frames = sorted(fin.frame for found in fins for fin in (found or {}).values())
    assert frames
    for frame in frames:
        cut = tmp_path / f"without-{frame}.pcap"
        _without_frame(pcap, frame, cut)
        assert _ends(cut) == whole, f"without frame {frame}"


def test_a_three_segment_close_whose_second_fin_was_missed() -> None:
    # The server's FIN/ACK (511, acknowledging the client's FIN) is missed; the client's last
    # ACK acknowledges it. The server had taken the client's FIN: its FIN acknowledged that.
    result = _analyzed(("c", "FA", 111, 511), ("c", "A", 112, 512))
    got = _states(result)
    assert got["client"][-3:] == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert got["server"][-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert (result.close.first_fin, result.close.shape, result.close.time_wait) == (
        "client",
        "three-segment",
        "client",
    )


def test_a_byte_missed_then_an_abort_is_no_fin() -> None:
    # The client's byte at 111 is missed, then it aborts (SO_LINGER 0): RST/ACK at 112, with
    # nothing from the server since to answer.
    result = _analyzed(("s", "A", 511, 112), ("c", "RA", 112, 511))
    assert _missed(result) == []
    assert result.close.shape == "reset"


def test_a_long_half_close_keeps_its_missed_fin_pending() -> None:
    pairs = [
        step
        for i in range(400)
        for step in (("s", "PA", 511 + 100 * i, 112, 100), ("c", "A", 112, 611 + 100 * i))
    ]
    end = 511 + 100 * 400
    result = _analyzed(("s", "A", 511, 112), *pairs, ("s", "FA", end, 112), ("c", "A", 112, end + 1))
    assert _missed(result) == [("client", 7)]
    assert (result.close.first_fin, result.close.shape) == ("client", "half-close")
    assert _states(result)["client"][-1] == "TIME_WAIT"


def test_a_fin_beyond_a_hole_is_left_to_its_own_rule() -> None:
    # The client's FIN missed; the server's FIN comes beyond a hole (511-520 not captured),
    # the client repeats its ACK of 511, and the data comes: what the FIN beyond a hole does
    # (tcp_state.py) is not replayed, no FIN is taken for the client.
    result = _analyzed(
        ("s", "A", 511, 112),
        ("s", "FA", 521, 112),
        ("c", "A", 112, 511),
        ("s", "PA", 511, 112, 10),
        ("c", "A", 112, 522),
    )
    assert _missed(result) == []
    frames = dict(zip(_states(result)["client"], result.state_frames["client"], strict=True))
    assert "TIME_WAIT" not in frames


def test_histories_stay_in_time_order_when_a_move_before_is_taken_back() -> None:
    result = _analyzed(
        ("s", "A", 511, 112),
        ("s", "RA", 510, 111),
        ("c", "A", 112, 511),
        ("s", "A", 510, 113),
        ("s", "PA", 512, 113, 1),
        ("s", "FA", 513, 113),
        ("c", "R", 112, 514),
    )
    for history in result.states.values():
        times = [time for time, _state in history]
        assert times == sorted(times)


def test_one_fin_after_the_other_ends_numbers_the_capture_missed_is_no_sure_first_close() -> None:
    # tcpdump's buffer overran: the client's last 100 bytes (and maybe its FIN) are not in the
    # capture; the server acknowledges 101 numbers past the client's last data, then closes.
    result = _analyzed(("s", "A", 511, 212), ("s", "FA", 511, 212), ("c", "A", 212, 512))
    close = result.close
    assert (close.first_fin, close.shape, close.unseen_tail) == ("server", "one-fin", ("client", 101, 8))
    assert (
        "but the capture missed the client's last 101 sequence numbers (the server's frame 8 acknowledges "
        "them), which may have held its FIN: the client may have closed first" in close.explain()
    )
    assert connection_to_dict(result, Clock(100.0))["close"]["unseen_tail"] == {
        "sender": "client",
        "numbers": 101,
        "acknowledged_by_frame": 8,
    }


def test_an_ends_own_segments_past_its_last_data_show_numbers_the_capture_missed() -> None:
    # The server's FIN acknowledges only what was captured; the client's ACK of it starts 101 past.
    result = _analyzed(("s", "FA", 511, 111), ("c", "A", 212, 512))
    assert result.close.unseen_tail == ("client", 101, None)
    assert "(the client's later segments start past them)" in result.close.explain()


def test_a_one_fin_close_whose_other_end_the_capture_holds_whole_names_no_tail() -> None:
    result = _analyzed(("s", "FA", 511, 111), ("c", "A", 111, 512))
    assert (result.close.shape, result.close.unseen_tail) == ("one-fin", None)
    assert "may have closed first" not in result.close.explain()
