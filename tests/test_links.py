"""Connections that are one (findings/links.py): a connection captured on both sides of an
address translation (the same sequence numbers on two 4-tuples; for an attempt, its ISN, one
endpoint and a TTL one lower), and the subflows of a Multipath TCP connection (MP_JOIN's
token is the hash of the key in the first subflow's SYN/ACK); in the text head, the JSON
head, the jsonl file line and the summary, the same in shares."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace

import pytest
from pcap_builder import tcp_packet, write_capture
from scapy.layers.inet import IP, TCP

from analyzer.analysis import analyze_file
from analyzer.connections import Connection
from analyzer.decode.segment import SYN, Segment
from analyzer.findings.links import MAX_SIDES, TRANSLATED_WITHIN, LinkDetector, _Ends
from analyzer.output.json_report import analysis_to_dict
from analyzer.output.text_report import analysis_text
from analyzer.parallel import one_file
from analyzer.parallel.options import AnalyzeOptions

INSIDE, OUTSIDE, SERVER = "172.17.0.2", "198.51.100.1", "192.0.2.1"
FORWARDED, CLIENT = "172.17.0.3", "203.0.113.9"


def _connection(ident: int, client: tuple[str, int], server: tuple[str, int]) -> Connection:
    """A connection of no segments: what the detector's entries read of one (compiled,
    links.py takes nothing else)."""
    return Connection(ident, 4, client, server)


def _exchange(
    client: tuple[str, int], server: tuple[str, int], isns: tuple[int, int]
) -> list[tuple[bool, object]]:
    """A whole connection, each packet with whether the client sent it."""
    (c, cp), (s, sp), (ci, si) = client, server, isns
    return [
        (True, tcp_packet(4, c, cp, s, sp, "S", ci)),
        (False, tcp_packet(4, s, sp, c, cp, "SA", si, ci + 1)),
        (True, tcp_packet(4, c, cp, s, sp, "A", ci + 1, si + 1)),
        (True, tcp_packet(4, c, cp, s, sp, "PA", ci + 1, si + 1, b"GET /\r\n")),
        (False, tcp_packet(4, s, sp, c, cp, "PA", si + 1, ci + 8, b"200\r\n")),
        (True, tcp_packet(4, c, cp, s, sp, "FA", ci + 8, si + 6)),
        (False, tcp_packet(4, s, sp, c, cp, "FA", si + 6, ci + 9)),
        (True, tcp_packet(4, c, cp, s, sp, "A", ci + 9, si + 7)),
    ]


def _translated(first: list, second: list, client_first: bool = True) -> list:
    """Each packet captured on the side it came in on, then translated on the other: the
    client's packets first in `first` when client_first, the server's first in `second`."""
    packets = []
    for (from_client, a), (_, b) in zip(first, second, strict=True):
        packets += [a, b] if from_client == client_first else [b, a]
    return packets


def _nat_capture(tmp_path):
    # Masquerade: the container's connection leaves with the host's address.
    snat = _translated(
        _exchange((INSIDE, 40000), (SERVER, 80), (1000, 5000)),
        _exchange((OUTSIDE, 40000), (SERVER, 80), (1000, 5000)),
    )
    # A port forward: the outside client's connection to the host's port 8080 goes to the
    # second container's port 80.
    dnat = _translated(
        _exchange((CLIENT, 50000), (OUTSIDE, 8080), (2000, 6000)),
        _exchange((CLIENT, 50000), (FORWARDED, 80), (2000, 6000)),
    )
    # Not the same connection: its client's ISN is the first's, its server's not.
    other = [p for _, p in _exchange((INSIDE, 40001), (SERVER, 80), (1000, 7777))]
    packets = snat + dnat + other
    # The same ISNs later than a translation takes: another connection after all.
    late = [p for _, p in _exchange((INSIDE, 40002), (SERVER, 443), (2000, 6000))]
    times = [i * 0.001 for i in range(len(packets))]
    times += [times[-1] + TRANSLATED_WITHIN + 1 + i * 0.001 for i in range(len(late))]
    return write_capture(tmp_path / "nat.pcap", packets + late, times=times)


def _ids(analysis) -> dict:
    """Each connection's id by its (client, server)."""
    return {(c.connection.client, c.connection.server): c.connection.id for c in analysis.connections}


def test_a_connection_on_both_sides_of_a_nat_is_linked_in_the_order_of_its_syns(tmp_path) -> None:
    analysis = analyze_file(str(_nat_capture(tmp_path)))
    ids = _ids(analysis)
    inside, outside = ids[((INSIDE, 40000), (SERVER, 80))], ids[((OUTSIDE, 40000), (SERVER, 80))]
    front, back = ids[((CLIENT, 50000), (OUTSIDE, 8080))], ids[((CLIENT, 50000), (FORWARDED, 80))]
    assert [t.connections for t in analysis.links.translations] == [[inside, outside], [front, back]]
    head = analysis_to_dict(analysis)
    assert head["address_translations"] == [
        {"connections": [inside, outside]},
        {"connections": [front, back]},
    ]
    assert head["multipath_tcp"] == []
    assert (
        "address translation: 2 connections seen on both sides of a NAT (the same sequence numbers on another "
        f"4-tuple, in the order their SYNs were captured): #{inside} = #{outside}, #{front} = #{back}"
    ) in analysis_text(analysis).splitlines()


def test_a_capture_without_translation_says_nothing_of_it(tmp_path) -> None:
    packets = [p for _, p in _exchange((INSIDE, 40000), (SERVER, 80), (1000, 5000))]
    packets += [p for _, p in _exchange((INSIDE, 40001), (SERVER, 80), (1000, 5001))]
    analysis = analyze_file(str(write_capture(tmp_path / "plain.pcap", packets)))
    assert not analysis.links
    assert analysis_to_dict(analysis)["address_translations"] == []
    assert "address translation" not in analysis_text(analysis)


def test_a_translation_twice_is_one_connection_on_three_sides_and_one_4_tuple_none() -> None:
    detector = LinkDetector()
    entries = [(0.0, 1), (0.001, 2), (0.002, 3), (5.0, 4), (9.0, 5), (9.001, 5)]
    for ident, (time, port) in enumerate(entries):
        sides = _connection(ident, (INSIDE, 40000 + port), (SERVER, 80))
        detector.handshakes.add(7 << 32 | 9, time, ident, _Ends.of(sides), 64)
    assert [t.connections for t in detector.findings().translations] == [[0, 1, 2]]


@pytest.mark.parametrize("sides", [MAX_SIDES, MAX_SIDES + 1])
def test_more_connections_sharing_isns_than_a_path_has_translations_are_not_one(sides) -> None:
    """A stack or a generator that fixes its ISNs: 1,000 connections, each with the same
    client and server ISN, were read as one seen on 1,000 sides of address translations."""
    detector = LinkDetector()
    for ident in range(sides):
        ends = _connection(ident, (INSIDE, 40000 + ident), (SERVER, 80))
        detector.handshakes.add(7 << 32 | 9, 0.001 * ident, ident, _Ends.of(ends), 64)
    found = [t.connections for t in detector.findings().translations]
    assert found == ([list(range(sides))] if sides <= MAX_SIDES else [])


def _attempt(
    client: tuple[str, int], server: tuple[str, int], isn: int, ttl: int, answer: str | None
) -> list:
    """A SYN (sent twice more when nothing answers it), and a RST/ACK if `answer`."""
    (c, cp), (s, sp) = client, server
    syns = [
        IP(src=c, dst=s, ttl=ttl) / TCP(sport=cp, dport=sp, flags="S", seq=isn)
        for _ in range(1 if answer else 3)
    ]
    if answer:
        return [*syns, IP(src=s, dst=c) / TCP(sport=sp, dport=cp, flags="RA", seq=0, ack=isn + 1)]
    return syns


def _attempts_capture(tmp_path):
    # A port forward to a port where nothing listens: the outside SYN, then the inside one
    # (routed: TTL one lower), the inside RST, then the outside one.
    front = _attempt((CLIENT, 50000), (OUTSIDE, 8081), 3000, 60, "RA")
    back = _attempt((CLIENT, 50000), (FORWARDED, 8001), 3000, 59, "RA")
    refused = [front[0], back[0], back[1], front[1]]
    # A SYN nobody answers, from a container through the masquerade: each SYN twice.
    inside = _attempt((INSIDE, 41000), (SERVER, 443), 4000, 64, None)
    outside = _attempt((OUTSIDE, 41000), (SERVER, 443), 4000, 63, None)
    unanswered = [p for pair in zip(inside, outside, strict=True) for p in pair]
    # A scanner's probes, one ISN for all, one TTL: not sides of one attempt.
    probes = [
        p for port in (22, 23, 25) for p in _attempt(("10.9.9.9", 61000), (SERVER, port), 5000, 50, "RA")
    ]
    # The same ISN and endpoint as the refused one's, 0.5 s later, the TTL not one lower:
    # another attempt.
    other = _attempt((CLIENT, 50000), (SERVER, 8081), 3000, 60, "RA")
    packets = refused + other + unanswered + probes
    times = [0.0, 0.0001, 0.0002, 0.0003, 0.5, 0.5001, *[1.0 + i * 0.0001 for i in range(6)]]
    times += [2.0 + i * 0.001 for i in range(len(probes))]
    return write_capture(tmp_path / "attempts.pcap", packets, times=times)


def _scan_through_nat_capture(tmp_path):
    """A scanner's SYNs, one ISN for all, to 40 ports forwarded to a container where nothing
    listens: each probe seen outside and inside (routed, TTL one lower), and refused. Each
    pair looks like one attempt through a NAT; the scan is the finding."""
    packets = []
    for port in range(1000, 1040):
        front = _attempt(("10.9.9.9", 61000), (OUTSIDE, port), 5000, 50, "RA")
        back = _attempt(("10.9.9.9", 61000), (FORWARDED, port), 5000, 49, "RA")
        packets += [front[0], back[0], back[1], front[1]]
    return write_capture(tmp_path / "scan.pcap", packets, step=0.0005)


def test_attempts_through_a_nat_are_linked_by_their_isn_an_endpoint_and_a_ttl_one_lower(tmp_path) -> None:
    analysis = analyze_file(str(_attempts_capture(tmp_path)))
    ids = _ids(analysis)
    front, back = ids[((CLIENT, 50000), (OUTSIDE, 8081))], ids[((CLIENT, 50000), (FORWARDED, 8001))]
    inside, outside = ids[((INSIDE, 41000), (SERVER, 443))], ids[((OUTSIDE, 41000), (SERVER, 443))]
    assert [t.connections for t in analysis.links.translations] == [[front, back], [inside, outside]]


SERVER_KEY = 0x0123456789ABCDEF
TOKEN = int.from_bytes(hashlib.sha256(SERVER_KEY.to_bytes(8, "big")).digest()[:4], "big")


def _mptcp_capture(tmp_path):
    capable = (30, b"\x01\x81")
    keyed = (30, b"\x01\x81" + SERVER_KEY.to_bytes(8, "big"))

    def join(token: int) -> tuple[int, bytes]:
        return (30, b"\x10\x02" + token.to_bytes(4, "big") + b"\x5a\x5a\x5a\x5a")

    def handshake(client: str, port: int, isn: int, syn_option, synack_option) -> list:
        return [
            tcp_packet(4, client, port, SERVER, 80, "S", isn, options=[syn_option]),
            tcp_packet(4, SERVER, 80, client, port, "SA", isn + 5, isn + 1, options=[synack_option]),
            tcp_packet(4, client, port, SERVER, 80, "A", isn + 1, isn + 6),
        ]

    packets = handshake("10.0.0.1", 40000, 1000, capable, keyed)
    packets += handshake("10.0.0.9", 41000, 3000, capable, capable)  # MPTCP, joined by none
    packets += handshake("10.0.1.1", 40001, 7000, join(TOKEN), (30, b"\x10\x02" + bytes(12)))
    packets += handshake("10.0.2.1", 40002, 9000, join(TOKEN), (30, b"\x10\x02" + bytes(12)))
    packets += handshake("10.0.3.1", 40003, 11000, join(0xDEADBEEF), (30, b"\x10\x02" + bytes(12)))
    return write_capture(tmp_path / "mptcp.pcap", packets)


def test_subflows_are_linked_to_the_connection_whose_key_gives_their_token(tmp_path) -> None:
    analysis = analyze_file(str(_mptcp_capture(tmp_path)))
    head = analysis_to_dict(analysis)
    assert head["multipath_tcp"] == [
        {"connection": 0, "token": f"0x{TOKEN:08x}", "subflows": [2, 3]},
        {"connection": None, "token": "0xdeadbeef", "subflows": [4]},
    ]
    lines = analysis_text(analysis).splitlines()
    assert f"Multipath TCP: #0 (token 0x{TOKEN:08x}) and the subflows that joined it: #2, #3" in lines
    assert (
        "Multipath TCP: a connection not captured (token 0xdeadbeef) and the subflow that joined it: #4"
        in lines
    )
    assert head["address_translations"] == []


@pytest.mark.parametrize(
    "capture", [_nat_capture, _mptcp_capture, _attempts_capture, _scan_through_nat_capture]
)
def test_the_links_in_shares_are_one_process_s(monkeypatch, tmp_path, capture) -> None:
    path = str(capture(tmp_path))
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    for form in ("text", "json"):
        made = AnalyzeOptions(format=form, use_sidecar=False)
        alone = io.StringIO()
        one_file.render_file(path, made, alone)
        expected = alone.getvalue()
        if form == "text" and capture is not _scan_through_nat_capture:
            assert "address translation" in expected or "Multipath TCP" in expected
        for processes in (2, 3):
            out = io.StringIO()
            one_file.render_file(path, replace(made, jobs=processes), out)
            assert out.getvalue() == expected, (form, processes)
    document = json.loads(expected)
    if capture is _scan_through_nat_capture:  # its probes are the scan's, none linked
        assert document["scans"] and not document["address_translations"]
    else:
        assert document["address_translations"] or document["multipath_tcp"]


def test_the_jsonl_file_line_and_the_summary_tell_them(tmp_path, capsys) -> None:
    from analyzer.cli import main

    nat, mptcp = str(_nat_capture(tmp_path)), str(_mptcp_capture(tmp_path))
    assert main(["analyze", "--format", "jsonl", "--quiet", nat]) == 0
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["type"] == "file" and len(last["address_translations"]) == 2
    assert main(["analyze", "--summary", "--json", "--quiet", mptcp]) == 0
    assert json.loads(capsys.readouterr().out)["multipath_tcp"][0]["subflows"] == [2, 3]
    assert main(["analyze", "--summary", "--quiet", nat]) == 0
    assert "address translation: 2 connections seen on both sides of a NAT" in capsys.readouterr().out
    # The summary counts an attempt by its shape (a view of another's analysis): its own SYN
    # is read all the same.
    attempts = str(_attempts_capture(tmp_path))
    assert main(["analyze", "--summary", "--json", "--quiet", attempts]) == 0
    assert len(json.loads(capsys.readouterr().out)["address_translations"]) == 2


def test_a_flood_s_attempts_are_not_held_once_it_is_known_and_none_is_linked(tmp_path) -> None:
    """The attempts of a scan or a flood (ScanDetector.hot) are not held: memory for the
    attempts before it was known only (each by both endpoints), and 12,000 random ISNs with
    one TTL make no translation."""
    from analyzer.analysis import stream_file
    from analyzer.benchmark import syn_flood

    path = tmp_path / "flood.pcap"
    syn_flood.write_capture(path, 12_000)
    stream = stream_file(str(path))
    assert sum(1 for _ in stream.results) > 12_000
    assert 0 < len(stream.links.attempts.keys) < 2 * 2_500
    assert not stream.links.findings()


def test_the_report_page_links_each_side_to_its_section(tmp_path) -> None:
    from analyzer.output.html_report import html_report

    page = html_report(analyze_file(str(_nat_capture(tmp_path))))
    assert "<h2>Connections that are one</h2>" in page
    assert (
        "2 connections seen on both sides of a NAT (the same sequence numbers on another 4-tuple, in the order their "
        'SYNs were captured): <span class="sides"><a href="#conn-0">#0</a> = <a href="#conn-1">#1</a></span>, '
        '<span class="sides"><a href="#conn-2">#2</a> = <a href="#conn-3">#3</a></span></li>'
    ) in page
    assert 'id="conn-1"' in page and 'id="conn-3"' in page
    plain = tmp_path / "plain.pcap"
    write_capture(plain, [p for _, p in _exchange((INSIDE, 40000), (SERVER, 80), (1000, 5000))])
    assert "Connections that are one" not in html_report(analyze_file(str(plain)))


def test_a_token_names_the_first_connection_with_its_key_whatever_the_order_handed_over(tmp_path) -> None:
    """Two MP_CAPABLE connections with one key (one Multipath TCP connection through a NAT):
    its subflows are the first one's, as in shares, in whichever order they ended."""
    analysis = analyze_file(str(_mptcp_capture(tmp_path)))
    first = analysis.connections[0]
    twin = analyze_file(str(_mptcp_capture(tmp_path))).connections[0]
    twin.connection.id = 7
    for order in ([first, twin], [twin, first]):
        detector = LinkDetector()
        for result in order:
            detector.add(result)
        assert detector.tokens == {TOKEN: 0}


def test_sides_of_sides_are_one_connection_in_the_order_of_their_syns() -> None:
    """A port forward, then a masquerade: the first side shares its client's endpoint with
    the second, the second its server's with the third; each SYN one hop later."""
    detector = LinkDetector()
    sides = [
        (2, (CLIENT, 50000), (OUTSIDE, 8080), 60, 0.0),
        (0, (CLIENT, 50000), (FORWARDED, 80), 59, 0.001),
        (1, (INSIDE, 33000), (FORWARDED, 80), 58, 0.002),
    ]
    for ident, client, server, ttl, time in sides:
        connection = _connection(ident, client, server)
        syn = Segment(1, time, 4, *client, *server, SYN, 3000, 0, 65535, 0, None, ttl=ttl)
        detector._add(connection, "refused", 3000, None, syn, "rst")
    assert [t.connections for t in detector.findings().translations] == [[2, 0, 1]]


def test_a_translation_seen_by_two_taps_is_one_on_its_three_sides() -> None:
    """helper-121: a connection through DNAT and SNAT (3 sides) seen by two merged taps is 6
    entries on 3 4-tuples: MAX_SIDES counts the 4-tuples, not the entries (it was dropped)."""
    detector = LinkDetector()
    sides = [
        ((INSIDE, 40000), (SERVER, 80)),
        ((INSIDE, 40000), (OUTSIDE, 8080)),
        ((OUTSIDE, 61000), (SERVER, 8080)),
    ]
    ident = 0
    for skew in (0.0, 1.0):
        for n, (client, server) in enumerate(sides):
            ends = _connection(ident, client, server)
            detector.handshakes.add(7 << 32 | 9, skew + 0.0001 * n, ident, _Ends.of(ends), 64)
            ident += 1
    assert [t.connections for t in detector.findings().translations] == [[0, 1, 2, 3, 4, 5]]


def test_two_four_tuples_whose_texts_run_together_alike_have_other_checksums() -> None:
    """helper-130: address text and port bytes run together, 10.0.0.12:13108 -> 5.6.7.8:80
    and 10.0.0.1:12851 -> 45.6.7.8:80 were one checksum."""
    from analyzer.findings.links import _endpoint_crc

    def four_tuple(client: tuple[str, int], server: tuple[str, int]) -> int:
        return _endpoint_crc(server, _endpoint_crc(client))

    assert four_tuple(("10.0.0.12", 13108), ("5.6.7.8", 80)) != four_tuple(
        ("10.0.0.1", 12851), ("45.6.7.8", 80)
    )
