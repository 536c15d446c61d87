"""Other tools' codes said in words: Zeek's conn_state and history letters, Wireshark's TCP
analysis flags (its expert info), and a SYN's TCP options. One place, so that the page's
titles, its glossary and any later output say the same thing."""

from __future__ import annotations

from typing import Final

from analyzer.decode.segment import TcpOptions

# Zeek's conn.log conn_state (base/protocols/conn/main.zeek), in this project's words.
ZEEK_CONN_STATES: Final[dict[str, str]] = {
    "S0": "attempt seen, no reply: the originator's SYN was never answered",
    "S1": "established, not closed in the capture",
    "SF": "established and closed normally (both FINs; it may have been established and torn down)",
    "REJ": "attempt rejected: the SYN was answered by a RST",
    "S2": "established; the originator sent a FIN, the responder none",
    "S3": "established; the responder sent a FIN, the originator none",
    "RSTO": "established, then the originator aborted it with a RST",
    "RSTR": "established, then the responder sent a RST",
    "RSTOS0": "the originator sent a SYN and then a RST; no SYN/ACK was seen",
    "RSTRH": "the responder sent a SYN/ACK and then a RST; the originator's SYN was not seen",
    "SH": "the originator sent a SYN and then a FIN; no SYN/ACK was seen (half open)",
    "SHR": "the responder sent a SYN/ACK and then a FIN; the originator's SYN was not seen",
    "OTH": "no SYN seen: traffic from the middle of a connection",
}

# Zeek's history letters: upper case for the originator, lower case for the responder.
ZEEK_HISTORY: Final[dict[str, str]] = {
    "S": "a SYN without ACK",
    "H": "a SYN/ACK",
    "A": "a pure ACK",
    "D": "a segment with data",
    "F": "a FIN",
    "R": "a RST",
    "C": "a segment with a bad checksum",
    "G": "a content gap (data acknowledged but not captured)",
    "T": "a retransmitted segment",
    "W": "a zero window advertised",
    "I": "an inconsistent segment (FIN and RST together)",
    "Q": "a segment with SYN and FIN, or SYN and RST",
    "^": "Zeek swapped the roles: the side that sent the SYN/ACK or answered turned out to be the responder",
    "X": "the analysis was partial (a limit was exceeded)",
}
ZEEK_REPEATS: Final = (
    "T, W and G are written again at the 10th, 100th, 1000th, ... time; others once per side"
)

# This tool's diagnoses (findings/diagnoses.py), each kind in a few words for a table cell;
# the diagnosis's sentence says the rest.
DIAGNOSES: Final[dict[str, str]] = {
    "close_wait_held": "an application was slow to close, or never did (CLOSE_WAIT held)",
    "fin_wait_2_expired": "FIN_WAIT_2 timer ran out, then a RST",
    "keep_alive": "keep-alive probes",
    "zero_window": "zero window: the receiver stalled",
    "tail_loss_probe": "tail loss probe: an early resend",
    "retransmission_timeout": "resends with backoff (timeouts)",
    "rst_with_data": "a RST carrying text",
    "injected_rst": "a RST likely injected (its TTL is off)",
    "path_mtu": "a segment too big for the path (ICMP), and what its sender did",
}

# Wireshark's tcp.analysis.* flags (its expert info), by this project's names for them.
WIRESHARK_FLAGS: Final[dict[str, str]] = {
    "retransmission": "a segment resent: its data (or SYN, FIN) was sent before",
    "fast_retransmission": "a resend after two or more duplicate ACKs asked for it, within 20 ms of the last",
    "spurious_retransmission": "a resend of data the receiver had already acknowledged",
    "out_of_order": "a segment that came in after later data, within the out-of-order threshold",
    "lost_segment": "previous segment not captured: a gap in the sequence numbers before this one",
    "ack_lost_segment": "acknowledges data that was not captured",
    "duplicate_ack": "the same ACK and window again with no data: the receiver asks for missing data",
    "keep_alive": "a keep-alive: no data or one byte, one below the next sequence number, to draw an ACK",
    "keep_alive_ack": "the answer to a keep-alive",
    "zero_window": "the sender advertises a zero window: it cannot take more data now",
    "zero_window_probe": "a window probe: one byte at the next sequence number, sent into a zero window to learn when it opens",
    "zero_window_probe_ack": "the answer to a window probe: the window still zero",
    "window_update": "a window update: no data, the same ACK, another window: the receiver made room (or took it)",
    "window_full": "data up to the right edge of the window the receiver offered: the sender can send no more until it is acknowledged",
}


def wireshark_filter(kind: str) -> str:
    """The display filter field Wireshark gives the flag."""
    return f"tcp.analysis.{kind}"


def history_words(history: str) -> list[str]:
    """Each letter of a Zeek history in words, with the side it is about, in order of first
    appearance; a letter written again (T, W, G at the 10th, 100th, ... time) said once, with
    how many times it came at least."""
    words = []
    said: set[str] = set()
    for letter in history:
        if letter in said:
            continue
        said.add(letter)
        meaning = ZEEK_HISTORY.get(letter.upper())
        times = history.count(letter)
        again = f"; the letter {times} times: at least {10 ** (times - 1):,} of them" if times > 1 else ""
        if meaning is None:
            words.append(f"{letter}: not a letter Zeek writes")
        elif letter == "^":
            words.append(f"^: {meaning}")
        else:
            side = "the originator" if letter.isupper() else "the responder"
            words.append(f"{letter}: {side} sent {meaning}{again}")
    return words


def options_words(options: TcpOptions | dict | None) -> str:
    """A SYN's options as a reader says them: "maximum segment size 1460 bytes, window
    scale 7 (windows × 128), selective ACKs permitted, timestamps". A dict: as the handshake
    and the JSON hold them (TcpOptions.as_dict)."""
    if options is None:
        return "not seen"
    given = options.as_dict() if isinstance(options, TcpOptions) else options
    parts = []
    if isinstance(options, TcpOptions) and options.mptcp:  # a RST's (TcpOptions.mptcp_reset)
        if options.mptcp_fastclose:
            parts.append("MPTCP MP_FASTCLOSE")
        if options.mptcp_reset >= 0:
            parts.append(f"MPTCP MP_TCPRST (reason {options.mptcp_reset})")
    if given.get("mss") is not None:
        parts.append(f"maximum segment size {given['mss']} bytes")
    if "mss_forwarded" in given:  # findings/handshake.note_clamped_mss
        parts.append(f"{given['mss_forwarded']} as a router sent it on (MSS clamping)")
    scale = given.get("window_scale")
    if scale is not None:
        parts.append(f"window scale {scale} (windows × {1 << scale:,})")
    if given.get("sack_permitted"):
        parts.append("selective ACKs permitted")
    if given.get("timestamps"):
        parts.append("timestamps")
    if given.get("fast_open"):
        parts.append("TCP Fast Open")
    multipath = given.get("mptcp")
    if multipath and multipath["option"] == "MP_JOIN":
        parts.append(f"joins a Multipath TCP connection (MP_JOIN, its token {multipath['token']})")
    elif multipath and multipath["token"] is not None:
        parts.append(
            f"Multipath TCP (MP_CAPABLE version {multipath['version']}; its connection's token "
            f"{multipath['token']}, which the peer's MP_JOINs name)"
        )
    elif multipath:
        parts.append(f"Multipath TCP (MP_CAPABLE version {multipath['version']})")
    if given.get("cut"):  # the capture's snapshot length cut the list
        return (
            ", ".join([*parts, "the rest not captured"])
            if parts
            else "not captured (cut by the snapshot length)"
        )
    return ", ".join(parts) or "none"
