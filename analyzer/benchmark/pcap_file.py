"""Writing generated frames as a classic pcap (microseconds) or pcapng file, Ethernet link.

Records are packed into a list and written a few thousand at a time: one write a packet
would cost more than packing it.
"""

from __future__ import annotations

import struct
from types import TracebackType
from typing import BinaryIO, Final

_PCAP_HEADER: Final = struct.Struct("<IHHiIII")
_PCAP_RECORD: Final = struct.Struct("<IIII")
_PCAPNG_EPB: Final = struct.Struct("<IIIIIII")
_PCAPNG_TRAILER: Final = struct.Struct("<I")
_CHUNK: Final = 4096
LINKTYPE_ETHERNET: Final = 1


class CaptureWriter:
    """`with CaptureWriter(open(path, "wb"), snaplen) as out: out.write(micros, frame, wire)`;
    `packets` counts what was written."""

    def __init__(self, out: BinaryIO, snaplen: int, fmt: str = "pcap") -> None:
        if fmt not in ("pcap", "pcapng"):
            raise ValueError(f"unknown capture format {fmt}")
        self.out = out
        self.pcapng = fmt == "pcapng"
        self.packets = 0
        self._chunk: list[bytes] = []
        if not self.pcapng:
            out.write(_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
            return
        shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        out.write(struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body
                  + struct.pack("<I", 12 + len(shb_body)))  # fmt: skip
        idb_body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, snaplen)
        out.write(
            struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body))
        )

    def write(self, micros: int, frame: bytes, wire: int) -> None:
        """One frame captured at `micros` (microseconds since the epoch)."""
        if self.pcapng:
            padded = frame + b"\x00" * (-len(frame) % 4)
            block_len = 32 + len(padded)
            self._chunk.append(
                _PCAPNG_EPB.pack(6, block_len, 0, micros >> 32, micros & 0xFFFFFFFF, len(frame), wire)
                + padded
                + _PCAPNG_TRAILER.pack(block_len)
            )
        else:
            seconds, fraction = divmod(micros, 1_000_000)
            self._chunk.append(_PCAP_RECORD.pack(seconds, fraction, len(frame), wire) + frame)
        self.packets += 1
        if len(self._chunk) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        self.out.write(b"".join(self._chunk))
        self._chunk.clear()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.flush()
