"""Urgent data: the segments an end sent with URG set (RFC 9293 3.8.5, RFC 6093).

An application asks for it with send(..., MSG_OOB): Linux marks the last byte of that send
urgent and sets URG with the urgent pointer one past it on every segment it sends until
that byte has gone (so one urgent byte may mark several segments). Telnet's and rlogin's
interrupts and FTP's ABOR use it (their Synch). A receiver without SO_OOBINLINE takes the
urgent byte out of the stream (recv with MSG_OOB reads it; a plain recv skips it), so the
two ends' byte counts of the application differ from TCP's; middleboxes may clear the flag
(RFC 6093 5), and RFC 6093 asks new applications not to use it: worth seeing, and the
capture is the only place it shows.

Rule: every segment with URG and ACK, without SYN or RST, counts, by sender, from its first
such segment that carries data (the urgent byte's: a stack in urgent mode sets URG on its
pure ACKs too, but only after it); the first URGENT_LISTED frames of each are named. A stack
sends urgent data only once connected, so always with ACK and with the byte: an Xmas scan's
probe (FIN, PSH and URG), a crafted SYN, an URG/ACK scan's empty probes are no urgent data. Read the same from a whole connection and, segment by segment, by a long one
(long_connection.py), which keeps no segment for it.
"""

from __future__ import annotations

from typing import Final

from analyzer.connections import Connection, Side
from analyzer.decode.segment import ACK, RST, SYN, URG, Segment

_URGENT_DATA: Final = URG | ACK  # of the flags URG | ACK | SYN | RST: what urgent data carries
_READ: Final = URG | ACK | SYN | RST
URGENT_LISTED: Final = 64  # frames listed for each end (the JSON's)
SAID: Final = 6  # of them, named in the report's line


class UrgentData:
    """By sender: how many segments carried URG, and the first URGENT_LISTED frames."""

    def __init__(self) -> None:
        self.counts: dict[Side, int] = {}
        self.frames: dict[Side, list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.counts)

    def feed(self, segment: Segment, from_client: bool) -> None:
        """One segment with URG set (callers test the flag: nearly none has it); counted if
        it is urgent data (the rule above)."""
        if segment.flags & _READ != _URGENT_DATA:
            return
        side: Side = "client" if from_client else "server"
        if side not in self.counts and not segment.payload_len:
            return
        self.counts[side] = self.counts.get(side, 0) + 1
        frames = self.frames.setdefault(side, [])
        if len(frames) < URGENT_LISTED:
            frames.append(segment.frame)

    def explain(self) -> str:
        """One line: which end marked how many segments urgent, and their frames."""
        parts = []
        for side in ("client", "server"):
            count = self.counts.get(side, 0)
            if not count:
                continue
            frames = ", ".join(str(frame) for frame in self.frames[side][:SAID])
            listed = frames + (f" and {count - SAID:,} more" if count > SAID else "")
            parts.append(
                f"the {side} sent {count:,} segment{'s' if count != 1 else ''} with URG "
                f"(frame{'s' if count > 1 else ''} {listed})"
            )
        return (
            "; ".join(parts) + ": out-of-band data (send() with MSG_OOB; telnet's, rlogin's and FTP's "
            "interrupts); a receiver without SO_OOBINLINE reads the urgent byte apart from the stream"
        )

    def as_dict(self) -> dict:
        return {side: {"segments": self.counts[side], "frames": self.frames[side]} for side in self.counts}


def find_urgent(connection: Connection, counted: UrgentData | None = None) -> UrgentData | None:
    """The connection's segments with URG, by sender; None without any. `counted`: a long
    connection's, counted as its segments came (long_connection.FoldedConnection.urgent): it
    keeps too few of them to count here."""
    if counted is not None:
        return counted if counted else None
    found = UrgentData()
    for segment in connection.segments:
        if segment.flags & URG:
            found.feed(segment, connection.from_client(segment))
    return found if found else None
