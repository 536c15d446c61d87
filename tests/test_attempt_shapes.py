"""A flood's attempts analyzed once per shape (analyzer/attempt_shapes.py): two attempts of
one shape get the same verdict, whatever else differs; a view counts as its attempt's own
analysis would; the text and the summary of a flood are those of every attempt analyzed."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from pcap_builder import tcp_packet, write_capture

from analyzer.analysis import ConnectionAnalysis, analyze_connection, stream_file
from analyzer.attempt_shapes import attempt_shape
from analyzer.connections import Timeouts, stream_connections
from analyzer.decode.segment import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, Segment, TcpOptions
from analyzer.findings.scans import probe_answer
from analyzer.output.only import ONLY_KINDS, retransmitted
from analyzer.output.summary import write_summary
from analyzer.output.text_report import write_text


def verdict(result: ConnectionAnalysis) -> tuple:
    """What the outputs read of an attempt they only count (attempt_shapes.py's docstring)."""
    handshake, close = result.handshake, result.close
    return (
        handshake.status,
        close.ending,
        close.shape,
        tuple((reset.sender, reset.cause) for reset in result.resets),
        probe_answer(result),
        retransmitted(result),
        bool(handshake.syns),
        bool(handshake.synacks),
        handshake.final_ack is not None,
        handshake.unrequested_for is not None,  # its listener kept no request (findings/syn_cookies.py)
    )


def _options(rng: random.Random) -> TcpOptions | None:
    if rng.random() < 0.1:
        return None
    return TcpOptions(
        mss=rng.choice([None, 536, 1460]),
        window_scale=rng.choice([None, 0, 7]),
        sack_permitted=rng.random() < 0.5,
        timestamps=rng.random() < 0.5,
        fast_open=rng.random() < 0.1,
        cut=rng.random() < 0.1,
    )


def _config(rng: random.Random) -> dict:
    """What an attempt's shape is made of, drawn at random."""
    extras = [0, 0, 0, ECE | CWR, PSH, URG, FIN, RST, ACK]
    return {
        "syn_flags": SYN | rng.choice(extras),
        "syn_ack_field": rng.random() < 0.3,
        "syn_zero_window": rng.random() < 0.1,
        "syn_data": rng.choice([0, 0, 0, 10]),
        "syn_cut": rng.random() < 0.05,
        "syn_options": _options(rng),
        "answered": rng.random() < 0.7,
        # The server's answer a SYN/ACK or a RST (a closed port); after a SYN/ACK, perhaps
        # the client's RST (a half-open scan).
        "refused": rng.random() < 0.3,
        "rst_flags": RST | rng.choice([0, 0, ACK, ACK, PSH, ACK | PSH, URG]),
        "rst_numbers": rng.choice(["right", "right", "zero", "other", "window"]),
        "client_rst": rng.random() < 0.4,
        # The SYN/ACK resent by a listener without SYN cookies: its sequence number the same
        # (or a few units off), the gaps short and long.
        "synack_resends": rng.choice([0, 0, 0, 1, 2, 5]),
        "resend_seq": rng.choice(["same", "same", "near"]),
        "synack_flags": SYN | ACK | rng.choice(extras),
        "synack_acks": rng.choice(["right", "right", "seq", "other"]),
        "same_seq": rng.random() < 0.1,
        # Numbers close to one another and to where comparisons turn (0, 2**31): where a
        # rule's "before" or "after" is decided by a few units.
        "near": rng.random() < 0.5,
        "synack_zero_window": rng.random() < 0.1,
        # Small windows: whether the client's RST lies in the window (its largest scale) of
        # the SYN/ACK is decided a few units either side of a multiple of 2**14.
        "synack_window": rng.choice(["any", "any", 1, 2]),
        "synack_data": rng.choice([0, 0, 0, 4]),
        "synack_options": _options(rng),
        "gap": rng.choice([-1, 0, 1, 1, 1]),
        "rst_gap": rng.choice([-1, 0, 1, 1, 1]),
    }


# Gaps between an attempt's segments: short and long, and either side of the time limits
# of the rules (attempt_shapes.TIME_LIMITS).
GAPS = [1e-6, 2e-5, 0.0009, 0.0011, 0.0029, 0.0031, 0.0099, 0.0101, 0.019, 0.021, 0.03, 0.199, 0.201, 0.4,
        0.99, 1.01, 2.9, 3.1, 6.0]  # fmt: skip


def _rst_numbers(rng: random.Random, kind: str, seq: int, ack: int, near: bool) -> tuple[int, int]:
    """A RST's sequence and acknowledgment numbers: those of the segment it answers (`seq`
    its next, `ack` the one it acknowledges), zero, others (close by when `near`), or past
    `seq` by about a small window's worth at its largest scale."""
    if kind == "right":
        return seq, ack
    if kind == "window":
        past = rng.choice([-1, 0, 1, 2, 3, 16383, 16384, 16385, 32767, 32768, 32769, 49153])
        return (seq + past) % (1 << 32), ack
    if kind == "zero":
        return 0, ack if rng.random() < 0.5 else 0
    spread = (
        (lambda n: (n + rng.randrange(-12, 12)) % (1 << 32)) if near else (lambda n: rng.randrange(1 << 32))
    )
    return spread(seq), spread(ack)


def _varied_attempts(rng: random.Random, count: int) -> list[Segment]:
    """Attempts of a few dozen shapes, each attempt otherwise its own: addresses, ports,
    numbers, windows, TTLs, IP ids, checksums and times all drawn anew, gaps short and long
    (some attempts given up by the timer, some still open at the end)."""
    # And some half-open scans' attempts whose RST lies about a small window from the SYN's
    # end: too rare among the others to be drawn at all.
    half_open = {"answered": True, "refused": False, "client_rst": True, "synack_acks": "right",
                 "rst_numbers": "window", "rst_gap": 1, "gap": 1}  # fmt: skip
    configs = [_config(rng) for _ in range(40)] + [{**_config(rng), **half_open} for _ in range(8)]
    segments: list[Segment] = []
    now = 1_000.0
    for n in range(count):
        c = rng.choice(configs)
        family = rng.choice([4, 6])
        client = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" if family == 4 else f"2001:db8::{n + 1:x}"
        server = rng.choice(["192.0.2.1", "192.0.2.2"]) if family == 4 else "2001:db8:1::1"
        cport, sport = rng.randrange(1024, 65536), rng.choice([22, 80, 443])
        now += rng.choice([0.0, 1e-6, 0.001, 0.2, 3.0, 7.0])
        near = c["near"]
        seq = (
            (rng.choice([0, 1 << 31]) + rng.randrange(-8, 8)) % (1 << 32) if near else rng.randrange(1 << 32)
        )
        syn_ack = 0
        if c["syn_ack_field"]:
            syn_ack = (seq + rng.randrange(-12, 12)) % (1 << 32) if near else rng.randrange(1, 1 << 32)
        syn = Segment(
            frame=0, time=now, family=family, src=client, sport=cport, dst=server, dport=sport,
            flags=c["syn_flags"], seq=seq, ack=syn_ack,
            window=0 if c["syn_zero_window"] else rng.randrange(1, 1 << 16), payload_len=c["syn_data"],
            options=c["syn_options"], ip_id=rng.randrange(1 << 16), checksum=rng.randrange(1 << 16),
            ttl=rng.randrange(1, 256), payload_cut=c["syn_cut"],
        )  # fmt: skip
        segments.append(syn)
        if not c["answered"]:
            continue
        gap = c["gap"] * rng.choice(GAPS)
        if c["refused"]:
            rst_seq, rst_ack = _rst_numbers(rng, c["rst_numbers"], 0, (seq + 1) & 0xFFFFFFFF, near)
            rst = Segment(
                frame=0, time=now + gap, family=family, src=server, sport=sport, dst=client, dport=cport,
                flags=c["rst_flags"], seq=rst_seq, ack=rst_ack, window=rng.choice([0, 0, 512]), payload_len=0,
                options=None, ip_id=rng.randrange(1 << 16), checksum=rng.randrange(1 << 16), ttl=rng.randrange(1, 256),
            )  # fmt: skip
            segments.append(rst)
            continue
        acks = {
            "right": (seq + 1) & 0xFFFFFFFF,
            "seq": seq,
            "other": (seq + rng.randrange(2, 1 << 31)) & 0xFFFFFFFF,
        }
        synack = Segment(
            frame=0, time=now + gap, family=family, src=server, sport=sport, dst=client, dport=cport,
            flags=c["synack_flags"],
            seq=seq if c["same_seq"] else ((syn_ack + rng.randrange(-12, 12)) % (1 << 32) if near else rng.randrange(1 << 32)),
            ack=acks[c["synack_acks"]],
            window=0 if c["synack_zero_window"]
            else (rng.randrange(1, 1 << 16) if c["synack_window"] == "any" else c["synack_window"]),
            payload_len=c["synack_data"], options=c["synack_options"], ip_id=rng.randrange(1 << 16),
            checksum=rng.randrange(1 << 16), ttl=rng.randrange(1, 256),
        )  # fmt: skip
        segments.append(synack)
        resent_at = synack.time
        for _resend in range(c["synack_resends"]):
            resent_at += rng.choice(GAPS)
            segments.append(
                Segment(
                    frame=0,
                    time=resent_at,
                    family=family,
                    src=server,
                    sport=sport,
                    dst=client,
                    dport=cport,
                    flags=synack.flags,
                    seq=synack.seq
                    if c["resend_seq"] == "same"
                    else (synack.seq + rng.randrange(-3, 4)) % (1 << 32),
                    ack=synack.ack,
                    window=synack.window,
                    payload_len=synack.payload_len,
                    options=synack.options,
                    ip_id=rng.randrange(1 << 16),
                    checksum=rng.randrange(1 << 16),
                    ttl=rng.randrange(1, 256),
                )
            )
        if not c["client_rst"] or c["synack_resends"]:
            continue
        rst_seq, rst_ack = _rst_numbers(
            rng, c["rst_numbers"], (seq + 1 + c["syn_data"]) & 0xFFFFFFFF, (synack.seq + 1) & 0xFFFFFFFF, near
        )
        rst = Segment(
            frame=0, time=synack.time + c["rst_gap"] * rng.choice(GAPS), family=family, src=client, sport=cport,
            dst=server, dport=sport, flags=c["rst_flags"], seq=rst_seq, ack=rst_ack, window=rng.choice([0, 512]),
            payload_len=0, options=None, ip_id=rng.randrange(1 << 16), checksum=rng.randrange(1 << 16),
            ttl=rng.randrange(1, 256),
        )  # fmt: skip
        segments.append(rst)
    segments.sort(key=lambda s: s.time)
    for frame, segment in enumerate(segments, 1):
        segment.frame = frame
    return segments


@pytest.mark.parametrize("seed", [20261201, 5, 77])
def test_attempts_of_one_shape_get_one_verdict(seed: int) -> None:
    rng = random.Random(seed)
    segments = _varied_attempts(rng, 15000)
    end = segments[-1].time + rng.choice([0.5, 10.0])
    by_shape: dict[tuple, tuple] = {}
    shaped = 0
    for connection in stream_connections(segments, Timeouts(), lambda: end):
        shape = attempt_shape(connection)
        if shape is None:
            continue
        shaped += 1
        seen = verdict(analyze_connection(connection))
        assert by_shape.setdefault(shape, seen) == seen, (shape, connection.segments)
    # Enough attempts, most of them compared with an earlier one of their shape.
    assert shaped > 3000 and shaped - len(by_shape) > 2000, (shaped, len(by_shape))


def test_an_attempt_with_anything_more_has_no_shape() -> None:
    rng = random.Random(7)
    segments = _varied_attempts(rng, 50)
    first = segments[0]
    more = Segment(
        frame=len(segments) + 1, time=segments[-1].time + 0.1, family=first.family, src=first.src,
        sport=first.sport, dst=first.dst, dport=first.dport, flags=ACK, seq=first.seq + 1, ack=1,
        window=100, payload_len=0, options=None,
    )  # fmt: skip
    connections = list(stream_connections([*segments, more], Timeouts(attempt=1e9)))
    [grown] = [c for c in connections if first in c.segments]
    assert more in grown.segments and attempt_shape(grown) is None


def test_a_gap_on_a_time_limit_is_shaped_apart_from_one_just_under_it() -> None:
    """Wireshark's out-of-order rule reads a gap under 3 ms (strictly): a SYN/ACK sent again
    3 ms after the first is a resend, 2.9 ms after it is not."""

    def attempt(resent_after: float) -> list[Segment]:
        client, server = ("10.0.0.1", 40000), ("192.0.2.1", 80)
        common = {"family": 4, "window": 100, "payload_len": 0, "options": None}
        return [
            Segment(frame=1, time=0.0, src=client[0], sport=client[1], dst=server[0], dport=server[1],
                    flags=SYN, seq=1000, ack=0, **common),
            Segment(frame=2, time=0.0, src=server[0], sport=server[1], dst=client[0], dport=client[1],
                    flags=SYN | ACK, seq=5000, ack=1001, **common),
            Segment(frame=3, time=resent_after, src=server[0], sport=server[1], dst=client[0], dport=client[1],
                    flags=SYN | ACK, seq=4998, ack=1001, **common),
        ]  # fmt: skip

    [on] = stream_connections(attempt(0.003), Timeouts(attempt=1e9))
    [under] = stream_connections(attempt(0.0029), Timeouts(attempt=1e9))
    assert verdict(analyze_connection(on)) != verdict(analyze_connection(under))
    assert attempt_shape(on) is not None and attempt_shape(on) != attempt_shape(under)


@pytest.mark.parametrize("from_client", [True, False])
def test_a_segment_of_another_kind_before_the_syn_makes_no_attempt_shape(from_client: bool) -> None:
    client, server = ("10.0.0.1", 40000), ("192.0.2.1", 80)
    src, dst = (client, server) if from_client else (server, client)
    ack = Segment(
        frame=1, time=1.0, family=4, src=src[0], sport=src[1], dst=dst[0], dport=dst[1], flags=ACK,
        seq=5000, ack=7000, window=100, payload_len=0, options=None,
    )  # fmt: skip
    syn = Segment(
        frame=2, time=1.5, family=4, src=client[0], sport=client[1], dst=server[0], dport=server[1], flags=SYN,
        seq=1000, ack=0, window=100, payload_len=0, options=None,
    )  # fmt: skip
    [connection] = stream_connections([ack, syn], Timeouts(attempt=1e9))
    assert len(connection.segments) == 2 and attempt_shape(connection) is None


def test_a_resent_syn_makes_no_attempt_shape() -> None:
    """Whether a second copy is a resend or a reordering depends on how far apart they came."""

    def syn(frame: int, time: float) -> Segment:
        return Segment(
            frame=frame, time=time, family=4, src="10.0.0.1", sport=40000, dst="192.0.2.1", dport=80,
            flags=SYN, seq=1000, ack=0, window=100, payload_len=0, options=None,
        )  # fmt: skip

    [alone] = stream_connections([syn(1, 5.0)], Timeouts(attempt=1e9))
    [resent] = stream_connections([syn(1, 5.0), syn(2, 6.0)], Timeouts(attempt=1e9))
    assert attempt_shape(alone) is not None
    assert len(resent.segments) == 2 and attempt_shape(resent) is None


@pytest.fixture(scope="module")
def varied_flood(tmp_path_factory) -> Path:
    """A flood of one source per attempt at two targets, with some attempts unlike the rest."""
    rng = random.Random(11)
    packets = []
    for n in range(4000):  # 3,000 at one target: a flood (1,000 probes of it in 10 s)
        client, port = f"10.9.{n >> 8}.{n & 255}", 1024 + n
        server = "192.0.2.1" if n % 4 else "192.0.2.2"
        options = rng.choice([[("MSS", 1460)], [("MSS", 1460), ("SAckOK", b"")], []])
        syn = tcp_packet(
            4, client, port, server, 80, rng.choice(["S", "S", "S", "SEC"]), 1000 + n, options=options
        )
        syn.time = 1000.0 + n * 0.001
        packets.append(syn)
        answer = rng.random()
        if answer < 0.2:  # a closed port
            rst = tcp_packet(4, server, 80, client, port, rng.choice(["RA", "RA", "R"]), 0, 1001 + n)
            rst.time = syn.time + rng.choice([0.0001, 0.0002, 0.03])
            packets.append(rst)
        elif answer < 0.7:
            synack_ack = rng.choice([1001 + n, 1001 + n, 7])
            synack = tcp_packet(4, server, 80, client, port, "SA", 50000, synack_ack)
            synack.time = syn.time + rng.choice([0.0002, 0.0004])
            packets.append(synack)
            if rng.random() < 0.2:  # a listener without SYN cookies resends it
                for after in (1.0, 3.0):
                    again = tcp_packet(4, server, 80, client, port, "SA", 50000, synack_ack)
                    again.time = synack.time + after
                    packets.append(again)
                continue
            if rng.random() < 0.3:  # a half-open scan's RST
                rst = tcp_packet(4, client, port, server, 80, "R", 1001 + n, 0)
                rst.time = synack.time + 0.00001
                packets.append(rst)
    packets.sort(key=lambda p: p.time)
    return write_capture(tmp_path_factory.mktemp("flood") / "varied-flood.pcap", packets)


@pytest.mark.parametrize("views", ["hot", "all"])
def test_every_view_counts_as_its_attempts_own_analysis(varied_flood: Path, views: str) -> None:
    stream = stream_file(str(varied_flood))
    stream.attempt_views = views
    handshakes: dict[int, object] = {}  # each result's, kept: a view shares its first's
    viewed = viewed_resets = 0
    for result in stream.results:
        full = analyze_connection(result.connection)
        assert verdict(result) == verdict(full)
        assert result.probe == probe_answer(full)
        is_view = id(result.handshake) in handshakes
        viewed += is_view
        viewed_resets += is_view and any(s.flags & RST for s in result.connection.segments)
        handshakes[id(result.handshake)] = result.handshake
    # Views were given: most attempts were not analyzed again (with "hot", those sure to
    # be folded into the flood), those ended by a RST among them.
    assert viewed > 1000 and viewed_resets > 300, (viewed, viewed_resets)


def _text(path: Path, *, views: bool, only: list[str] | None = None) -> str:
    out = io.StringIO()
    stream = stream_file(str(path))
    if not views:
        stream.results = (analyze_full(result) for result in stream.results)
    write_text(stream, out, only)
    return out.getvalue()


def analyze_full(result: ConnectionAnalysis) -> ConnectionAnalysis:
    """The attempt's own analysis in place of a view, its probe as counted."""
    full = analyze_connection(result.connection)
    full.probe = result.probe
    return full


@pytest.mark.parametrize("only", [None, *[[kind] for kind in ONLY_KINDS]])
def test_a_floods_text_is_that_of_every_attempt_analyzed(varied_flood: Path, only: list[str] | None) -> None:
    assert _text(varied_flood, views=True, only=only) == _text(varied_flood, views=False, only=only)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_floods_summary_is_that_of_every_attempt_analyzed(varied_flood: Path, as_json: bool) -> None:
    outputs = []
    for views in (True, False):
        out = io.StringIO()
        stream = stream_file(str(varied_flood))
        if not views:
            stream.results = (analyze_full(result) for result in stream.results)
        write_summary(stream, out, as_json)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert "4,000" in outputs[0] or "4000" in outputs[0]
