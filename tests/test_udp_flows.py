"""UDP flows (udp_flows.py): their one-line summary stays one short line however many
datagrams a flow holds (a QUIC download holds tens of thousands)."""

from __future__ import annotations

import pytest

from analyzer.decode.segment import Datagram, Unreachable
from analyzer.udp_flows import KEPT, SIZES_LISTED, group_udp_flows

CLIENT, SERVER = ("10.0.0.1", 50000), ("142.250.0.1", 443)


def _datagram(frame: int, from_client: bool, length: int) -> Datagram:
    src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
    return Datagram(frame, 100.0 + frame / 1000, 4, src[0], src[1], dst[0], dst[1], length)


def _refusal(frame: int) -> Unreachable:
    return Unreachable(frame, 100.0 + frame / 1000, 4, SERVER[0], CLIENT[0], 3, 17, (*CLIENT, *SERVER))


def test_a_few_datagrams_are_listed_by_size() -> None:
    records = [_datagram(1, True, 12), _datagram(2, False, 40), _datagram(3, True, 9), _refusal(4)]
    [flow] = group_udp_flows(records)
    assert flow.summary() == (
        "UDP: 2 datagram(s) client→server [12, 9], 1 server→client [40]; "
        "ICMP port unreachable 1.000 ms after the datagram of frame 3"
    )


def test_a_long_flow_is_counted_not_listed() -> None:
    records: list = [_datagram(1, True, 1252)]
    records += [_datagram(frame, False, 1200 if frame % 10 else 33) for frame in range(2, 20_002)]
    records += [_datagram(20_002 + n, True, 40) for n in range(SIZES_LISTED)]
    records += [_refusal(30_000 + n) for n in range(5)]
    [flow] = group_udp_flows(records)
    assert flow.summary() == (
        "UDP: 9 datagram(s) client→server (1,572 bytes, 40 to 1,252 each), "
        "20,000 server→client (21,666,000 bytes, 33 to 1,200 each); "
        "5 ICMP port unreachables, the first 9.991 s after the datagram of frame 20009"
    )


def test_a_flow_keeps_its_first_datagrams_and_counts_them_all() -> None:
    """Memory that does not grow with the flow: KEPT datagrams and errors held, every one counted
    (its Zeek view too), and an error answers the latest datagram to the refusing port."""
    records: list = [_datagram(frame, frame % 2 == 1, 100) for frame in range(1, 2 * KEPT + 2)]
    records += [_refusal(10_000 + n) for n in range(KEPT + 5)]
    [flow] = group_udp_flows(records)
    assert (len(flow.datagrams), flow.datagram_count) == (KEPT, 2 * KEPT + 1)
    assert (len(flow.unreachables), flow.unreachable_count) == (KEPT, KEPT + 5)
    assert flow.unreachables[0][1] == records[2 * KEPT]  # the client's last datagram, frame 2,001
    assert flow.zeek is not None and (flow.zeek.orig_pkts, flow.zeek.resp_pkts) == (KEPT + 1, KEPT)
    assert (flow.zeek.orig_bytes, flow.zeek.duration) == (100 * (KEPT + 1), pytest.approx(2 * KEPT / 1000))


def test_the_picture_of_a_long_flow_draws_its_first_datagrams_and_says_so() -> None:
    from analyzer.output.sequence_diagram import UDP_DRAWN, udp_figure

    [flow] = group_udp_flows([_datagram(frame, frame % 3 == 1, 1200) for frame in range(1, 3001)])
    figure = udp_figure(flow)
    texts = [text.get_text() for axes in figure.axes for text in axes.texts] + [
        text.get_text() for text in figure.texts
    ]
    assert any(f"the first {UDP_DRAWN} of 3,000 drawn" in text for text in texts)
    assert sum(text.startswith("UDP len=") for text in texts) == UDP_DRAWN
