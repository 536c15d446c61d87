"""`analyze --only KIND[,KIND...]`: which connections a report shows, by what happened to them.

  resets           a RST was sent, by either side (refused ones too)
  refused          the SYN was answered by a RST, or by an ICMP destination unreachable
  retransmissions  a segment was sent again: a SYN or SYN/ACK resent, or data (Wireshark's
                   retransmission, fast and spurious retransmission)
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
    if result.syn_backoff.intervals or result.synack_backoff.intervals:
        return True
    return any("retransmission" in kinds for kinds in result.sequence.flags.values())


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
