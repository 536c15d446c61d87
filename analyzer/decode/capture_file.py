"""Frames out of classic pcap and pcapng files, streamed with bounded reads.

A frame is (time, link type, bytes). Containers are read block by block: memory
does not grow with the file, and a bogus length field is refused before anything
is allocated for it. A file cut off in its last record (what tcpdump leaves when
it is killed) yields every complete frame and a warning.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Generator, Iterator
from typing import Any, BinaryIO, Final

from analyzer.decode.fields import u32
from analyzer.errors import CaptureFileError
from analyzer.files import STDIN
from analyzer.timefmt import NS, epoch_seconds, seconds_stamp

# The largest frame any capture engine writes is 256 KiB (tcpdump's default snaplen);
# anything far above that in a length field means the file is corrupt.
MAX_FRAME_BYTES: Final = 1 << 20
# A pcap record longer than this is damaged, whatever the file's snapshot length says
# (Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD: "bigger than maximum of 262144"): read on, it
# would swallow the records after it, and what follows it would be read out of step. Only
# the link types of bigger frames (Wireshark's wtap_max_snaplen_for_encap: USB, D-Bus,
# EBHSCR), none of which carries TCP here, may hold more, up to MAX_FRAME_BYTES.
STANDARD_MAX_FRAME: Final = 262_144
BIGGER_FRAMES: Final = frozenset({189, 220, 231, 249, 279})
MAX_BLOCK_BYTES: Final = MAX_FRAME_BYTES + 4096
READ_AHEAD: Final = 1 << 20

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),  # (byte order, fractions in a second)
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
    # Alexey Kuznetzov's modified pcap (old Red Hat tcpdump): microseconds, and each record
    # header 8 bytes longer (interface index, protocol, packet type), as wiretap reads it.
    b"\x34\xcd\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xcd\x34": (">", 1_000_000),
}
_MODIFIED_PCAP: Final = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")
PCAP_RECORD_HEADER: Final = 16
MODIFIED_PCAP_RECORD_HEADER: Final = 24
PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC: Final = b"\x1f\x8b"
COMPRESSED_CHUNK: Final = 1 << 16
# Compressions by their first four bytes: two Wireshark reads (wiretap's zstd and lz4 frames)
# and two it does not (xz; bzip2, its fourth byte the block size, 1 to 9), each named with
# the command that undoes it.
COMPRESSED: Final = {
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\x04\x22\x4d\x18": "lz4",
    b"\xfd7zX": "xz",
    **{b"BZh" + bytes([digit]): "bzip2" for digit in b"123456789"},
}
PCAPNG_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
# What the warning of a record header claiming too many bytes says (a reader that read past
# it, tshark's of a pcap variant, leaves that warning out).
RECORD_HEADER_DAMAGED: Final = "more than any record of this file may hold"

BLOCK_IDB: Final = 0x00000001
BLOCK_OPB: Final = 0x00000002  # obsolete Packet Block, still written by old tools
BLOCK_SPB: Final = 0x00000003
BLOCK_EPB: Final = 0x00000006
# Custom Blocks (copied, not to be copied): no packet, but Wireshark 4 numbers each as a frame.
BLOCK_CUSTOM: Final = frozenset({0x00000BAD, 0x40000BAD})

BLOCK_ISB: Final = 0x00000005  # interface statistics: what the capturing tool counted
OPTION_IF_NAME: Final = 2
OPTION_ISB_IFDROP: Final = 5  # dropped by the interface (dumpcap: by the capture buffer)
OPTION_ISB_OSDROP: Final = 7  # dropped by the operating system
OPTION_IF_TSRESOL: Final = 9
OPTION_IF_TSOFFSET: Final = 14


# (stamp, link type, bytes): a plain tuple, not a NamedTuple (docs/mypyc.md).
Frame = tuple[int, int, bytes]


class CaptureFile:
    """Open it as a context manager, then call `next_frame()` until it returns False: each
    time `stamp` (integer nanoseconds since 1970, exact), `time` (the same as float
    seconds), `linktype` and `data` are the next frame's (no tuple made for it, nor a
    generator resumed: a tenth of the time of a file read and skipped). Or iterate
    `frames()`. Afterwards `format`, `frames_read` and `warnings` describe the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.format = "unknown"
        # The snapshot length the file says its frames were cut to (the smallest of a
        # pcapng's interfaces'); 0 where it says none.
        self.snaplen = 0
        # The frame's interface in a pcapng of several (its block's interface id), and
        # whether the file has several; 0 and False for a pcap.
        self.interface = 0
        self.many_interfaces = False
        self.interface_names: list[list[str]] = []  # each section's, in a pcapng
        # Packets the capturing tool says it dropped (pcapng interface statistics), by section
        # and interface: the latest count of each (running totals), and the interface's name.
        self.dropped: dict[tuple[int, int], tuple[str, int]] = {}
        self.section = -1  # the pcapng section being read (0 the first)
        self.frames_read = 0
        self.warnings: list[str] = []
        self.time = 0.0
        self.stamp = 0
        self.linktype = 0
        self.data = b""
        # The frame is all there: its original length is known and no more than was kept
        # (a length field that claims more is then wrong, not cut: decode/ip_tcp.py).
        self.whole = False
        self._last_stamp = 0
        self.untimed = 0  # packets in Simple Packet Blocks: no time of their own
        # Packets stamped 0 after a stamped one (a writer with no time for them): each takes
        # the time before it, or 1970 would run the clock back decades. (How many, the first.)
        self.zero_stamped = (0, 0)
        # pcap records whose fraction of a second is a second or more: read as given.
        self.fraction_over = (0, 0)
        # Records holding more bytes than their packet had (its original length): (how many,
        # the first one's number). A damaged record header, or a writer's mistake.
        self.over_length = (0, 0)
        self._per_second = 1_000_000  # a pcap file's fractions in a second
        # Packet blocks left unread, by why: (how many, the first one's number). Each keeps
        # its number, as Wireshark numbers every packet block: later frames keep theirs.
        self.skipped: dict[str, tuple[int, int]] = {}
        self._stream: BinaryIO | None = None
        self._raw: BinaryIO | None = None  # the file under a decompressing _stream
        self._gunzipped: _Gunzipped | None = None  # what decompresses it
        self._ahead: _ReadAhead | None = None  # a pcap file's records
        self._little = True  # a pcap file's byte order
        self._record_header = PCAP_RECORD_HEADER  # a pcap record header's length
        self._tick_ns = 1000  # and its time unit, in nanoseconds
        self._blocks: Generator[Frame, None, None] | None = None  # a pcapng file's frames
        self._ended = False

    def __enter__(self) -> CaptureFile:
        """Opens the file and reads its header; raises CaptureFileError for a file that is
        missing or not a capture file."""
        try:
            stream = self._stream = self._open()  # closed by __exit__
        except FileNotFoundError:
            raise CaptureFileError(self.path, "no such file") from None
        except IsADirectoryError:
            raise CaptureFileError(self.path, "is a directory, not a capture file") from None
        except PermissionError:
            raise CaptureFileError(self.path, "permission denied") from None
        try:
            magic = stream.read(4)
            packed = ""
            if magic[:2] == GZIP_MAGIC:
                # tcpdump -z gzip and Wireshark's "compress with gzip" write these; Wireshark reads them.
                self._gunzipped = _Gunzipped(magic, stream)
                self._raw, packed = stream, ", gzip"
                stream = self._stream = io.BufferedReader(self._gunzipped, READ_AHEAD)
                magic = stream.read(4)  # _Gunzipped ends where zlib fails, and says why
                if len(magic) < 4:
                    what = "is cut off: it holds" if self._gunzipped.cut else "is no capture file: it holds"
                    if self._gunzipped.damage:
                        what = f"is damaged ({self._gunzipped.damage}): it holds"
                    raise CaptureFileError(self.path, f"gzip file {what} only {len(magic)} bytes")
            elif magic in COMPRESSED:
                raise CaptureFileError(
                    self.path,
                    f"compressed with {COMPRESSED[magic]}: decompress it first ({COMPRESSED[magic]} -d)",
                )
            if len(magic) < 4:
                raise CaptureFileError(self.path, f"not a capture file: only {len(magic)} bytes long")
            if magic in PCAP_MAGICS:
                self.format = "pcap" + packed
                self._pcap_header(stream, magic)
            elif magic == PCAPNG_SHB:
                self.format = "pcapng" + packed
                self._blocks = self._pcapng_frames(stream)
            elif packed:
                raise CaptureFileError(
                    self.path, f"gzip file holds no pcap or pcapng file (starts with 0x{magic.hex()})"
                )
            else:
                raise CaptureFileError(
                    self.path,
                    f"not a pcap or pcapng file (starts with 0x{magic.hex()})",
                )
        except BaseException:
            stream.close()
            if self._raw is not None:
                self._raw.close()
            raise
        return self

    def _open(self) -> BinaryIO:
        if self.path != STDIN:
            return open(self.path, "rb")
        # Read from a copy of the descriptor: closing it leaves sys.stdin open.
        try:
            if os.isatty(0):
                raise CaptureFileError(STDIN, "standard input is a terminal; pipe a capture into it")
            return os.fdopen(os.dup(0), "rb")
        except OSError:
            raise CaptureFileError(STDIN, "standard input is closed") from None

    def __exit__(self, *_exception: object) -> None:
        if self._blocks is not None:
            self._blocks.close()
        if self._stream is not None:
            self._stream.close()
        if self._raw is not None:
            self._raw.close()
        if self._gunzipped is not None:
            self.warnings.extend(self._gunzipped.warnings())

    @property
    def bytes_read(self) -> int:
        """How far into the file the reader is (for progress): into the compressed file
        itself, whose size progress compares it with."""
        stream = self._raw if self._raw is not None else self._stream
        if stream is None or stream.closed:
            return 0
        try:
            return stream.tell()
        except OSError:  # a pipe has no position
            return 0

    def frames(self) -> Generator[Frame, None, None]:
        """The frames as (stamp, link type, bytes), the file opened and closed around them."""
        with self:
            while self.next_frame():
                yield (self.stamp, self.linktype, self.data)

    def next_frame(self) -> bool:
        """On to the next frame: False at the end of the file (or where it stops making sense)."""
        if self._ended:
            return False
        if self._ahead is not None:
            found = self._next_record(self._ahead)
        else:
            frame = next(self._blocks, None) if self._blocks is not None else None
            found = frame is not None
            if frame is not None:
                self.stamp, self.linktype, self.data = frame
                self.time = epoch_seconds(self.stamp)
        self._ended = not found
        return found

    def _cut_off(self, what: str) -> None:
        self.warnings.append(
            f"file is cut off in {what}; "
            + (
                "the 1 complete packet before it was read"
                if self.frames_read == 1
                else f"the {self.frames_read} complete packets before it were read"
            )
        )

    def _pcap_header(self, stream: BinaryIO, magic: bytes) -> None:
        endian, self._per_second = PCAP_MAGICS[magic]
        self._tick_ns = NS // self._per_second
        header = stream.read(20)
        if len(header) < 20:
            raise CaptureFileError(self.path, "pcap file header is cut off")
        _major, _minor, _zone, _sigfigs, self.snaplen, linktype = struct.unpack(endian + "HHiIII", header)
        # The link type is the field's lower 16 bits: the upper ones say whether an FCS of how
        # many bytes ends each frame (pcap spec, LinkType and additional information), which
        # the decoders need not strip (they read IP lengths).
        self.linktype = linktype & 0xFFFF
        self._record_header = MODIFIED_PCAP_RECORD_HEADER if magic in _MODIFIED_PCAP else PCAP_RECORD_HEADER
        self._little = endian == "<"
        # Records are cut out of chunks read ahead: two reads a record cost more than the rest
        # of the record's reading.
        self._ahead = _ReadAhead(stream, self.warnings)

    def _next_record(self, ahead: _ReadAhead) -> bool:
        """A pcap record: its header read where it lies in the chunk read ahead."""
        header = self._record_header
        available = ahead.fill(header)
        if available < header:
            if available:
                self._cut_off("a record header")
            return False
        buffer, at, little = ahead.buffer, ahead.at, self._little
        caplen = u32(buffer, at + 8, little)
        if caplen > STANDARD_MAX_FRAME and (self.linktype not in BIGGER_FRAMES or caplen > MAX_FRAME_BYTES):
            most = MAX_FRAME_BYTES if self.linktype in BIGGER_FRAMES else STANDARD_MAX_FRAME
            # Wrong from the second record on: likely a pcap variant whose record headers are
            # longer under the standard magic, which Wireshark tells apart by trying each
            # (helper-145: editcap -F rh6_1pcap, suse6_3pcap, nokiapcap).
            variant = (
                " (or a pcap variant of longer record headers, Red Hat 6.1's, SuSE 6.3's or Nokia's: "
                "--decoder tshark reads those)"
                if self.frames_read == 1
                else ""
            )
            self.warnings.append(
                f"record {self.frames_read + 1} claims {caplen:,} bytes, {RECORD_HEADER_DAMAGED} "
                f"({most:,}): a damaged record header{variant}; stopped reading there "
                f"({packets_read(self.frames_read)})"
            )
            return False
        if ahead.fill(header + caplen) < header + caplen:
            damage = self._damage(ahead.buffer, ahead.at, caplen)
            if damage:
                # Not what tcpdump leaves when stopped: a record nothing writes (helper-120's
                # pcapfix test_damaged.pcap, 8.7 KB after it), so no cut-off file either.
                self.warnings.append(
                    f"record {self.frames_read + 1}'s header is damaged ({damage}) and claims more bytes "
                    f"than the file has left; stopped reading there ({packets_read(self.frames_read)})"
                )
            else:
                self._cut_off(f"packet {self.frames_read + 1}")
            return False
        buffer, at = ahead.buffer, ahead.at  # moved if the chunk was refilled
        seconds, fraction = u32(buffer, at, little), u32(buffer, at + 4, little)
        self.frames_read += 1
        if fraction >= self._per_second or not (seconds or fraction):
            self._odd_stamp(seconds, fraction)
        else:
            self._set_stamp(seconds_stamp(seconds) + fraction * self._tick_ns)
        self.data = buffer[at + header : at + header + caplen]
        self._original_length(u32(buffer, at + 12, little), caplen, self.frames_read)
        ahead.at = at + header + caplen
        return True

    def _damage(self, buffer: bytes, at: int, caplen: int) -> str:
        """What in the pcap record header at `at` no writer puts there, in words ("" if
        nothing): a fraction of a second of a second or more, more bytes than the snapshot
        length or than the packet had."""
        little = self._little
        fraction, length = u32(buffer, at + 4, little), u32(buffer, at + 12, little)
        said = []
        if fraction >= self._per_second:
            said.append(
                f"a fraction of a second of {fraction:,} {'µs' if self._per_second == 1_000_000 else 'ns'}"
            )
        if self.snaplen and caplen > self.snaplen:
            said.append(f"{caplen:,} bytes held, past the snapshot length {self.snaplen:,}")
        if 0 < length < caplen:
            said.append(f"{caplen:,} bytes held of a {length:,}-byte packet")
        return "; ".join(said)

    def _original_length(self, length: int, caplen: int, frame: int) -> None:
        """Packet `frame`'s original length read: whether it is whole, or holds more than it."""
        self.whole = 0 < length <= caplen
        if caplen > length > 0:
            count, first = self.over_length
            self.over_length = (count + 1, first or frame)

    def _odd_stamp(self, seconds: int, fraction: int) -> None:
        """A pcap record stamped 0, or with a fraction of a second past a second."""
        if not (seconds or fraction):
            self._zero_stamp(self.frames_read)
            return
        count, first = self.fraction_over
        self.fraction_over = (count + 1, first or self.frames_read)
        # A fraction past a second (under 2^32 ticks): split as the seconds are (seconds_stamp).
        self._set_stamp(seconds_stamp(seconds) + seconds_stamp(fraction) // self._per_second)

    def _set_stamp(self, stamp: int) -> None:
        self.stamp = stamp
        self.time = epoch_seconds(stamp)

    def _zero_stamp(self, frame: int) -> None:
        """Packet `frame` stamped 0: the time before it kept (`stamp`, `_last_stamp`), if any."""
        if self.stamp or self._last_stamp:
            count, first = self.zero_stamped
            self.zero_stamped = (count + 1, first or frame)
        else:
            self._set_stamp(0)

    def length_warnings(self) -> list[str]:
        """What was odd about the records' lengths."""
        count, first = self.over_length
        if not count:
            return []
        which = (
            f"1 record holds more bytes than its packet had (the original length it gives: packet {first})"
            if count == 1
            else f"{count:,} records hold more bytes than their packets had (the original length "
            f"each gives; the first: packet {first})"
        )
        return [f"{which}: a damaged record header, or a writer's mistake; each read as it is held"]

    def stamp_warnings(self) -> list[str]:
        """What was odd about the packets' times."""
        said = []
        count, first = self.zero_stamped
        if count:
            said.append(zero_stamped_warning(count, first))
        count, first = self.fraction_over
        if count:
            whole = "1,000,000 µs" if self._per_second == 1_000_000 else "1,000,000,000 ns"
            said.append(
                f"{count:,} packet{'s' if count != 1 else ''} with a fraction of a second of {whole} or more "
                f"(the first: packet {first}), which no capture writes: each time read as given, "
                "its seconds plus the fraction"
            )
        return said

    def _pcapng_frames(self, stream: BinaryIO) -> Generator[Frame, None, None]:
        # Blocks are cut out of chunks read ahead, as pcap records are.
        ahead = _ReadAhead(stream, self.warnings)
        endian = "<"
        interfaces: list[tuple[int, int, int]] = []  # (linktype, ticks per second, offset in seconds)
        names: list[str] = []  # the section's interfaces' names
        first = True
        while True:
            if not first and interfaces:
                frame = self._enhanced_packet(ahead, endian == "<", interfaces)
                if frame is not None:
                    yield frame
                    continue
            head = ahead.read(8) if not first else PCAPNG_SHB + ahead.read(4)
            if not head:
                return
            if len(head) < 8:
                self._cut_off("a block header")
                return
            if head[:4] == PCAPNG_SHB:
                # A section header fixes the byte order of everything up to the next one.
                order = ahead.read(4)
                if len(order) < 4:
                    if first:
                        raise CaptureFileError(self.path, "pcapng section header is cut off")
                    self._cut_off("a section header")
                    return
                if struct.unpack("<I", order)[0] == PCAPNG_BYTE_ORDER_MAGIC:
                    endian = "<"
                elif struct.unpack(">I", order)[0] == PCAPNG_BYTE_ORDER_MAGIC:
                    endian = ">"
                else:
                    raise CaptureFileError(self.path, "pcapng section header has a bad byte-order magic")
                block_len = struct.unpack(endian + "I", head[4:8])[0]
                body_len = block_len - 16
                prefix = order
                interfaces = []
                names = []
                self.interface_names.append(names)
                self.section += 1
            else:
                block_len = struct.unpack(endian + "I", head[4:8])[0]
                body_len = block_len - 12
                prefix = b""
            opening, first = first, False
            if block_len % 4 or body_len < 0 or block_len > MAX_BLOCK_BYTES:
                self.warnings.append(
                    f"block after packet {self.frames_read} has an impossible length ({block_len}); "
                    f"stopped reading there ({packets_read(self.frames_read)})"
                )
                return
            body = ahead.read(body_len)
            trailer = ahead.read(4)
            if len(body) < body_len or len(trailer) < 4:
                if opening:  # nothing of the file can be read: it is not yet a capture
                    raise CaptureFileError(self.path, "pcapng section header is cut off")
                self._cut_off(f"the block after packet {self.frames_read}")
                return
            trailing = struct.unpack(endian + "I", trailer)[0]
            if trailing != block_len:
                # Wireshark stops here too: a wrong leading length put the reader out of step
                # (the next block's fields read as a block: packets invented).
                if opening:
                    raise CaptureFileError(self.path, "pcapng section header's lengths disagree")
                self.warnings.append(
                    f"block after packet {self.frames_read:,} says it is {block_len:,} bytes long "
                    f"and ends saying {trailing:,}: a damaged block; stopped reading there "
                    f"({packets_read(self.frames_read)})"
                )
                return
            block_type = struct.unpack(endian + "I", head[:4])[0]
            body = prefix + body
            if block_type == BLOCK_IDB:
                interface, name = self._interface(body, endian)
                interfaces.append(interface)
                names.append(name or f"interface {len(names)}")
                self.many_interfaces = len(interfaces) > 1
            elif block_type == BLOCK_ISB:
                self._statistics(body, endian, names)
            elif block_type in BLOCK_CUSTOM:
                self.frames_read += 1  # its number taken, as Wireshark's frames are numbered
            elif block_type in (BLOCK_EPB, BLOCK_OPB, BLOCK_SPB):
                frame = self._packet(block_type, body, endian, interfaces)
                if frame is not None:
                    self.frames_read += 1
                    yield frame

    def _enhanced_packet(
        self, ahead: _ReadAhead, little: bool, interfaces: list[tuple[int, int, int]]
    ) -> Frame | None:
        """The next block if it is an enhanced packet block with nothing wrong with it (nearly
        every block), its fields read where they lie in the chunk read ahead; None for any
        other block, left for the general path to read and judge from its start."""
        if ahead.fill(8) < 8:
            return None
        buffer, at = ahead.buffer, ahead.at
        block_len = u32(buffer, at + 4, little)
        if u32(buffer, at, little) != BLOCK_EPB or block_len % 4 or not 32 <= block_len <= MAX_BLOCK_BYTES:
            return None
        if ahead.fill(block_len) < block_len:
            return None
        buffer, at = ahead.buffer, ahead.at  # moved if the chunk was refilled
        iface, caplen = u32(buffer, at + 8, little), u32(buffer, at + 20, little)
        if (
            iface >= len(interfaces)
            or caplen > block_len - 32
            or u32(buffer, at + block_len - 4, little) != block_len
        ):
            return None
        ahead.at = at + block_len
        self.interface = iface
        linktype = self._stamp(interfaces[iface], u32(buffer, at + 12, little), u32(buffer, at + 16, little))
        self.frames_read += 1
        self._original_length(u32(buffer, at + 24, little), caplen, self.frames_read)
        return (self._last_stamp, linktype, buffer[at + 28 : at + 28 + caplen])

    def _stamp(self, interface: tuple[int, int, int], high: int, low: int) -> int:
        """A packet's stamp from its interface and timestamp, as the last stamp; its link type."""
        linktype, per_second, offset = interface
        if high or low or offset:  # 0 ticks after an if_tsoffset is the offset itself, a time
            whole, part = divmod((high << 32) | low, per_second)
            if NS % per_second == 0:
                part *= NS // per_second
            elif per_second % NS == 0:  # finer than a nanosecond: to the nanosecond below
                part //= per_second // NS
            else:  # a binary resolution (2^-n s): to the nanosecond below, as tshark shows it
                part = int(part * 1e9 / per_second)
            self._last_stamp = seconds_stamp(whole + offset) + part
        else:
            self._zero_stamp(self.frames_read + 1)  # numbered once read
        return linktype

    def _interface(self, body: bytes, endian: str) -> tuple[tuple[int, int, int], str]:
        """(link type, ticks per second, offset in seconds) and the name of an interface."""
        if len(body) < 8:
            raise CaptureFileError(self.path, "pcapng interface block is too short")
        linktype = struct.unpack(endian + "H", body[:2])[0]
        snaplen = struct.unpack(endian + "I", body[4:8])[0]
        if snaplen and (not self.snaplen or snaplen < self.snaplen):
            self.snaplen = snaplen
        per_second, offset, name = 1_000_000, 0, ""
        for code, value in _options(body[8:], endian):
            if code == OPTION_IF_NAME:
                name = value.split(b"\0", 1)[0].decode("utf-8", "replace")
                if not name.isprintable():
                    # Said in warnings: a line break or a terminal's escape written as such
                    # (helper-120: gopacket's test file's name holds CR LF).
                    name = name.encode("unicode_escape").decode("ascii")
            elif code == OPTION_IF_TSRESOL and value:
                exponent = value[0] & 0x7F
                per_second = 2**exponent if value[0] & 0x80 else 10**exponent
            elif code == OPTION_IF_TSOFFSET and len(value) == 8:
                offset = struct.unpack(endian + "q", value)[0]
        return (linktype, per_second, offset), name

    def _statistics(self, body: bytes, endian: str, names: list[str]) -> None:
        """An interface statistics block: the packets its interface dropped, if it says."""
        if len(body) < 12:
            return
        interface = struct.unpack(endian + "I", body[:4])[0]
        dropped, told = 0, False
        for code, value in _options(body[12:], endian):
            if code in (OPTION_ISB_IFDROP, OPTION_ISB_OSDROP) and len(value) == 8:
                dropped += struct.unpack(endian + "Q", value)[0]
                told = True
        if told:
            name = names[interface] if interface < len(names) else f"interface {interface}"
            key = (self.section, interface)
            self.dropped[key] = (name, max(dropped, self.dropped.get(key, (name, 0))[1]))

    def drop_warnings(self) -> list[str]:
        """The packets the capturing tool says it dropped, in one warning; none if none. Two
        interfaces of one name (two hosts' eth0, merged) are each told."""
        total = sum(count for _name, count in self.dropped.values())
        if not total:
            return []
        each = ", ".join(f"{name}: {count:,}" for name, count in self.dropped.values() if count)
        return [
            f"the capture dropped {total:,} packet{'s' if total != 1 else ''}, as the file's interface "
            f"statistics say ({each}): the file lacks them, so a gap, a handshake or close not captured, "
            "or a segment that looks lost may be the capture's doing, not the network's"
        ]

    def _skip(self, why: str) -> None:
        """A packet block left unread: it still takes its number."""
        self.frames_read += 1
        count, first = self.skipped.get(why, (0, self.frames_read))
        self.skipped[why] = (count + 1, first)

    def skipped_warnings(self) -> list[str]:
        return [
            f"{count:,} packet{'s' if count != 1 else ''} skipped, {why} (the first: packet {first})"
            for why, (count, first) in self.skipped.items()
        ]

    def _packet(
        self, block_type: int, body: bytes, endian: str, interfaces: list[tuple[int, int, int]]
    ) -> Frame | None:
        if block_type == BLOCK_SPB:
            # Simple packet blocks have no timestamp and always belong to interface 0;
            # they take the previous packet's time so that time never runs backwards.
            if len(body) < 4 or not interfaces:
                self._skip("in a Simple Packet Block too short or before any interface block")
                return None
            origlen = struct.unpack(endian + "I", body[:4])[0]
            self.whole = 0 < origlen <= len(body) - 4
            self.interface = 0
            self.untimed += 1
            return (self._last_stamp, interfaces[0][0], body[4 : 4 + origlen])
        if block_type == BLOCK_EPB:
            if len(body) < 20:
                self._skip("in a packet block too short for its fields")
                return None
            # Here only when _enhanced_packet left the block to be judged: read as it reads them.
            little = endian == "<"
            iface, high, low = u32(body, 0, little), u32(body, 4, little), u32(body, 8, little)
            caplen, origlen = u32(body, 12, little), u32(body, 16, little)
            data_at = 20
        else:
            if len(body) < 20:
                self._skip("in a packet block too short for its fields")
                return None
            iface, _drops, high, low, caplen, origlen = struct.unpack(endian + "HHIIII", body[:20])
            data_at = 20
        if iface >= len(interfaces):
            self._skip("naming an interface never described")
            return None
        self.interface = iface
        if caplen > len(body) - data_at:
            self._skip("claiming more bytes than its block holds")
            return None
        self._original_length(origlen, caplen, self.frames_read + 1)
        linktype = self._stamp(interfaces[iface], high, low)
        return (self._last_stamp, linktype, body[data_at : data_at + caplen])


def packets_read(count: int) -> str:
    return "1 packet read" if count == 1 else f"{count:,} packets read"


def zero_stamped_warning(count: int, first: int) -> str:
    return (
        f"{count:,} packet{'s' if count != 1 else ''} stamped 0 (1970-01-01, the first: packet {first}), "
        "a writer with no time for them: each is given the time of the packet before it"
    )


class _Rejoined(io.RawIOBase):
    """A stream whose first bytes were read already (a pipe cannot seek back): `head`, then
    the rest of `stream`."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Gunzipped(io.RawIOBase):
    """A gzip file's content, decompressed as it is read, member after member (gzip -c a b);
    one cut off gives all it holds, then ends (`cut`), where GzipFile raises and loses the
    last read's data: a capture cut off still gives its packets."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._source = _Rejoined(head, stream)
        self._inflate = zlib.decompressobj(31)  # a gzip header and trailer
        self._out = b""
        self._done = False
        self.cut = False  # it ended inside a member
        self.damage = ""  # what zlib said of the member it could not read on
        self.trailing = False  # bytes after the last member that start no other (gzip ignores them)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out and not self._done:
            chunk = self._source.read(COMPRESSED_CHUNK)
            if not chunk:
                self._done = True
                self._out = self._inflate.flush()
                self.cut = not self._inflate.eof
                break
            self._out = self._inflated(chunk)
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def warnings(self) -> list[str]:
        """What ended it early, or was left after it."""
        said = []
        if self.cut:
            said.append(
                "gzip stream ends before its end marker: the file was cut off (the packets before are read)"
            )
        if self.damage:
            said.append(
                f"gzip stream is damaged ({self.damage}): reading stopped there (the packets before are read)"
            )
        if self.trailing:
            said.append("bytes after the gzip stream that are no gzip are left out (as gzip -d does)")
        return said

    def _inflated(self, chunk: bytes) -> bytes:
        """`chunk` decompressed, on into the next member; where the data goes bad, all it gave
        before (its last good kilobyte at most lost), and the end."""
        saved = self._inflate.copy()
        try:
            return self._members(chunk)
        except zlib.error:
            self._inflate, out = saved, b""
            for at in range(0, len(chunk), 1024):
                try:
                    out += self._members(chunk[at : at + 1024])
                except zlib.error as error:
                    self.damage, self._done = str(error), True
                    break
            return out

    def _members(self, chunk: bytes) -> bytes:
        out = self._inflate.decompress(chunk)
        while self._inflate.eof and self._inflate.unused_data and not self._done:
            rest = self._inflate.unused_data
            if not GZIP_MAGIC.startswith(rest[:2]):  # no other member: trailing bytes (zeros, often)
                self.trailing, self._done = True, True
                break
            self._inflate = zlib.decompressobj(31)
            out += self._inflate.decompress(rest)
        return out


class _ReadAhead:
    """`read` as a file's, served from chunks of READ_AHEAD bytes; or `fill`, then the
    bytes where they lie: `buffer` from `at`. A read the system fails (an I/O error) ends
    the file there, `warnings` told why."""

    def __init__(self, stream: BinaryIO, warnings: list[str]) -> None:
        self._stream = stream
        self._warnings = warnings
        self._failed = False
        self.buffer = b""
        self.at = 0

    def fill(self, size: int) -> int:
        """Make `size` bytes lie in the buffer from `at` if the file has them; how many do."""
        if self.at + size > len(self.buffer) and not self._failed:
            try:
                more = self._stream.read(max(READ_AHEAD, size))
            except OSError as error:
                self._warnings.append(f"reading stopped: {error}; the packets before it are read")
                self._failed = True
                more = b""
            self.buffer = self.buffer[self.at :] + more
            self.at = 0
        return min(size, len(self.buffer) - self.at)

    def read(self, size: int) -> bytes:
        """`size` bytes, fewer only at the end of the file."""
        size = self.fill(size)
        data = self.buffer[self.at : self.at + size]
        self.at += size
        return data


def _options(data: bytes, endian: str) -> Iterator[tuple[int, bytes]]:
    """pcapng options: (code, value) pairs up to opt_endofopt, tolerating a short tail."""
    at = 0
    while at + 4 <= len(data):
        code, length = struct.unpack(endian + "HH", data[at : at + 4])
        if code == 0:
            return
        value = data[at + 4 : at + 4 + length]
        if len(value) < length:
            return
        yield code, value
        at += 4 + ((length + 3) & ~3)
