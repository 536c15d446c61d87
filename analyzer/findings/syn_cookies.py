"""A listener that kept no request for a SYN: its SYN/ACK, never answered, never sent again.

A listener that keeps a request for a SYN (Linux's request socket, the BSDs' syncache,
Windows') sends its SYN/ACK again while no ACK comes: Linux, FreeBSD, macOS and Windows 8+
1 s after it; OpenBSD and NetBSD (their syn cache's 3 s) and Windows 7 and older 3 s after
(findings/backoff.known_synack_schedules). One that answers with a SYN cookie (RFC 4987
3.6) keeps nothing and sends it once; the cookie comes back in the client's ACK, if one
comes, which makes the connection. Linux answers so every SYN once the listener's SYN queue
is full (tcp_syncookies=1, its default: a SYN flood does it), and every SYN with
tcp_syncookies=2.

Rule: the server's SYN/ACKs, of one ISN, none sent again by its timer, the last of them
answered by nothing the capture holds from the client, and nothing of the connection after
it (to the capture's end, or for the timeout of the timer that gave it up) for as long as
its sender would have taken to send it again: STATELESS_AFTER where its TTL says it left a
stack whose initial TTL is 64 (Linux, the BSDs, macOS: 3 s at most), else OLD_WINDOWS_DUE
(128: Windows, an older one 3 s; 255, or a TTL not read). Then either its listener kept no
request for the SYN (a SYN cookie, most likely; or one that sends none again, Linux's
tcp_synack_retries=0, or closed meanwhile), or the client's ACK came and the capture missed
it (a capture filter on SYNs, a capture that dropped packets): said as such. The server's
end is UNKNOWN from its SYN/ACK on (LISTEN had a cookie answered, ESTABLISHED had the ACK
come), never the SYN_RCVD a request kept unanswered would have resent from.
"""

from __future__ import annotations

from typing import Final

from analyzer.connections import Connection
from analyzer.decode.segment import Segment
from analyzer.findings.handshake import Handshake

# After a SYN/ACK, the time by which a listener that keeps a request has sent it again, by
# the initial TTL its stack starts from (due_after). Both among attempt_shapes.TIME_LIMITS: an attempt's shape holds where its quiet time falls
# (and whether its last segment's TTL is at most INITIAL_TTL_64).
STATELESS_AFTER: Final = 3.5  # past the 1 s of Linux's, FreeBSD's and macOS's first resend, OpenBSD's 3 s
OLD_WINDOWS_DUE: Final = 5.0  # past an older Windows listener's first resend, 3 s after
INITIAL_TTL_64: Final = 64


def unrequested_for(connection: Connection, handshake: Handshake) -> float | None:
    """How long the server's last SYN/ACK went unanswered, unsent again, where the rule
    says its listener kept no request for the SYN; None elsewhere."""
    synacks = handshake.synacks
    if (
        not synacks
        or handshake.status != "incomplete"
        or len(handshake.timer_synacks) != 1
        or handshake.other_server_isns
        or connection.to_itself
    ):
        return None
    last = synacks[-1]
    if connection.segments[-1] is not last:  # something came after it (an ACK, a RST, data)
        return None
    quiet = connection.quiet_after()
    return quiet if quiet is not None and quiet >= due_after(last) else None


def due_after(synack: Segment) -> float:
    """How long after `synack` its sender, keeping a request, would have sent it again (the
    rule: by its TTL, the initial TTL of its stack)."""
    return STATELESS_AFTER if 0 <= synack.ttl <= INITIAL_TTL_64 else OLD_WINDOWS_DUE


def unrequested_note(quiet: float, frame: int) -> str:
    """The connection's note: what the rule found, and what it means."""
    from analyzer.timefmt import format_duration

    return (
        f"the server's SYN/ACK (frame {frame}) went unanswered in the capture for {format_duration(quiet)} and "
        "was never sent again, where a listener that keeps a request for the SYN sends it again within 3 s "
        "(1 s: Linux, FreeBSD, macOS, Windows 8+; 3 s: OpenBSD, NetBSD, older Windows, whose TTL starts at "
        "128, waited for longer): it kept none, a SYN cookie most likely (Linux answers so once the "
        "listener's SYN queue is full, or always with tcp_syncookies=2), or the client's ACK came and the "
        "capture missed it (a capture filter on SYNs, packets the capture dropped); the server's state "
        "from its SYN/ACK on is unknown: LISTEN had a cookie answered, ESTABLISHED had the ACK come"
    )
