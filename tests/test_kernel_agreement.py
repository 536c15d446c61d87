"""The comparison with the kernel's snapshots reports both agreement and disagreement."""

from __future__ import annotations

from segments import CLIENT, HANDSHAKE, SERVER, conversation

from analyzer.analysis import (
    CALLER_WAKE,
    TIME_WAIT_SECONDS,
    TIME_WAIT_SLACK,
    TIMER_LATE,
    analyze_segments,
    apply_call_timeouts,
    apply_sidecar,
    apply_time_wait_timer,
)
from analyzer.findings.kernel_agreement import _listens_at, compare_with_kernel
from analyzer.tcp_state import State


def _sidecar(snapshots: list[tuple[float, str, str]], calls: list[dict] | None = None) -> dict:
    """snapshots: (time offset, client's kernel state, server's kernel state)."""
    client, server = f"{CLIENT[0]}:{CLIENT[1]}", f"{SERVER[0]}:{SERVER[1]}"
    calls = calls or [
        {"side": "client", "call": "close()", "time": 100.0, "end_time": 100.0, "result": "ok", "errno": None}
    ]
    return {
        "calls": calls,
        "snapshots": [
            {
                "time": 100.0 + offset,
                "after_call": 0,
                "during_call": None,
                "sockets": [
                    {"state": c, "local": client, "peer": server},
                    {"state": s, "local": server, "peer": client},
                ],
            }
            for offset, c, s in snapshots
        ],
    }


CLOSE = (("c", "FA", 101, 501), ("s", "A", 501, 102))


def test_agreement_and_disagreement_are_both_reported() -> None:
    [result] = analyze_segments(conversation(*HANDSHAKE, *CLOSE)).connections
    sidecar = _sidecar([(0.0025, "ESTABLISHED", "ESTABLISHED"), (0.5, "FIN_WAIT_2", "ESTABLISHED")])
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert (agreement.compared, agreement.agreed) == (4, 3)
    [wrong] = agreement.disagreements
    assert (wrong.side, wrong.kernel, wrong.inferred) == ("server", "ESTABLISHED", "CLOSE_WAIT")
    assert agreement.states_checked == ["ESTABLISHED", "FIN_WAIT_2"]


def test_a_socket_missing_from_one_snapshot_between_two_that_list_it_was_missed_by_ss() -> None:
    """close-wait-leak under load: the client's socket absent from the snapshot taken as it
    became a timewait sock (FIN_WAIT_2), listed before and after: ss's dump passed it by,
    the socket did not close and come back. Absent from the last as well, it is CLOSED."""
    [result] = analyze_segments(conversation(*HANDSHAKE, *CLOSE)).connections
    sidecar = _sidecar([(0.0025, "ESTABLISHED", "ESTABLISHED"), (0.5, "FIN_WAIT_2", "CLOSE_WAIT"),
                        (0.6, "FIN_WAIT_2", "CLOSE_WAIT")])  # fmt: skip
    del sidecar["snapshots"][1]["sockets"][0]
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert agreement.disagreements == [] and (agreement.compared, agreement.agreed) == (5, 5)
    # The snapshot after is the next connection's on the 4-tuple: no proof for this one.
    result.connection.succeeded_at = 100.55
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert [(d.side, d.kernel) for d in agreement.disagreements] == [("client", "CLOSED")]
    result.connection.succeeded_at = None
    del sidecar["snapshots"][2]["sockets"][0]
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert [(d.side, d.kernel, d.inferred) for d in agreement.disagreements] == [
        ("client", "CLOSED", "FIN_WAIT_2")
    ] * 2


def test_a_socket_the_kernel_no_longer_lists_is_closed() -> None:
    [result] = analyze_segments(conversation(("c", "S", 100, 0), ("s", "RA", 0, 101))).connections
    sidecar = _sidecar([])
    sidecar["snapshots"] = [{"time": 101.0, "after_call": 0, "during_call": None, "sockets": []}]
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert (agreement.compared, agreement.agreed) == (2, 2)


def test_connect_timeout_from_the_call_log_closes_the_client() -> None:
    [result] = analyze_segments(conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0))).connections
    calls = [{"side": "client", "call": "connect(192.0.2.2:80)", "time": 100.0, "end_time": 103.0,
              "result": "ETIMEDOUT", "errno": "ETIMEDOUT"}]  # fmt: skip
    apply_call_timeouts(result, {"calls": calls})
    assert [s.value for _t, s in result.states["client"]] == ["CLOSED", "SYN_SENT", "CLOSED"]
    assert result.states["client"][-1][0] == 103.0


def test_a_snapshot_between_the_give_up_and_connects_return_may_find_the_socket_gone() -> None:
    """A CI run's syn-timeout: ss, during connect(), found the socket CLOSED some
    milliseconds before connect() returned ETIMEDOUT (the timer gave up, the caller was not
    yet awake). Only within CALLER_WAKE of the return, and never before the last SYN: a
    socket gone earlier is a disagreement (helper-130: with one SYN, a window from the SYN
    on hid one)."""
    [result] = analyze_segments(conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0))).connections
    calls = [{"side": "client", "call": "connect(192.0.2.2:80)", "time": 100.0, "end_time": 103.0,
              "result": "ETIMEDOUT", "errno": "ETIMEDOUT"}]  # fmt: skip
    told_late = apply_call_timeouts(result, {"calls": calls})
    assert told_late == {"client": [(103.0 - CALLER_WAKE, 103.0)]}
    sidecar = {"calls": calls, "snapshots": []}
    for offset, kernel in ((1.5, "CLOSED"), (2.7, "CLOSED"), (2.5, "SYN_SENT"), (2.9, "CLOSED")):
        sockets = [] if kernel == "CLOSED" else [
            {"state": kernel, "local": f"{CLIENT[0]}:{CLIENT[1]}", "peer": f"{SERVER[0]}:{SERVER[1]}"}
        ]  # fmt: skip
        sidecar["snapshots"].append({"time": 100.0 + offset, "end_time": 100.004 + offset, "after_call": 0,
                                     "during_call": 0, "sockets": sockets})  # fmt: skip
    agreement = compare_with_kernel(result.connection, result.states, sidecar, told_late)
    assert [(d.time, d.kernel, d.inferred) for d in agreement.disagreements] == [
        (101.5, "CLOSED", "SYN_SENT"),
        (102.7, "CLOSED", "SYN_SENT"),
    ]
    assert agreement.agreed == 2
    # Without the window, each snapshot that found it gone before the return disagrees.
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert len(agreement.disagreements) == 3
    # One SYN, or a return soon after the last: the window starts no earlier than that SYN.
    [one] = analyze_segments(conversation(("c", "S", 100, 0))).connections
    late = {**calls[0], "end_time": 131.0}
    assert apply_call_timeouts(one, {"calls": [late]}) == {"client": [(131.0 - CALLER_WAKE, 131.0)]}
    [one] = analyze_segments(conversation(("c", "S", 100, 0))).connections
    soon = {**calls[0], "end_time": 100.1}
    assert apply_call_timeouts(one, {"calls": [soon]}) == {"client": [(100.0, 100.1)]}


def test_a_close_of_the_connecting_socket_in_the_call_log_closes_the_client() -> None:
    """curl --connect-timeout 1.5 to a full accept queue (a helper's run): its close() of the
    socket still in SYN_SENT ends the attempt (the kernel: SYN_SENT -> CLOSE at the call); a
    close() of another socket, or one strace did not tie to a socket, says nothing of it."""
    segments = conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0))
    client = f"{segments[0].src}:{segments[0].sport}"
    server = f"{segments[0].dst}:{segments[0].dport}"

    def close(local: str, peer: str) -> dict:
        return {"side": "client", "call": "close()", "time": 101.5, "end_time": 101.5, "result": "ok",
                "errno": None, "socket": {"id": 7, "fd": 5, "local": local, "peer": peer}}  # fmt: skip

    # strace ties the non-blocking connect() and the close() to the socket alike.
    connect = {**close(client, server), "call": f"connect({server})", "time": 100.0, "end_time": 100.0,
               "result": "EINPROGRESS", "errno": "EINPROGRESS"}  # fmt: skip
    [result] = analyze_segments(segments).connections
    apply_call_timeouts(result, {"calls": [connect, close(client, server)]})
    assert [(t, s.value) for t, s in result.states["client"]][1:] == [(100.0, "SYN_SENT"), (101.5, "CLOSED")]
    assert result.state_frames["client"][-1] is None
    # strace names the socket anew at the close() (by its addresses, where the connect() had
    # its inode): the same addresses are the same socket.
    renamed = close(client, server)
    renamed["socket"] = {**renamed["socket"], "id": 8}
    [result] = analyze_segments(segments).connections
    apply_call_timeouts(result, {"calls": [connect, renamed]})
    assert [s.value for _t, s in result.states["client"]][-1] == "CLOSED"
    elsewhere = "192.0.2.1:1234"
    # The 4-tuple connects again after the last SYN: a close() after that is the next one's.
    again = {**connect, "time": 101.2, "end_time": 101.2}
    others = (
        [{**connect, "socket": close(elsewhere, server)["socket"]}, close(elsewhere, server)],
        [connect, {**close(client, server), "socket": None, "time": 100.5, "end_time": 100.5}],
        [connect, again, close(client, server)],
    )
    for calls in others:
        [result] = analyze_segments(segments).connections
        apply_call_timeouts(result, {"calls": calls})
        assert [s.value for _t, s in result.states["client"]] == ["CLOSED", "SYN_SENT"]


def test_a_silent_server_is_the_listener_the_kernel_listed_while_the_connection_lasted() -> None:
    [result] = analyze_segments(conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0))).connections
    listening = {"state": "LISTEN", "local": f"{SERVER[0]}:{SERVER[1]}", "peer": "0.0.0.0:*"}
    sidecar = _sidecar([])
    sidecar["snapshots"] = [{"time": 100.5, "after_call": 0, "during_call": None, "sockets": [listening]}]
    assert compare_with_kernel(result.connection, result.states, sidecar).server_listened
    # A listener the kernel listed only after the last SYN says nothing of this connection.
    sidecar["snapshots"][0]["time"] = 102.0
    assert not compare_with_kernel(result.connection, result.states, sidecar).server_listened


def test_a_dual_stack_listeners_ipv4_connection_is_found_under_its_ipv4_mapped_name() -> None:
    """(helper-102's x26) A listener bound to [::] takes IPv4 connections as IPv6 sockets: ss
    lists them [::ffff:192.0.2.1]:40000, the listener [::]:80; the packets are IPv4."""
    [result] = analyze_segments(conversation(*HANDSHAKE, *CLOSE)).connections
    sidecar = _sidecar([(0.0025, "ESTABLISHED", "ESTABLISHED"), (0.5, "FIN_WAIT_2", "CLOSE_WAIT")])
    for snapshot in sidecar["snapshots"]:
        for socket in snapshot["sockets"]:
            if socket["local"].startswith(SERVER[0]):
                socket["local"], socket["peer"] = (f"[::ffff:{end[0]}]:{end[1]}" for end in (SERVER, CLIENT))
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert agreement.disagreements == [] and (agreement.compared, agreement.agreed) == (4, 4)
    [silent] = analyze_segments(conversation(("c", "S", 100, 0), (1.0, "c", "S", 100, 0))).connections
    listening = {"state": "LISTEN", "local": f"[::]:{SERVER[1]}", "peer": "[::]:*"}
    sidecar["snapshots"] = [{"time": 100.5, "after_call": 0, "during_call": None, "sockets": [listening]}]
    assert compare_with_kernel(silent.connection, silent.states, sidecar).server_listened
    listening["local"] = f"[::]:{SERVER[1] + 1}"
    assert not compare_with_kernel(silent.connection, silent.states, sidecar).server_listened
    # An IPv4 wildcard listens for IPv4 only (helper-103's review); [::] for both.
    assert _listens_at({"0.0.0.0:80"}, "192.0.2.2:80") and not _listens_at({"0.0.0.0:80"}, "2001:db8::2:80")
    assert _listens_at({":::80"}, "2001:db8::2:80") and _listens_at({":::80"}, "192.0.2.2:80")


def test_time_wait_ends_after_linuxs_60_seconds_within_its_timer_wheels_slack() -> None:
    """(a 70 s `handshake run` of http.server) The client holds TIME_WAIT; 60 s later Linux
    frees it, give or take its timer wheel's granule: snapshots at +30 s, +61 s (still there)
    and +69 s (gone) all agree, where the last 17 of such a run disagreed before."""
    fin = (("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502))
    [result] = analyze_segments(conversation(*HANDSHAKE, *fin)).connections
    assert result.states["client"][-1][1].value == "TIME_WAIT"
    entered = result.states["client"][-1][0]
    sidecar = _sidecar(
        [(30.0, "TIME_WAIT", "CLOSED"), (61.0, "TIME_WAIT", "CLOSED"), (69.0, "CLOSED", "CLOSED")]
    )
    sidecar["calls"][0]["end_time"] = 170.0
    spans = apply_time_wait_timer(result, 170.0)
    assert result.states["client"][-1] == (entered + 60.0, State.CLOSED)
    assert result.state_frames["client"][-1] is None
    assert "the client's TIME_WAIT ended at +60.00" in " ".join(result.notes)
    unsure = {side: [span] for side, span in spans.items()}
    agreement = compare_with_kernel(result.connection, result.states, sidecar, unsure)
    assert agreement.disagreements == [] and agreement.compared == 6
    # A recording that stopped before the 60 s leaves it in TIME_WAIT.
    [result] = analyze_segments(conversation(*HANDSHAKE, *fin)).connections
    apply_time_wait_timer(result, 150.0)
    assert result.states["client"][-1][1] == State.TIME_WAIT


def test_time_wait_a_rst_ended_has_no_timers_slack() -> None:
    """A RST into the server's TIME_WAIT (helper-100's twrst1): with net.ipv4.tcp_rfc1337=1
    Linux keeps the socket, and a snapshot 0.3 s later that lists it disagrees with the
    analysis's CLOSED (the timer's 6 s of slack had hidden it); one that does not, agrees."""
    steps = (("s", "FA", 501, 101), ("c", "FA", 101, 502), ("s", "A", 502, 102), (0.2, "c", "R", 102, 0))
    [result] = analyze_segments(conversation(*HANDSHAKE, *steps)).connections
    assert [s.value for _t, s in result.states["server"]][-2:] == ["TIME_WAIT", "CLOSED"]
    kept = _sidecar([(0.5, "CLOSED", "TIME_WAIT")])
    agreement = compare_with_kernel(result.connection, result.states, kept)
    assert [(d.side, d.kernel, d.inferred) for d in agreement.disagreements] == [
        ("server", "TIME_WAIT", "CLOSED")
    ]
    gone = _sidecar([(0.5, "CLOSED", "CLOSED")])
    assert compare_with_kernel(result.connection, result.states, gone).disagreements == []


def test_one_difference_the_snapshots_repeat_is_said_once_with_its_count() -> None:
    from analyzer.findings.kernel_agreement import Disagreement, KernelAgreement

    when = "during program run: ./t2.sh"
    repeated = [Disagreement(160.0 + 0.5 * n, "server", when, "CLOSED", "TIME_WAIT") for n in range(17)]
    other = Disagreement(170.0, "client", when, "FIN_WAIT_1", "ESTABLISHED")
    agreement = KernelAgreement(snapshots=20, compared=40, agreed=22, states_checked=["CLOSED"],
                                disagreements=[*repeated, other])  # fmt: skip
    assert agreement.describe() == (
        "kernel agrees on 22 of 40 state checks (CLOSED); during program run: ./t2.sh the kernel had the "
        "server in CLOSED, inferred TIME_WAIT (17 snapshots over 8.000 s); during program run: ./t2.sh the "
        "kernel had the client in FIN_WAIT_1, inferred ESTABLISHED"
    )


def test_a_fin_resent_into_time_wait_starts_its_60_seconds_again() -> None:
    fin = (("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502), (4.0, "s", "FA", 501, 102))
    [result] = analyze_segments(conversation(*HANDSHAKE, *fin)).connections
    apply_time_wait_timer(result, 200.0)
    assert result.states["client"][-1] == (100.0 + 4.0 + 60.0, State.CLOSED)


def test_fin_wait_1_while_the_queued_data_still_leaves_is_the_close_before_its_fin() -> None:
    """A helper's zwp run: the server's close() right after a large send; 7 snapshots over 3 s
    had it in FIN_WAIT_1 while its data still left, the FIN after it: no disagreement, said
    as what it is. The same FIN_WAIT_1 with nothing sent between is still one."""
    data = [(0.5, "c", "PA", 101, 501, 1000), (0.9, "c", "PA", 1101, 501, 1000), (0.91, "s", "A", 501, 2101)]
    close = [(1.0, "c", "FA", 2101, 501), (1.001, "s", "A", 501, 2102)]
    [result] = analyze_segments(conversation(*HANDSHAKE, *data, *close)).connections
    sidecar = _sidecar([(0.4, "FIN_WAIT_1", "ESTABLISHED"), (0.8, "FIN_WAIT_1", "ESTABLISHED")])
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert agreement.disagreements == [] and len(agreement.behind_data) == 2
    assert (agreement.compared, agreement.agreed) == (4, 2)
    assert "the kernel had the client in FIN_WAIT_1 while the data queued before its FIN still left" in (
        agreement.describe()
    )
    # After the last data segment: nothing queued is seen leaving, a plain disagreement.
    sidecar = _sidecar([(0.95, "FIN_WAIT_1", "ESTABLISHED")])
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert agreement.behind_data == [] and [d.kernel for d in agreement.disagreements] == ["FIN_WAIT_1"]


def test_a_snapshot_just_after_the_fin_wait_2_timer_may_find_it_not_yet_fired() -> None:
    """The recorded tcp_fin_timeout puts the orphan timer's move at entering FIN_WAIT_2 plus
    the timeout; the kernel's timer wheel fires it up to a granule later (helper-129:
    snapshots 2.5 and 8 ms past it). A snapshot within that finds FIN_WAIT_2 or CLOSED; one
    a second later that finds FIN_WAIT_2 disagrees."""
    from analyzer.analysis import apply_orphan_timer

    [result] = analyze_segments(
        conversation(*HANDSHAKE, *CLOSE, (2.1, "s", "FA", 501, 102), (2.10002, "c", "R", 102, 0))
    ).connections
    windows = apply_orphan_timer(result, {"net.ipv4.tcp_fin_timeout": "2"})
    fired = result.states["client"][-1][0]
    assert windows == {"client": (fired, fired + TIMER_LATE + 2 / 8)}
    sidecar = _sidecar(
        [
            (fired - 100.0 + 0.01, "FIN_WAIT_2", "CLOSE_WAIT"),
            (fired - 100.0 + 1.0, "FIN_WAIT_2", "CLOSE_WAIT"),
        ]
    )
    agreement = compare_with_kernel(
        result.connection, result.states, sidecar, {"client": [windows["client"]]}
    )
    client = [d for d in agreement.disagreements if d.side == "client"]
    assert [(round(d.time - fired, 3), d.kernel, d.inferred) for d in client] == [
        (1.0, "FIN_WAIT_2", "CLOSED")
    ]
    agreement = compare_with_kernel(result.connection, result.states, sidecar)
    assert len([d for d in agreement.disagreements if d.side == "client"]) == 2


def test_a_snapshot_late_in_the_time_wait_timers_granule_may_still_find_the_socket() -> None:
    """The TIME_WAIT timer fires on a wheel whose granule at 60 s is seconds long: a snapshot
    within TIME_WAIT_SLACK after the 60 s may find TIME_WAIT or nothing; after it, TIME_WAIT
    disagrees. A TIME_WAIT a RST ended has no such span: its move is the packet's."""
    close = (("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502))
    [result] = analyze_segments(conversation(*HANDSHAKE, *close)).connections
    entered = result.states["client"][-1][0]
    spans = apply_time_wait_timer(result, recorded_until=entered + 100.0)
    ends = entered + TIME_WAIT_SECONDS
    assert spans == {"client": (ends, ends + TIME_WAIT_SLACK)}
    assert result.states["client"][-1] == (ends, State.CLOSED)
    sidecar = _sidecar([])
    for late in (0.0, TIME_WAIT_SLACK / 2, TIME_WAIT_SLACK + 1.0):
        sidecar["snapshots"].append({
            "time": ends + late, "after_call": 0, "during_call": None,
            "sockets": [{"state": "TIME_WAIT", "local": f"{CLIENT[0]}:{CLIENT[1]}", "peer": f"{SERVER[0]}:{SERVER[1]}"}],
        })  # fmt: skip
    unsure = {side: [span] for side, span in spans.items()}
    agreement = compare_with_kernel(result.connection, result.states, sidecar, unsure)
    assert [(d.time - ends, d.kernel, d.inferred) for d in agreement.disagreements] == [
        (TIME_WAIT_SLACK + 1.0, "TIME_WAIT", "CLOSED")
    ]
    # Without the span, each snapshot from the 60 s on that found the socket disagrees.
    assert len(compare_with_kernel(result.connection, result.states, sidecar).disagreements) == 3
    # apply_sidecar places the timer's move and hands its span to the comparison.
    [result] = analyze_segments(conversation(*HANDSHAKE, *close)).connections
    del sidecar["snapshots"][2]["sockets"][0]  # gone by the last
    apply_sidecar(result, sidecar)
    assert result.kernel is not None and result.kernel.disagreements == []
    assert result.kernel.compared == 6
    [reset] = analyze_segments(conversation(*HANDSHAKE, *close, (0.2, "s", "R", 502, 0))).connections
    assert reset.states["client"][-1][1] == State.CLOSED
    assert apply_time_wait_timer(reset, recorded_until=entered + 100.0) == {}
