"""A connection attempt held by the tracker in a few hundred bytes: its segments packed into
one bytes record each.

A SYN flood or a scan leaves hundreds of thousands of attempts open at once, each until its
timer gives it up (connections.py: 5 s, longer while SYN/ACKs are resent), or, once a RST
has ended it, until it has been quiet for CLOSE_DELAY. Held as Segment objects with the
tracker's full bookkeeping, an attempt cost about 1 KB; packed, about 425 bytes with two
segments, measured with its key and its place in the tracker's table (a record is 62
bytes, 96 in the long form for values past the short one's). The tracker keeps an attempt packed while it is nothing
but a SYN and, from the other end, a SYN/ACK (and its resends) or a RST (a closed port),
and, after a SYN/ACK, the RST of the end that sent the SYN (a half-open scan); any other
segment unpacks it into the full bookkeeping, which then takes it as if it had never been
packed (the segments are rebuilt field for field: tests/test_held_attempt.py).

An attempt holds its segments as they came until the tracker packs it (`pack`), once so many
newer attempts have come that it is one of a flood's (connections.py: PLAIN_ATTEMPTS): most
of a server's attempts are answered and acknowledged within a round trip, and packing them
only to unpack them at their ACK was a fifth of the time of a capture of short connections.
"""

from __future__ import annotations

import struct
from typing import Final

from analyzer.decode.segment import UNSEEN, Segment, TcpOptions
from analyzer.flow_key import sent_from_low
from analyzer.timefmt import STAMP_BOUND, epoch_seconds

# frame, time, seq, ack, window, payload_len, ip_id, checksum, ttl, sport, dport, flags,
# family, payload_cut, then sack_start, sack_end and interface (UNSEEN is -1: signed), and
# the timestamps, ts_val (UNSEEN: none) and ts_ecr (unsigned: 0 where ts_val is UNSEEN).
_RECORD: Final = struct.Struct("<QqqqiiiiiHHHb?qqqqI")
RECORD_SIZE: Final = _RECORD.size
_STAMP: Final = struct.Struct("<q")  # a record's time is its stamp (Segment.stamp)
_STAMP_AT: Final = 8  # after the frame number
_TTL: Final = struct.Struct("<i")
_TTL_AT: Final = 48
_SHORT_TTL: Final = struct.Struct("<h")
_SHORT_TTL_AT: Final = 36
_INTERFACE: Final = struct.Struct("<q")
_INTERFACE_AT: Final = 76
_SHORT_INTERFACE: Final = struct.Struct("<i")
_SHORT_INTERFACE_AT: Final = 46
# The same fields in 62 bytes, for segments whose values fit (every one a decoder makes of
# a SYN, a SYN/ACK or a RST without SACK blocks): seq and ack unsigned 32-bit, window and
# payload length 16-bit, the TTL signed 16-bit (UNSEEN is -1), no SACK block, the interface
# signed 32-bit, the timestamps as in the long form.
# An attempt holds all its records in one form: short while every one fits.
_SHORT: Final = struct.Struct("<QqIIHHiihHHHB?iqI")
SHORT_SIZE: Final = _SHORT.size
_U16: Final = 0xFFFF
_U32: Final = 0xFFFFFFFF
# A SYN and as many SYN/ACKs as Linux sends (tcp_synack_retries 5) and one more: past that
# an attempt is unpacked (each record added copies those before it).
MAX_PACKED_RECORDS: Final = 8


def can_pack(segment: Segment) -> bool:
    """Whether every field of `segment` fits a record: no tunnel, no kept payload, and a time
    that is its stamp's (as every decoder makes it: a record holds the stamp alone)."""
    return (
        not segment.tunnel
        and not segment.payload
        and abs(segment.stamp) < STAMP_BOUND
        and segment.time == epoch_seconds(segment.stamp)
    )


class HeldAttempt:
    """The SYN (from end "a") and what came after it, as they came, then packed (see the
    module docstring).
    `key` is its 4-tuple as one text (flow_key.attempt_key: its two addresses are the
    segments'), and `first_index` the connection's id."""

    def __init__(self, key: str, first_index: int, syn: Segment, time: float) -> None:
        # The bools last, side by side: compiled, they share one word (a flood holds
        # hundreds of thousands of these).
        self.key = key
        # Its segments as they came, until `pack` puts them into `data` (None from then on).
        self.plain: list[Segment] | None = [syn]
        self.data = b""
        self.options_a = syn.options
        self.options_b: TcpOptions | None = None
        self.first_index = first_index
        self.from_b = 0  # a bit for each record, from the first: sent by end b
        self.last_time = time  # its last segment's, on the tracker's clock (decode.reader.STAMPED_BACK)
        self.syn_gap = 0.0  # between its last two SYN/ACKs: the tracker's syn_gap (its SYN is one)
        self.a_is_low = sent_from_low(syn)
        self.answered = False  # its SYN/ACK has come (the record after the SYN)
        self.short = True  # its records are _SHORT's, not _RECORD's
        # Ended by a RST: the tracker hands it over once it has been quiet for CLOSE_DELAY
        # (since last_time, the RST's), by its queue of the over, not by its timer.
        self.over = False

    def add_answer(self, synack: Segment, time: float) -> None:
        """A SYN/ACK from b: the first, or one sent again with the same options; `time` its
        time on the tracker's clock."""
        self.from_b |= 1 << self.records
        self._append(synack)
        self.options_b = synack.options
        # b's backoff: from its SYN/ACK before (the tracker's syn_gap: each end's own).
        self.syn_gap = time - self.last_time if self.answered else 0.0
        self.answered = True
        if time > self.last_time:  # a frame stamped back shortens no timer, as an _Open's
            self.last_time = time

    def add_reset(self, rst: Segment, from_b: bool, time: float) -> None:
        """A RST without options that ends the attempt (the tracker says which); `time` its
        time on the tracker's clock."""
        if from_b:
            self.from_b |= 1 << self.records
        self._append(rst)
        self.over = True
        if time > self.last_time:
            self.last_time = time

    def sent_by_a(self, segment: Segment) -> bool:
        """Whether `segment`, of this attempt's 4-tuple, comes from end a, the SYN's sender,
        as the tracker's full bookkeeping tells its ends apart (_Open's a_src and a_port)."""
        return sent_from_low(segment) == self.a_is_low

    def pack(self) -> None:
        """Its segments into records (nothing once packed or released)."""
        plain = self.plain
        if plain is None:
            return
        self.plain = None
        self.short = all(fits_short(segment) for segment in plain)
        if self.short:
            self.data = b"".join([pack_short(segment) for segment in plain])
        else:
            self.data = b"".join([pack_record(segment) for segment in plain])

    def _append(self, segment: Segment) -> None:
        plain = self.plain
        if plain is not None:
            plain.append(segment)
            return
        if self.short and not fits_short(segment):
            self.data = b"".join(pack_record(held) for held in self.segments())
            self.short = False
        self.data = self.data + (pack_short(segment) if self.short else pack_record(segment))

    @property
    def record_size(self) -> int:
        return SHORT_SIZE if self.short else RECORD_SIZE

    @property
    def records(self) -> int:
        plain = self.plain
        return len(plain) if plain is not None else len(self.data) // self.record_size

    def answered_near(self, stamp: int, window: float) -> bool:
        """Whether a record after the SYN was sent within `window` seconds of `stamp` (a
        capture copy's first test, without rebuilding the segments)."""
        plain = self.plain
        if plain is not None:
            return any(abs(held.stamp - stamp) <= round(window * 1e9) for held in plain[1:])
        data, size = self.data, self.record_size
        reach = round(window * 1e9)
        for index in range(1, self.records):
            (sent,) = _STAMP.unpack_from(data, index * size + _STAMP_AT)
            if abs(sent - stamp) <= reach:
                return True
        return False

    def answered_a_hop_before(self, segment: Segment, window: float) -> bool:
        """Whether a record after the SYN has a TTL one above `segment`'s, or was captured on
        another interface, and was sent within `window` seconds before it: what may have been
        forwarded as `segment` (connections.py's rule on forwarded copies), told without
        rebuilding the segments."""
        if segment.ttl < 0 and segment.interface == UNSEEN:
            return False
        plain = self.plain
        if plain is not None:
            reach = round(window * 1e9)
            return any(
                0 <= segment.stamp - held.stamp <= reach
                and (
                    (segment.ttl >= 0 and held.ttl == segment.ttl + 1)
                    or (
                        segment.interface != UNSEEN
                        and held.interface != UNSEEN
                        and held.interface != segment.interface
                    )
                )
                for held in plain[1:]
            )
        data, size = self.data, self.record_size
        short = self.short
        ttl_field, ttl_at = (_SHORT_TTL, _SHORT_TTL_AT) if short else (_TTL, _TTL_AT)
        where_field, where_at = (
            (_SHORT_INTERFACE, _SHORT_INTERFACE_AT) if short else (_INTERFACE, _INTERFACE_AT)
        )
        reach = round(window * 1e9)
        for index in range(1, self.records):
            (sent,) = _STAMP.unpack_from(data, index * size + _STAMP_AT)
            if not 0 <= segment.stamp - sent <= reach:
                continue
            (ttl,) = ttl_field.unpack_from(data, index * size + ttl_at)
            if segment.ttl >= 0 and ttl == segment.ttl + 1:
                return True
            (where,) = where_field.unpack_from(data, index * size + where_at)
            if segment.interface != UNSEEN and where != UNSEEN and where != segment.interface:
                return True
        return False

    def segments(self) -> list[Segment]:
        """The held segments, in a new list: rebuilt from the records, or, not yet packed,
        those that came."""
        if self.plain is not None:
            return list(self.plain)
        low, _low_port, high, _high_port = self.key.split(" ")
        a, b = (low, high) if self.a_is_low else (high, low)
        data, size = self.data, self.record_size
        unpack = unpack_short if self.short else unpack_record
        held = [unpack(data, 0, a, b, self.options_a)]
        for index in range(1, self.records):
            if self.from_b >> index & 1:
                options = self.options_b if self.answered else None  # SYN/ACKs, or a RST
                held.append(unpack(data, index * size, b, a, options))
            else:
                held.append(unpack(data, index * size, a, b, None))
        return held

    def release(self) -> None:
        """Let the record go: the tracker's timer wheel may name this attempt a while yet."""
        self.data = b""
        self.plain = None
        self.options_a = self.options_b = None


# Dictionaries the table of attempts is split into (a power of two).
_SHARDS: Final = 64


class HeldAttempts:
    """The attempts held packed, by key, in _SHARDS dictionaries. A flood holds a quarter
    of a million at once in a dictionary of 21 MB, and as keys come and go it is made anew
    every few hundred thousand: for that moment old and new are both there, the peak of the
    flood's whole run. Split, each remake takes a 64th of that."""

    def __init__(self) -> None:
        self._shards: list[dict[str, HeldAttempt]] = [{} for _ in range(_SHARDS)]
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def get(self, key: str) -> HeldAttempt | None:
        return self._shards[hash(key) & (_SHARDS - 1)].get(key)

    def add(self, attempt: HeldAttempt) -> None:
        """Hold `attempt` (its key held by none)."""
        self._shards[hash(attempt.key) & (_SHARDS - 1)][attempt.key] = attempt
        self._count += 1

    def remove(self, attempt: HeldAttempt) -> None:
        del self._shards[hash(attempt.key) & (_SHARDS - 1)][attempt.key]
        self._count -= 1

    def all(self) -> list[HeldAttempt]:
        return [attempt for shard in self._shards for attempt in shard.values()]


# Both pack the fields in their order by name (no tuple of them made and unpacked: a flood
# packs two records an attempt).
def pack_record(segment: Segment) -> bytes:
    s = segment
    return _RECORD.pack(
        s.frame, s.stamp, s.seq, s.ack, s.window, s.payload_len, s.ip_id, s.checksum, s.ttl, s.sport,
        s.dport, s.flags, s.family, s.payload_cut, s.sack_start, s.sack_end, s.interface, s.ts_val,
        s.ts_ecr if s.ts_val != UNSEEN else 0,
    )  # fmt: skip


def pack_short(segment: Segment) -> bytes:
    s = segment
    return _SHORT.pack(
        s.frame, s.stamp, s.seq, s.ack, s.window, s.payload_len, s.ip_id, s.checksum, s.ttl, s.sport,
        s.dport, s.flags, s.family, s.payload_cut, s.interface, s.ts_val, s.ts_ecr if s.ts_val != UNSEEN else 0,
    )  # fmt: skip


def same_options(segment: Segment, held: TcpOptions | None) -> bool:
    """Whether `segment` carries the options an attempt holds (`held`)."""
    return segment.options == held


def unpack_record(data: bytes, at: int, src: str, dst: str, options: TcpOptions | None) -> Segment:
    values = _RECORD.unpack_from(data, at)
    return _segment(values, src, dst, options, values[14], values[15], values[16], values[17], values[18])


def unpack_short(data: bytes, at: int, src: str, dst: str, options: TcpOptions | None) -> Segment:
    values = _SHORT.unpack_from(data, at)
    return _segment(values, src, dst, options, UNSEEN, UNSEEN, values[14], values[15], values[16])


def _segment(
    values: tuple,
    src: str,
    dst: str,
    options: TcpOptions | None,
    sack_start: int,
    sack_end: int,
    interface: int,
    ts_val: int,
    ts_ecr: int,
) -> Segment:
    """A segment of a record's values (in the order pack_short packs them), its addresses and options."""
    stamp: int = values[1]
    return Segment(
        values[0], epoch_seconds(stamp), values[12], src, values[9], dst, values[10], values[11], values[2],
        values[3], values[4], values[5], options, "", values[6], values[7], values[8], b"", values[13], sack_start,
        sack_end, stamp, interface, ts_val, ts_ecr if ts_val != UNSEEN else UNSEEN,
    )  # fmt: skip


def fits_short(segment: Segment) -> bool:
    """Whether every field of `segment` fits a _SHORT record."""
    return (
        segment.sack_start == UNSEEN
        and segment.sack_end == UNSEEN
        and 0 <= segment.seq <= _U32
        and 0 <= segment.ack <= _U32
        and 0 <= segment.window <= _U16
        and 0 <= segment.payload_len <= _U16
        and -(1 << 31) <= segment.ip_id < 1 << 31
        and -(1 << 31) <= segment.checksum < 1 << 31
        and -(1 << 15) <= segment.ttl < 1 << 15
        and -(1 << 31) <= segment.interface < 1 << 31
        and 0 <= segment.flags <= _U16
        and 0 <= segment.sport <= _U16
        and 0 <= segment.dport <= _U16
        and 0 <= segment.family <= 0xFF
    )
