"""Hostile input: mutated captures and random bytes, through the whole `handshake analyze`.

Every case must end in a result (exit 0, perhaps with warnings) or one clear line naming
the file (exit 2): never a traceback, never a hang (an alarm per case), never memory
that grows with a bogus length field (a tracemalloc bound per case). Deterministic
(derandomized) so that CI runs the same cases every time; FUZZ_EXAMPLES sets how many
per strategy (200 by default; more for a longer hunt).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import struct
import tracemalloc
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.cli import main

pytestmark = pytest.mark.slow  # make test-fast leaves the volumes out

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SECONDS_PER_CASE = 10
MEMORY_PER_CASE = 64 << 20  # bytes a single case may allocate at its peak

# Seeds: both container formats, both families, link types other than Ethernet.
SEEDS = [
    CAPTURES / "handshake.pcap",
    CAPTURES / "simultaneous-close-ipv6.pcap",
    CAPTURES / "udp.pcap",
    CORPUS / "pcaps" / "ppa_tcp_handshake.pcapng",
    CORPUS / "pcaps" / "sv_decode-sll2-01__input.pcap",
    CORPUS / "pcaps" / "zeek_nflog-http.pcap",
]
SEED_BYTES = {path.name: path.read_bytes() for path in SEEDS if path.is_file()}
CASES = {"run": 0, "results": 0, "errors": 0}


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def analyze_bytes(data: bytes, directory: Path) -> None:
    """The CLI on these bytes, text and JSON: a result or one clear error line."""
    path = directory / "case.pcap"
    path.write_bytes(data)
    for extra in ([], ["--json"]):
        out, err = io.StringIO(), io.StringIO()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(SECONDS_PER_CASE)
        tracemalloc.start()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(["analyze", "--quiet", "--no-sidecar", *extra, str(path)])
            _size, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        assert peak < MEMORY_PER_CASE, f"{peak} bytes at the peak"
        lines = err.getvalue().strip().splitlines()
        CASES["run"] += 1
        if status == 0:
            CASES["results"] += 1
            assert all(line.startswith(f"handshake: {path}: warning: ") for line in lines), lines
            assert out.getvalue()
        else:
            CASES["errors"] += 1
            assert status == 2
            assert len(lines) == 1 and lines[0].startswith(f"handshake: {path}: "), lines
            assert out.getvalue() == ""


def _fuzz_settings():
    return settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


seeds = st.sampled_from(sorted(SEED_BYTES))


@_fuzz_settings()
@given(seed=seeds, cut=st.floats(0, 1))
def test_cut_anywhere(tmp_path, seed, cut) -> None:
    data = SEED_BYTES[seed]
    analyze_bytes(data[: int(len(data) * cut)], tmp_path)


@_fuzz_settings()
@given(seed=seeds, flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=24))
def test_flipped_bytes(tmp_path, seed, flips) -> None:
    data = bytearray(SEED_BYTES[seed])
    for where, mask in flips:
        data[min(int(len(data) * where), len(data) - 1)] ^= mask
    analyze_bytes(bytes(data), tmp_path)


LENGTHS = st.one_of(
    st.sampled_from([0, 1, 3, 7, 15, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 20, (1 << 20) + 1]),
    st.integers(0, 0xFFFFFFFF),
)


@_fuzz_settings()
@given(seed=seeds, where=st.floats(0, 1), value=LENGTHS, big_endian=st.booleans())
def test_bogus_length_fields(tmp_path, seed, where, value, big_endian) -> None:
    """A 32-bit field anywhere (record and block lengths, caplen, IP and TCP lengths among
    them) overwritten with a length that cannot be right."""
    data = bytearray(SEED_BYTES[seed])
    at = min(int(len(data) * where) & ~3, len(data) - 4)
    data[at : at + 4] = struct.pack(">I" if big_endian else "<I", value)
    analyze_bytes(bytes(data), tmp_path)


@_fuzz_settings()
@given(seed=seeds, magic=st.binary(min_size=4, max_size=4), linktype=st.integers(0, 0xFFFF))
def test_wrong_magic_or_link_type(tmp_path, seed, magic, linktype) -> None:
    data = bytearray(SEED_BYTES[seed])
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        # pcapng: the first interface block's link type, just after the section header.
        shb_length = struct.unpack_from("<I", data, 4)[0]
        if shb_length + 10 <= len(data):
            data[shb_length + 8 : shb_length + 10] = struct.pack("<H", linktype)
    else:
        data[20:24] = struct.pack("<I", linktype)
    analyze_bytes(bytes(data), tmp_path)
    data[:4] = magic
    analyze_bytes(bytes(data), tmp_path)


def _pcap_records(data: bytes) -> list[tuple[int, int]]:
    """(offset of the frame, caplen) of each record of a little-endian classic pcap."""
    records, at = [], 24
    while at + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, at + 8)[0]
        records.append((at + 16, caplen))
        at += 16 + caplen
    return records


# Little-endian classic pcap, microsecond or nanosecond: the records are laid out alike, so
# the stored captures are seeds too (a clone has no corpus).
LITTLE_ENDIAN_PCAP = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
CLASSIC = sorted(name for name, data in SEED_BYTES.items() if data[:4] in LITTLE_ENDIAN_PCAP)


@_fuzz_settings()
@given(
    seed=st.sampled_from(CLASSIC),
    which=st.floats(0, 1),
    snap=st.one_of(st.none(), st.integers(0, 80)),
    header_bytes=st.lists(st.tuples(st.integers(0, 79), st.integers(0, 255)), max_size=6),
)
def test_frames_cut_short_or_with_impossible_headers(tmp_path, seed, which, snap, header_bytes) -> None:
    """A sound container around one bad frame: cut inside its headers (a short snap length,
    the record length saying so), or its IP/TCP header bytes (lengths, offsets) rewritten."""
    data = bytearray(SEED_BYTES[seed])
    records = _pcap_records(bytes(data))
    frame_at, caplen = records[min(int(len(records) * which), len(records) - 1)]
    for offset, value in header_bytes:
        if offset < caplen:
            data[frame_at + offset] = value
    if snap is not None and snap < caplen:
        del data[frame_at + snap : frame_at + caplen]
        data[frame_at - 8 : frame_at - 4] = struct.pack("<I", snap)
    analyze_bytes(bytes(data), tmp_path)


HEADERS = [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a", b""]


@_fuzz_settings()
@given(head=st.sampled_from(HEADERS), body=st.binary(max_size=4096))
def test_random_bytes(tmp_path, head, body) -> None:
    """Random bytes, bare or behind each format's magic."""
    analyze_bytes(head + body, tmp_path)


def test_the_cases_ran_and_ended_both_ways() -> None:
    """Run last (file order): the strategies above really exercised both outcomes."""
    if not SEED_BYTES:
        pytest.skip("no seed captures found")
    if not CASES["run"]:
        pytest.skip("counts the cases of the fuzz tests in this file: run it with them")
    print(f"\nfuzz cases: {CASES['run']} ({CASES['results']} results, {CASES['errors']} one-line errors)")
    assert CASES["run"] >= EXAMPLES
    assert CASES["results"] > 0 and CASES["errors"] > 0
