"""`analyze --only KIND[,KIND...]`: which connections a report shows, by what happened to them.

  resets           a RST was sent, by either side (refused ones too)
  refused          the SYN was answered by a RST, or by an ICMP destination unreachable
  retransmissions  a segment was sent again: a SYN or SYN/ACK resent, or data or a FIN
                   (a copy of one captured before, or Wireshark's retransmission, fast and
                   spurious retransmission, but for a gap filled by the packet first sent)
  incomplete       the handshake began and never finished: no answer to the SYN, or a
                   SYN/ACK never acknowledged (a refused one is `refused`)

Several kinds (the option repeated, or comma-separated) show the connections of any of them.
The file's counts, its overview and its scans still cover every connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the command line imports this module before any analysis
    from analyzer.analysis import ConnectionAnalysis

ONLY_KINDS: Final = ("resets", "refused", "retransmissions", "incomplete")


def parse_only(text: str) -> list[str]:
    """The kinds in `text` ("resets,refused"); ValueError naming one that is not a kind."""
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    if not kinds:
        raise ValueError("no kind given")
    for kind in kinds:
        if kind not in ONLY_KINDS:
            raise ValueError(f"{kind!r} is not one of {', '.join(ONLY_KINDS)}")
    return kinds


def retransmitted(result: ConnectionAnalysis) -> bool:
    if result.charted_backoffs():
        return True
    flags = result.sequence.flags
    if flags:  # a SYN or SYN/ACK Wireshark calls one (another ISN 3 ms on: no backoff's)
        handshake = result.handshake
        for segment in (*handshake.syns, *handshake.synacks):
            kinds = flags.get(segment.frame)
            if kinds is not None and "retransmission" in kinds:
                return True
    return other_retransmissions(result) > 0


def other_retransmissions(result: ConnectionAnalysis) -> int:
    """The segments sent again but the handshake's (said apart): those our resend finder found
    (copies of data or a FIN captured before), and those Wireshark flags as retransmissions
    but the gaps the identifications show were filled by the packet first sent (reordered),
    and those filed after their ACK; a stale connection's segments within it left out
    (own_sequence). (A mirror port that reordered its copies had connections listed with 3
    where nothing was sent twice, beside a block that said so.) A gap filled within half a
    round trip with no identification to tell keeps its flag: a fast retransmission can come
    that soon."""
    handshake, gaps = result.handshake, result.gaps
    syns = {segment.frame for segment in (*handshake.syns, *handshake.synacks)}
    counted = {frame for frame in result.resends if frame not in syns}
    flags = result.own_sequence.flags
    if flags:
        flagged = {frame for frame, kinds in flags.items() if "retransmission" in kinds} - syns
        if gaps is not None:
            timed = set(gaps.timed)
            flagged.difference_update(filler for _gap, filler in gaps.reordered if filler not in timed)
            flagged.difference_update(data for _ack, data in gaps.filed_late)
        counted |= flagged
    return len(counted)


def shown(result: ConnectionAnalysis, only: list[str]) -> bool:
    """Whether the connection is of any of the kinds in `only`."""
    for kind in only:
        if kind == "resets" and result.resets:
            return True
        if kind == "refused" and result.handshake.status in ("refused", "unreachable"):
            return True
        if kind == "retransmissions" and retransmitted(result):
            return True
        if kind == "incomplete" and result.handshake.status in ("no_answer", "incomplete"):
            return True
    return False
