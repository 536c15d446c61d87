"""The TCP state machine of RFC 9293 (section 3.3.2), inferred from a capture.

Two rules, after h11's _state.py:
1. Everything about transitions lives in this module: the events a segment means for
   its sender and for its receiver, the TABLE that maps (state, event) to the next
   state, and, right below it as plain code, the few decisions that are not a lookup
   (is this ACK for our FIN? is this RST in the window? did these FINs cross?). Which
   segments never arrived is not decided here: loss inference (loss_inference.py)
   tells the machine.
2. The machine does not know which role it plays: client and server are two
   `Endpoint`s driven by the same table.

Theory of operation
-------------------
The capture point sees each segment once, so a segment is applied at its capture time
to both ends, first as a send by its sender and then as a receive by its receiver.

Events. A segment is at most one send event for its sender (SYN, SYN/ACK or RST, then
FIN) and a few receive events for its receiver, taken in RFC order: RST, then SYN, then
the ACK (of its SYN, of its FIN), then FIN. The table has an entry for every event a
state takes; an event it has no entry for leaves the state as it is (a resent SYN in
SYN_RCVD, a duplicate, data). TIMEOUT leaves no packet: it comes from the call log
(`time_out`), as a connect() that failed with ETIMEDOUT.

Dropped and lost segments. A receiver drops what RFC 9293 has it drop (a RST outside
its window, an ACK for data never sent, in SYN_SENT any segment with ACK but no SYN:
3.10.7.3): the step notes why and the receiver's state does not move. A lost segment (loss inference) moves only its sender.

Where the capture was taken. The machine moves a receiver on every segment it would
accept, as if the capture had been taken at it; which of those moves the capture proves
(the receiver's later segments acknowledge the segment, or the capture was taken at it)
is decided outside, by arrivals.py, which makes the rest State.UNKNOWN in the reported
histories. The machine's own states, which the next segments are judged by, stay as here.

Where a capture starts. One that starts mid-connection starts both ends in the state
the first segment implies (`initial_states`).

Crossing segments. Two segments that cross in flight are the one thing a capture point
cannot order. In a simultaneous close each end sends its FIN before the other's
arrives, but the capture sees one of them first, and the table puts that FIN's receiver
in CLOSE_WAIT. The receiver's own FIN, when it does not acknowledge the FIN that put it
there, proves it left before that FIN arrived: the machine retracts the receive
(`Endpoint.retract`: the CLOSE_WAIT the capture order suggested leaves the history) and
applies the two events in the order they happened, both by the table: send FIN
(ESTABLISHED -> FIN_WAIT_1), then receive FIN (FIN_WAIT_1 -> CLOSING, the simultaneous
close). Both at the capture time of the FIN that proved it: when the other FIN arrived
is not seen. SYNs likewise: a SYN (without ACK) from an end the peer's SYN put in
SYN_RCVD, sent before anything else, proves it left before that SYN arrived (an end
that has taken a SYN in answers with a SYN/ACK): send SYN (-> SYN_SENT), then receive
SYN (SYN_SENT -> SYN_RCVD), RFC 9293's simultaneous open; that end, first seen as the
SYN's receiver, was connecting, not listening, once it sends a SYN/ACK as well (a
socket that listens sends no SYN): it starts CLOSED. A split handshake's server
(it answers a SYN with a SYN of its own, then the client's SYN/ACK with an ACK) behaves
exactly so, and goes the same way.

Captured before what it answers. A mirror port merges two directions that reach it by
different paths, and captures merged from both ends carry two clocks: a segment may be
captured before the peer's segment it acknowledges (an ACK before the data, a FIN/ACK
before the FIN it acknowledges). Such a segment acknowledges what its receiver has not
sent yet, and the receiver drops it, until the receiver's next segment, within
CROSSING_FLOOR, sends exactly that (its acknowledgment falls inside that segment's
numbers): then it was sent after that one arrived. The machine takes back the move the
early segment made its sender (`Endpoint.retract`), applies the late one, then applies the
early one to both ends again, by the table, at the late one's capture time (as crossing
segments are): a FIN/ACK before the FIN it acknowledges is a three-segment close, not a
simultaneous one.

Challenge ACKs. An end still holding a connection on the 4-tuple (synchronized, or in
TIME_WAIT) answers a SYN with an ACK that does not acknowledge it (RFC 5961 4.2): the
SYN was not taken into a new connection. When that ACK is the first thing the SYN's
receiver sends after the SYN put it in SYN_RCVD, the machine retracts that SYN_RCVD
(back to LISTEN: the listener never saw the SYN; the stale connection that answered is
not this one) and the SYN's step says why it was not taken in. The SYN's sender, in
SYN_SENT, answers an ACK that does not acknowledge its SYN with a RST whose sequence
number is that ACK's acknowledgment number (RFC 9293 3.10.7.3) and stays in SYN_SENT,
its next SYN following (Linux: TCP_TIMEOUT_MIN, two jiffies, later if it had not resent
it yet: 12 ms in tests/data/handshakes/challenge-ack-linux.pcap); the RST, exactly at the
stale connection's RCV.NXT, is accepted (RFC 5961 3.2).

No socket. A SYN/ACK answered by its receiver with a RST at the SYN/ACK's acknowledgment
number, the first thing that end sends after it, found no socket (RFC 9293 3.10.7.1): a
SYN scan's raw probe (the scanner's kernel resets the answer), or a connect() given up
before the SYN/ACK came. The machine retracts the ESTABLISHED the SYN/ACK seemed to bring
(a socket that took it would have acknowledged it), and the SYN/ACK's step says why. The
other way round, an end held CLOSED that sends a SYN/ACK was listening: a listener took a
SYN the capture does not show in (the SYN before the capture, or the end's RST was
another's, an injected one), so it is taken as LISTEN and the RST's move retracted.

Orphans. A socket closed while in FIN_WAIT_2 is ended by a timer (Linux tcp_fin_timeout,
60 s by default) if the peer does not close meanwhile. A RST that is the first thing an
end in FIN_WAIT_2 sends after the peer's FIN which came FIN_WAIT_2_SILENCE or more after it
entered FIN_WAIT_2 shows that FIN found no socket: a live FIN_WAIT_2 answers a FIN with its
ACK. Late data shows it only LINUX_FIN_TIMEOUT or more after: an orphan (its application
closed it) answers data with RST itself, the timer running or not (Linux's timewait socket
in substate FIN_WAIT2 does), so sooner the RST is the socket's own. The machine takes
back the move the late segment seemed to bring (a FIN's TIME_WAIT), says on its step why,
and puts the timer's move to CLOSED at the late segment's time, the latest it can have
fired (no frame: a timer sends nothing); the RST leaves a CLOSED end.

After an abort. An end's close() can abort the connection (its RST) while the peer's
segment is on its way: the capture may see that segment first, yet it finds no connection
and is answered, like any segment for no connection, by a RST without ACK at its
acknowledgment number (RFC 9293 3.10.7.1; Linux's listener on the port answers an ACK so
too). That second RST proves the segment never moved the end: the machine takes back the
move it made (the one before the end's own RST), and the segment's step says why
(curl POSTing to python's http.server: the server's FIN_WAIT_1 -> CLOSED by its abort, not
FIN_WAIT_2 by the client's ACK, as the kernel recorder saw).

Connections that ended unseen. A RST without ACK at the acknowledgment number of the
peer's segment just before it is how a kernel answers a segment for no connection (RFC 9293
3.10.7.1); a live socket in ESTABLISHED or CLOSE_WAIT takes the segment or answers with
RST/ACK (after its own FIN, Linux answers data with such a RST from the socket itself: data
after close). An end the capture has in ESTABLISHED or CLOSE_WAIT that sends one had lost its
connection without a packet (a retransmission timeout, TCP_USER_TIMEOUT, a keep-alive timeout whose RST the
capture missed): the machine puts its move to CLOSED at that segment's time, the latest it
can have come (no frame: nothing was sent), and the segment's step says it found no
connection; the RST leaves a CLOSED end (TCP_USER_TIMEOUT of 1.5 s, then the server's data
3 s in: the kernel recorder saw the client's socket close at 1.5 s). Not an end still
probing the peer's zero window (its persist timer's next probe not yet due: window_probes,
still_probing) that answers the peer's data so: its socket was there, closed by its
application with its data and FIN held behind that window (FIN_WAIT_1, nothing on the wire
to show it), and a closed socket answers new data with RST (Linux: TCP_ABORT_ON_DATA;
helper-102's x17, a server that exited with its writes blocked). Not a listener's that
still held the connection request: where that segment would have made the connection from
SYN_RCVD, within SYNACK_SILENCE_LEAST of the end's last SYN/ACK (before any stack sends it
again, let alone gives the request up), it met a full accept queue and the request answered
it (tcp_abort_on_overflow=1; its reset reason INVALID_SYN, the segment freed as
TCP_LISTEN_OVERFLOW): the move it made is taken back and the RST closes the request itself.

RSTs an end outlived. An end the capture has CLOSED by a RST that later sends a segment
other than a RST or a SYN was not closed by it. The RST was its own: its socket did not
send it (a middlebox or an attacker injected it in its name, or another host's); its move
to CLOSED is taken back and the machine notes it (the RST still reaches the peer, which
may take it). The RST was the peer's, and the segment acknowledges data the RST's sender
sent after it (which came behind it on the same path: a reset end answers it with RST), or
left more than one round trip
after it (the longest the capture timed, a segment to its acknowledgment, and 200 ms at
least: it cannot have been in flight when the RST arrived): the end never took it (a
firewall dropped it before the socket, or it was not at RCV.NXT); its move is taken back
and the RST's step says why.

RSTs far from the acknowledged. A TCP's RST carries its SND.NXT (or, answering a segment
for no connection, that segment's acknowledgment number): never a number below what its
peer has acknowledged, all of which it had sent, nor one past any window beyond it (2^30,
the largest a window scale allows). A RST at such a number (one at 0 on a connection long
past it: a firewall ending an idle connection, a blind reset attack) was made by someone
else in the sender's name: its sender does not move, its receiver drops it (RFC 5961 3.2),
and the step says how far off it was (Step.off_acked). One below is not enough: some
stacks reset at their FIN's own number after their FIN was taken.

RSTs made nearer. A packet's TTL (hop limit) only falls on its way: a RST whose TTL is
above every other packet of its claimed sender (one is enough: a route does not shorten
between a SYN/ACK and a RST 100 µs later: helper-143's firewall rejecting a request; a bare
SYN not counted, a scanner crafts its TTL), or one
captured (where the file names interfaces) on an interface none of its sender's other
packets came in on (their copies further on left out), was made between that end and the capture point, or on the capturing
host itself: a firewall's reject with tcp reset, a middlebox, a load balancer's idle
timeout. Its sender does not move; its receiver takes it as any RST (Step.made_nearer says
why). A RST below the sender's TTLs proves nothing so (a route may lengthen): the injected_rst
diagnosis reads those.

A FIN beyond a hole. A FIN that starts past all its sender was seen to send (Wireshark's
"previous segment not captured") while it acknowledges nothing unseen (not a capture that
lost packets both ways: decode.segment.after_a_gap) came before data its receiver lacks: the
receiver queues it out of order (RFC 9293 3.10.7.4 processes a FIN in sequence only; Linux
takes it from the out-of-order queue) and stays where it is until the data comes, a resend
that reaches the FIN's number, or until it acknowledges the FIN, whichever the capture
shows first (the hole filled unseen); it moves at that segment. The capture may also see
the data and yet it never arrives (lost beyond the capture point): the receiver's later
segment that does not acknowledge the FIN, though it left after the FIN arrived (a SACK
block holds the FIN, or it comes more than a round trip after it, 200 ms at least), proves
the FIN was not taken: the machine retracts the receiver's CLOSE_WAIT, notes why, and the
FIN waits as above (redis killed at its server, the capture at the server's side).

A FIN the capture missed. An ACK that acknowledges exactly one number past all its receiver
was seen to send (Wireshark's "ACKed segment that wasn't captured"), before that end sent
its FIN, shows a FIN or a byte of data the capture missed (tcpdump's buffer, a mirror port
past its rate); so does that end's empty ACK one number past all it sent (the peer's ACK of
the FIN still on its way). It is taken as the FIN when that end sends nothing in or past
that number but empty ACKs and its peer closes too (its FIN, before or after), or the end
resets at that number without ACK or after the peer's data (a closed socket's answer to data
after close): a close with one FIN not captured (a byte of data the capture missed, with the
end's socket open past the capture's end, looks the same). Until then the segment that
showed it stays as it was (an ACK dropped as any ACK of data never sent, NEVER_SENT); once
shown (that RST, a SYN or RST after the peer closed, or the end of the connection's
segments: `settle`), the machine takes back the moves both ends made since, applies the FIN
at that segment (sent by its end, taken by the peer: Step.missed_fin; acknowledging what the
end had acknowledged, and the peer's FIN if it had taken that), and applies again by the
table the FINs and ACKs since, that segment's first. Data or a FIN from that end, a SYN or
RST before the peer closed, an ACK of more, a FIN beyond a hole, or a move from before it
taken back meanwhile, leave all as it was.

Impossible flags. A segment with flags no TCP sends (decode.segment.impossible_flags:
SYN with FIN or RST, RST with FIN, none of SYN/ACK/RST/FIN) is a scan's or a crafted
packet: it moves neither end, and its step says so. So is a FIN without ACK from an end
that had sent nothing and has no connection (a FIN or Xmas scan's probe, decode.segment.scan_probe).

Nothing else is retracted, and every move is a table entry.

The diagram (docs/tcp-states.mmd and .svg, in the README) is drawn from TABLE by
output/state_diagram.py (`make docs`); a test fails when the README's copy differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from analyzer.decode.segment import (
    ACK,
    FIN,
    MOD,
    RST,
    SYN,
    UNSEEN,
    Segment,
    after_a_gap,
    answers_for_no_socket,
    impossible_flags,
    measures_ttl,
    nearer_by,
    scan_probe,
    seq_diff,
)
from analyzer.loss_inference import CROSSING_FLOOR, RTO_MIN, request_still_held
from analyzer.timefmt import between, format_duration, stamp_of


# Hashed as the strings they are, compiled too (docs/mypyc.md): the state machine looks
# states and events up in TABLE for every segment.
class State(StrEnum):
    __hash__ = str.__hash__

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RCVD = "SYN_RCVD"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"
    # Not a state of RFC 9293: the capture cannot tell which one the end is in (a segment
    # that would have moved it may not have reached it; arrivals.py). No table entry.
    UNKNOWN = "UNKNOWN"


class Event(StrEnum):
    __hash__ = str.__hash__

    SEND_SYN = "send SYN"
    SEND_SYNACK = "send SYN/ACK"
    SEND_FIN = "send FIN"
    SEND_RST = "send RST"
    RECV_SYN = "receive SYN"
    RECV_SYNACK = "receive SYN/ACK"
    RECV_ACK_OF_SYN = "receive ACK of SYN"
    RECV_FIN = "receive FIN"
    RECV_ACK_OF_FIN = "receive ACK of FIN"
    RECV_RST = "receive RST"
    TIMEOUT = "timeout"  # leaves no packet: known only from the application (e.g. ETIMEDOUT)


S, E = State, Event
# The members the machine reads on every segment, as Final names: `State.CLOSED` goes
# through the Enum class's attribute lookup each time, about 45 ns (docs/mypyc.md).
_CLOSED: Final = State.CLOSED
_CLOSE_WAIT: Final = State.CLOSE_WAIT
_ESTABLISHED: Final = State.ESTABLISHED
_FIN_WAIT_2: Final = State.FIN_WAIT_2
_LISTEN: Final = State.LISTEN
_SYN_RCVD: Final = State.SYN_RCVD
_SYN_SENT: Final = State.SYN_SENT
_TIME_WAIT: Final = State.TIME_WAIT
_RECV_ACK_OF_FIN: Final = Event.RECV_ACK_OF_FIN
_RECV_ACK_OF_SYN: Final = Event.RECV_ACK_OF_SYN
_RECV_FIN: Final = Event.RECV_FIN
_RECV_RST: Final = Event.RECV_RST
_RECV_SYN: Final = Event.RECV_SYN
_RECV_SYNACK: Final = Event.RECV_SYNACK
_SEND_FIN: Final = Event.SEND_FIN
_SEND_RST: Final = Event.SEND_RST
_SEND_SYN: Final = Event.SEND_SYN
_SEND_SYNACK: Final = Event.SEND_SYNACK
_TIMEOUT: Final = Event.TIMEOUT
_RESET = {E.SEND_RST: S.CLOSED, E.RECV_RST: S.CLOSED}

TABLE: Final[dict[State, dict[Event, State]]] = {
    S.CLOSED: {E.SEND_SYN: S.SYN_SENT, E.SEND_RST: S.CLOSED},
    S.LISTEN: {
        E.RECV_SYN: S.SYN_RCVD,
        E.SEND_SYNACK: S.SYN_RCVD,
        E.SEND_SYN: S.SYN_SENT,
        E.RECV_RST: S.LISTEN,
    },
    S.SYN_SENT: {
        E.TIMEOUT: S.CLOSED,  # connect() gave up: ETIMEDOUT
        E.SEND_SYN: S.SYN_SENT,
        E.RECV_SYNACK: S.ESTABLISHED,
        E.RECV_SYN: S.SYN_RCVD,  # simultaneous open
        E.SEND_SYNACK: S.SYN_RCVD,
        **_RESET,
    },
    S.SYN_RCVD: {
        E.SEND_SYN: S.SYN_RCVD,
        E.SEND_SYNACK: S.SYN_RCVD,
        E.RECV_SYN: S.SYN_RCVD,
        E.RECV_ACK_OF_SYN: S.ESTABLISHED,
        E.RECV_SYNACK: S.ESTABLISHED,  # simultaneous open, or a split handshake
        E.SEND_FIN: S.FIN_WAIT_1,
        **_RESET,
    },
    S.ESTABLISHED: {E.SEND_FIN: S.FIN_WAIT_1, E.RECV_FIN: S.CLOSE_WAIT, **_RESET},
    S.FIN_WAIT_1: {
        E.RECV_ACK_OF_FIN: S.FIN_WAIT_2,
        E.RECV_FIN: S.CLOSING,  # simultaneous close
        **_RESET,
    },
    S.FIN_WAIT_2: {E.RECV_FIN: S.TIME_WAIT, E.TIMEOUT: S.CLOSED, **_RESET},  # tcp_fin_timeout
    S.CLOSE_WAIT: {E.SEND_FIN: S.LAST_ACK, **_RESET},
    S.CLOSING: {E.RECV_ACK_OF_FIN: S.TIME_WAIT, **_RESET},
    S.LAST_ACK: {E.RECV_ACK_OF_FIN: S.CLOSED, **_RESET},
    # Linux accepts a RST in TIME_WAIT (net.ipv4.tcp_rfc1337=0) and drops the socket.
    S.TIME_WAIT: {E.TIMEOUT: S.CLOSED, **_RESET},  # 2 MSL
}

SYNCHRONIZED: Final = frozenset(
    {S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT}
)
# The RSTs after one that moved an end that the machine keeps for _went_on (a storm's
# beyond them keep their own cause).
RESETS_AFTER_KEPT: Final = 1024
# States in which a live socket takes the peer's data or answers it with RST/ACK, never with
# a RST alone. Not once it has sent its FIN: Linux answers data after close() with RST
# without ACK at its acknowledgment number (tcp_rcv_state_process: data after shutdown),
# the rule of "data after close" (findings/resets.py), from a socket that is there.
_LIVE_ANSWERS: Final = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
MAX_WINDOW_SCALE: Final = 14
# Endpoint.scale_offered before its SYN is read, and after a SYN without the option.
SCALE_UNKNOWN: Final = -2
SCALE_NONE: Final = -1
# Data in flight when a RST left may come after it for a round trip of the path beyond the
# capture point, which a capture without a timed round trip does not show (a queue full of
# a download's data): a segment proves its end outlived a RST only this long after it at
# least, Linux's least retransmission timeout, beyond most paths' round trips.
RST_CROSSING_FLOOR: Final = RTO_MIN
# What a RST in the receiver's window but not at its next number gets (a `dropped` ends so).
CHALLENGED: Final = "ignored and answered by a challenge ACK (RFC 5961 3.2)"
# The states in which an end has taken the peer's FIN.
_PEER_FIN_TAKEN: Final = frozenset({S.CLOSE_WAIT, S.LAST_ACK, S.CLOSING})
# Why a segment was not applied to its receiver when it acknowledges past all the receiver
# was seen sending (analysis.py words it otherwise when the receiver's direction is missing).
# Wireshark calls such an ACK "ACKed segment that wasn't captured": a capture that dropped
# packets (tcpdump's buffer) makes one, and nothing but the receiver's later numbers tells.
NEVER_SENT: Final = "acknowledges data the receiver was not seen to send (not captured, or never sent)"
# How far below its sender's highest IPv4 identification a segment after the sender's RST
# reads as one sent before it and delayed (_went_on).
DELAYED_ID_REACH: Final = 256
# A lost SYN's causes end with this where its receiver may be a listener; settle() takes it
# out where the receiver turned out no listener (a simultaneous open).
LISTENER_DROPS_SYN: Final = "; a SYN also dropped by a listener whose queue was full)"
# How many steps back a segment captured before what it acknowledges is looked for.
EARLY_LOOK_BACK: Final = 4
# Where an end that has not closed may send its FIN from (the states a missed one leaves).
_FIN_SENDABLE: Final = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
# Why a RST that refused a SYN did not end its receiver's attempt (_syn_again_after_refusal).
SYN_SENT_AGAIN: Final = "it sent the same SYN again"
# Why a refusal did not close its receiver (Windows): said in the notes and on the ladder.
RETRIES_REFUSED: Final = "stayed in SYN_SENT: its stack retries a refused connect()"
# A segment that finds no socket this long after its end entered FIN_WAIT_2: the orphan
# timer ended it (see "Orphans" above; a prompt RST there is data after close instead).
FIN_WAIT_2_SILENCE: Final = 1.0
# Linux's tcp_fin_timeout unless set otherwise (net/ipv4: TCP_FIN_TIMEOUT, 60 s).
LINUX_FIN_TIMEOUT: Final = 60


def orphan_timer_shown(late: Segment, waited: float) -> bool:
    """Whether `late`, which came `waited` seconds after its receiver entered FIN_WAIT_2 and
    found no socket there, shows the orphan timer had ended that socket (see "Orphans" above):
    only after FIN_WAIT_2_SILENCE, and for data only after LINUX_FIN_TIMEOUT (sooner, an
    orphan's RST to data is its own answer)."""
    return waited >= FIN_WAIT_2_SILENCE and not (late.payload_len and waited < LINUX_FIN_TIMEOUT)


# The states in which a FIN moves its receiver: one beyond a hole waits in the out-of-order
# queue there.
_FIN_QUEUED_IN: Final = frozenset({State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2})


@dataclass
class Endpoint:
    """One end of a connection as the capture reveals it."""

    state: State
    isn: int | None = None  # sequence number of its SYN
    snd_max: int = UNSEEN  # one past the highest sequence number it has sent
    # One past its highest SYN or data byte captured: numbers between it and how far the
    # end is known to have gone (snd_max, the peer's ACKs) were sent unseen.
    data_end: int = UNSEEN
    fin: Segment | None = None  # its latest FIN
    # The last segment it sent (its window is the one it offers), kept rather than the window
    # as an int | None (docs/mypyc.md).
    last_sent: Segment | None = None
    # The latest segment it sent that acknowledges the most (arrivals.py reads it, for what a
    # long connection does not keep of its segments).
    most_acked: Segment | None = None
    # The highest IPv4 identification of its segments other than RSTs, as a counter counts on
    # (0: none, or none told).
    latest_id: int = 0
    history: list[tuple[float, State]] = field(default_factory=list)
    # The frame that caused each history entry (None: the initial state, a timeout).
    frames: list[int | None] = field(default_factory=list)
    # Its oldest segment not yet acknowledged when it was sent alone (when, one past its
    # end; -1: none): the peer's acknowledgment of it times a round trip.
    unacked_since: float = -1.0
    unacked_end: int = UNSEEN
    # The peer's FIN that came beyond a hole (data before it missing): queued out of order,
    # it moves this end only once the hole is filled (see "A FIN beyond a hole" above).
    fin_waiting: Segment | None = None
    # The first number of its data the capture shows never arrived (a segment not taken, its
    # numbers not resent since nor acknowledged; UNSEEN: none): a FIN past it is beyond a hole.
    lost_from: int = UNSEEN
    # The window scale its SYN offered: SCALE_UNKNOWN before a SYN whose options were read
    # whole, SCALE_NONE for a SYN without the option (see window_bytes).
    scale_offered: int = SCALE_UNKNOWN
    # The widest window it offered, as sent (unscaled), outside SYNs: how far past what it
    # acknowledged its peer may have sent (UNSEEN: none offered yet).
    widest_window: int = UNSEEN
    # The highest TTL (hop limit) of its segments other than RSTs and bare SYNs, and the
    # interfaces its segments other than RSTs came in on (the first, and one other: a bond's;
    # UNSEEN: none named): what a RST made nearer the capture point than this end does not
    # match (see "RSTs made nearer" above).
    highest_ttl: int = UNSEEN
    ingress: int = UNSEEN
    also_on: int = UNSEEN
    # The acknowledgment numbers of its latest segments, RECENT_ACKS of them, each once: a
    # segment of its that its peer's stack takes late (from a socket's backlog, after the socket
    # was gone) is answered by a RST at that segment's number, below its latest.
    recent_acks: list[int] = field(default_factory=list)

    def __init__(self, state: State) -> None:
        self.state = state
        self.isn = self.fin = None
        self.snd_max = self.data_end = UNSEEN
        self.last_sent = self.most_acked = None
        self.latest_id = 0
        self.history = []
        self.frames = []
        self.unacked_since = -1.0
        self.unacked_end = UNSEEN
        self.fin_waiting = None
        self.lost_from = UNSEEN
        self.scale_offered = SCALE_UNKNOWN
        self.widest_window = UNSEEN
        self.highest_ttl = UNSEEN
        self.ingress = UNSEEN
        self.also_on = UNSEEN
        self.recent_acks = []

    @property
    def window(self) -> int | None:
        return self.last_sent.window if self.last_sent is not None else None

    def move(self, event: Event, cause: Segment) -> bool:
        """Apply `event`, which `cause` brought; True if the table has an entry for it in
        the current state."""
        following = TABLE[self.state].get(event)
        if following is None:
            return False
        if following != self.state:
            self.state = following
            self.history.append((cause.time, following))
            self.frames.append(cause.frame)
        return True

    def listen_again(self, cause: Segment) -> None:
        """From SYN_RCVD back to LISTEN: a passive open reset (RFC 9293 3.10.7.4). Its
        numbers go with it: the SYN/ACK it sends next, of any ISN, starts its sequence space."""
        self.isn = None
        self.snd_max = self.unacked_end = UNSEEN
        self.most_acked = None
        self.unacked_since = -1.0
        self.state = _LISTEN
        self.history.append((cause.time, _LISTEN))
        self.frames.append(cause.frame)

    def retract(self) -> None:
        """Take back the last move, which the capture order suggested and a later segment
        disproved (see "Crossing segments" and "Challenge ACKs" above): back to the state
        it left."""
        self.history.pop()
        self.frames.pop()
        self.state = self.history[-1][1]

    def acknowledges_syn(self, ack: int) -> bool:
        """Whether `ack` acknowledges its SYN and nothing it never sent: SND.UNA < ack <=
        SND.NXT in SYN_SENT (RFC 9293 3.10.7.3), the SYN's data (Fast Open) included."""
        isn = self.isn
        return (
            isn is not None
            and self.snd_max != UNSEEN
            and 0 < seq_diff(ack, isn) <= seq_diff(self.snd_max, isn)
        )

    def fin_acknowledged_by(self, ack: int) -> bool:
        """Whether an acknowledgment number `ack` acknowledges its FIN (it has sent one)."""
        fin = self.fin
        return fin is not None and seq_diff(ack, fin.seq_end) >= 0

    def just_took_syn(self) -> bool:
        """In SYN_RCVD by the peer's SYN (not by sending a SYN/ACK), and has sent nothing
        since: what it sends next tells whether it took the SYN in (see "Crossing
        segments" and "Challenge ACKs" above)."""
        if self.state != _SYN_RCVD or self.isn is not None or len(self.history) < 2:
            return False
        entered = self.frames[-1]
        if entered is None or self.history[-1][1] != _SYN_RCVD:
            return False
        return self.last_sent is None or self.last_sent.frame < entered

    def window_bytes(self, peer: Endpoint) -> int | None:
        """The window it offers in bytes (RFC 7323 2.2): scaled by its own SYN's shift when
        both SYNs offered scaling, as is when either SYN had no such option; taken at the
        largest scale when a SYN is not seen, or its options were cut; a SYN's as it is."""
        sent = self.last_sent
        if sent is None:
            return None
        if sent.flags & SYN:
            return sent.window  # a SYN's window is never scaled
        return self.scaled(sent.window, peer)

    def widest_bytes(self, peer: Endpoint) -> int:
        """The widest window it offered in bytes (scaled as window_bytes scales); any window
        (1 GiB) before it offered one outside a SYN."""
        if self.widest_window == UNSEEN:
            return _ANY_WINDOW
        return self.scaled(self.widest_window, peer)

    def scaled(self, window: int, peer: Endpoint) -> int:
        """A window field of a segment without SYN it sent, in bytes (window_bytes's rules)."""
        mine, theirs = self.scale_offered, peer.scale_offered
        if mine == SCALE_NONE or theirs == SCALE_NONE:
            return window
        if mine == SCALE_UNKNOWN or theirs == SCALE_UNKNOWN:
            return window << MAX_WINDOW_SCALE
        return window << min(mine, MAX_WINDOW_SCALE)

    def sent(self, segment: Segment) -> None:
        end = segment.seq_end
        options = segment.options
        if segment.window > self.widest_window and not segment.flags & (SYN | RST):
            self.widest_window = segment.window
        if segment.flags & SYN and options is not None and self.scale_offered == SCALE_UNKNOWN:
            if options.window_scale is not None:
                self.scale_offered = options.window_scale
            elif not options.cut:
                self.scale_offered = SCALE_NONE
        if segment.flags & SYN and self.isn is None:
            # Its sequence space starts here, whatever a segment before it said (a stale
            # connection's challenge ACK on the same ports, a split handshake's stray ACK).
            self.isn = segment.seq
            self.snd_max = end
            self.data_end = UNSEEN
            self.most_acked = None
            self.unacked_since = -1.0
        if self.unacked_since < 0 and (segment.payload_len or segment.flags & (SYN | FIN)):
            self.unacked_since, self.unacked_end = segment.time, end
        self.reached(segment)
        if segment.payload_len or segment.flags & SYN:
            data_end = (segment.seq + segment.payload_len + (1 if segment.flags & SYN else 0)) % MOD
            if self.data_end == UNSEEN or seq_diff(data_end, self.data_end) > 0:
                self.data_end = data_end
        if segment.flags & FIN:
            self.fin = segment
        if segment.flags & ACK:
            recent = self.recent_acks
            if not recent or recent[-1] != segment.ack:
                recent.append(segment.ack)
                if len(recent) > RECENT_ACKS:
                    del recent[0]
        self.last_sent = segment
        ip_id = segment.ip_id
        if (
            ip_id > 0
            and not segment.flags & RST
            and (self.latest_id == 0 or 0 < (ip_id - self.latest_id) & 0xFFFF < 0x8000)
        ):
            self.latest_id = ip_id  # the highest, counting on: a delayed one's lowers it not

    def reached(self, segment: Segment) -> None:
        """How far its numbers went and what it acknowledged, with `segment` of its own."""
        end = segment.seq_end
        if self.snd_max == UNSEEN or seq_diff(end, self.snd_max) > 0:
            self.snd_max = end
        most = self.most_acked
        if segment.flags & ACK and (most is None or seq_diff(segment.ack, most.ack) >= 0):
            self.most_acked = segment

    def closed_unseen(self, time: float) -> None:
        """CLOSED since `time` by what sent no packet (a timer, a connection lost unseen):
        no frame marks the move."""
        self.state = _CLOSED
        self.history.append((time, _CLOSED))
        self.frames.append(None)


def time_out(history: list[tuple[float, State]], time: float, frames: list[int | None] | None = None) -> bool:
    """Apply a TIMEOUT at `time` to an endpoint's history, if its state at the end has one."""
    following = TABLE.get(history[-1][1], {}).get(_TIMEOUT) if history else None
    if following is None or following == history[-1][1] or time < history[-1][0]:
        return False
    history.append((time, following))
    if frames is not None:
        frames.append(None)
    return True


# How a RST's step says what its receiver did after it shows it never took it in (it never
# arrived: dropped on the way), as _after_reset finds it: the reasons begin so.
WENT_ON: Final = "it went on sending"
ACKED_AFTER: Final = "it acknowledged"


def never_arrived(step: Step) -> bool:
    """Whether `step`'s RST never reached its receiver, as what that end did after it shows
    (not a challenge ACK's: that RST arrived, and was refused)."""
    dropped = step.dropped
    return dropped is not None and (dropped.startswith(WENT_ON) or dropped.startswith(ACKED_AFTER))


@dataclass
class Step:
    """What one segment did: both ends' states before and after, and what the receiver dropped."""

    segment: Segment
    sender_before: State
    sender_after: State
    receiver_before: State
    receiver_after: State
    dropped: str | None = None  # why the receiver would not accept it
    lost: bool = False  # never reached the receiver
    # A RST its sender's socket did not send: the frame where that end went on sending (-1: none).
    went_on_at: int = -1
    # A probe applied to neither end: flags no TCP sends, or a FIN scan's FIN (`dropped` says).
    probe: bool = False
    # A RST that no TCP sends at its number: how far from what its receiver had acknowledged
    # (negative: below; positive: past any window; 0: not so). See "RSTs far from the
    # acknowledged" above.
    off_acked: int = 0
    # A RST made nearer the capture point than its claimed sender: what shows it ("" for any
    # other segment). See "RSTs made nearer" above.
    made_nearer: str = ""
    # Of a folded connection's kept step (long_connection.py), its place among all the
    # connection's segments and the payload bytes of those before it: what a picture says
    # of the segments let go between two kept ones. -1 where every segment is kept.
    ordinal: int = -1
    bytes_before: int = -1
    # Likewise, the stamp of the segment before it (kept or not): the time since it, which a
    # picture writes beside the first arrow after segments let go. UNSEEN for the first.
    previous_stamp: int = UNSEEN
    # Of a segment captured before the peer's segment it acknowledges (see "Captured before
    # what it answers" above), that segment's frame; -1 for every other.
    answers_later: int = -1
    # Of the first ACK of a FIN the capture missed (see "A FIN the capture missed" above),
    # that FIN as its sender sent it, at this segment's frame and time; None for every other.
    missed_fin: Segment | None = None

    def __init__(
        self,
        segment: Segment,
        sender_before: State,
        sender_after: State,
        receiver_before: State,
        receiver_after: State,
        dropped: str | None = None,
        lost: bool = False,
    ) -> None:
        self.segment = segment
        self.sender_before = sender_before
        self.sender_after = sender_after
        self.receiver_before = receiver_before
        self.receiver_after = receiver_after
        self.dropped = dropped
        self.lost = lost
        self.went_on_at = -1
        self.probe = False
        self.off_acked = 0
        self.made_nearer = ""
        self.ordinal = -1
        self.bytes_before = -1
        self.previous_stamp = UNSEEN
        self.answers_later = -1
        self.missed_fin = None


def probe_shaped(segment: Segment, reset: Segment) -> bool:
    """A keep-alive's shape, a zero-window probe's too (Linux sends both so): no SYN, FIN or
    RST, no data or one byte, one below the number of its sender's RST `reset` (its next)."""
    return (
        not segment.flags & (SYN | FIN | RST)
        and segment.payload_len <= 1
        and seq_diff(reset.seq, segment.seq) == 1
    )


def window_probes(
    steps: list[Step], reset: Segment, answered: Segment
) -> tuple[Segment, list[Segment]] | None:
    """The zero-window probes of the RST's sender before `answered`, the peer's segment the RST
    answers: each one below the RST's number (its next) with no data or one byte, met by
    nothing from the peer but a zero window, the peer's segment before the first of them
    having closed it: a persist timer's (Linux sends its probes so, as keep-alives). That
    segment and the probes; None if they are not that."""
    sender = (reset.src, reset.sport)
    probes: list[Segment] = []
    for step in reversed(steps):
        segment = step.segment
        if segment.frame >= answered.frame:
            continue
        if (segment.src, segment.sport) != sender:
            if segment.window or segment.flags & (SYN | FIN | RST):
                break
            continue
        if not probe_shaped(segment, reset):
            break
        probes.append(segment)
    if not probes:
        return None
    probes.reverse()
    closed = window_closed_before(steps, probes[0])
    return (closed, probes) if closed is not None else None


def window_closed_before(steps: list[Step], first_probe: Segment) -> Segment | None:
    """The peer's latest segment before `first_probe` (a segment of the other end), if it
    offered a zero window (not a SYN's): what makes a keep-alive's shape a zero-window probe."""
    sender = (first_probe.src, first_probe.sport)
    for step in reversed(steps):
        segment = step.segment
        if segment.frame < first_probe.frame and (segment.src, segment.sport) != sender:
            return segment if segment.window == 0 and not segment.flags & (SYN | RST) else None
    return None


def still_probing(closed: Segment, probes: list[Segment], later: Segment) -> bool:
    """Whether `later` came before the persist timer's next probe was due (it backs off,
    doubling: twice the interval before the last probe, that from the window's closing for
    the first): the prober's socket was there to send it. (TCP_USER_TIMEOUT may pull the
    timer in and end the socket between probes: Linux 5.11+, tcp_clamp_probe0_to_user_timeout;
    what says so hedges. helper-102's x4 got the data 1.4 intervals after the last probe, its
    socket there: the kernel's TCP_ABORT_ON_DATA.)"""
    before = probes[-2].time if len(probes) > 1 else closed.time
    return later.time - probes[-1].time < 2 * (probes[-1].time - before)


def initial_states(first: Segment, first_reply: Segment | None) -> tuple[State, State, str]:
    """(sender's, receiver's) state just before the first captured segment, and why.

    A SYN's receiver was listening unless its first reply is a RST/ACK: then nothing
    listened on the port and it was CLOSED all along. A segment of flags no TCP sends
    (a scan's probe) is taken as a SYN: its sender has no connection, its receiver
    listens or not as its reply tells."""
    crafted = scan_probe(first.flags)
    impossible = impossible_flags(first.flags)
    if not crafted and impossible:
        crafted = f"impossible flags ({impossible})"
    if crafted:
        if first_reply is not None and first_reply.flags & RST:
            return (
                _CLOSED,
                _CLOSED,
                f"capture starts with {crafted}; nothing listened on the port",
            )
        return (
            _CLOSED,
            _LISTEN,
            f"capture starts with {crafted}: its sender taken as CLOSED",
        )
    if first.flags & (SYN | ACK) == SYN:
        # A closed port's answer to a SYN carries ACK (RFC 9293 3.10.7.1: the SYN has none);
        # a RST without one is not its stack's (a firewall's, an injector's).
        if first_reply is not None and first_reply.flags & (RST | ACK) == RST | ACK:
            return _CLOSED, _CLOSED, "capture starts with the SYN; nothing listened on the port"
        return _CLOSED, _LISTEN, "capture starts with the SYN"
    if first.flags & (SYN | ACK) == SYN | ACK:
        return _SYN_RCVD, _SYN_SENT, "capture starts with the SYN/ACK; the SYN was not captured"
    if first.flags & (SYN | ACK | RST) == ACK | RST and first.seq == 0:
        return (
            _CLOSED,
            _SYN_SENT,
            "capture starts with a RST/ACK at sequence number 0 (a closed port's answer to a SYN, or a "
            "probe, not captured): its sender taken as CLOSED, its receiver as in SYN_SENT",
        )
    return (
        _ESTABLISHED,
        _ESTABLISHED,
        "capture starts mid-connection; both ends taken as ESTABLISHED",
    )


class _MissedFin:
    """An ACK of one number past all its receiver had sent, and the steps since: that end's
    FIN the capture missed, until shown or disproved (see "A FIN the capture missed" above)."""

    def __init__(
        self, step: Step, index: int, fin_end: Endpoint, peer: Endpoint, lengths: tuple[int, int], number: int
    ) -> None:
        self.step = step
        self.index = index  # where it stands in the machine's steps (a long connection's kept ones)
        self.fin_end = fin_end
        self.peer = peer
        # One past the FIN: what the peer's ACK acknowledges, or where its end's next begins.
        self.number = number
        # The ends' histories before it, (fin_end's, peer's): their lengths, and the last entry
        # of each (a retraction since, below those, leaves nothing to take back to).
        self.lengths = lengths
        self.tails = (fin_end.history[lengths[0] - 1], peer.history[lengths[1] - 1])
        # What the FIN acknowledged: all its end had acknowledged by then, and the peer's FIN
        # where the end had taken that (a FIN sent from CLOSE_WAIT acknowledges it).
        acked = fin_end.most_acked
        self.acked = acked.ack if acked is not None else 0
        taken = peer.fin
        if fin_end.state == _CLOSE_WAIT and taken is not None and seq_diff(taken.seq_end, self.acked) > 0:
            self.acked = taken.seq_end
        # The peer sent data since: what a reset end answers with a RST.
        self.data_since = False


class ConnectionMachine:
    """Drives two Endpoints with the segments of one connection, in capture order."""

    def __init__(self, first: Segment, first_reply: Segment | None = None) -> None:
        sender_state, receiver_state, self.start_note = initial_states(first, first_reply)
        # A socket connected to itself is one end: the sender's (receiving is its own doing).
        self.ends = {
            (first.dst, first.dport): Endpoint(receiver_state),
            (first.src, first.sport): Endpoint(sender_state),
        }
        if sender_state == _SYN_RCVD or (sender_state == _CLOSED and receiver_state == _SYN_SENT):
            # The SYN/ACK's (RST/ACK's) ack field tells the ISN of the SYN that was not captured.
            self.ends[(first.dst, first.dport)].isn = (first.ack - 1) % MOD
            self.ends[(first.dst, first.dport)].snd_max = first.ack
        for end in self.ends.values():
            end.history.append((first.time, end.state))
            end.frames.append(None)
        self.steps: list[Step] = []
        # What the machine found that no one step says (an injected RST).
        self.notes: list[str] = []
        # The longest round trip the capture has timed (a segment to the peer's acknowledgment
        # of it, delayed ACKs and queues included): how long data may be in flight.
        self.longest_round_trip = 0.0
        # The latest RST's step that moved an end: what an end a RST closed and that sends
        # again looks up; and the RSTs since that moved no one (its sender's again: an
        # injector sends a few, each at another number).
        self._reset_step: Step | None = None
        self._resets_after: list[Step] = []
        # The first data segment the RST's sender sent after it (see _data_after).
        self._data_after_reset: Segment | None = None
        # The RST an end sent as one without a connection (_ended_unseen) and the step of the
        # segment it answered: undone if that end goes on sending.
        self._unseen_end: tuple[Step, Step] | None = None
        # The move that answered segment had made, taken back with it (its time and state;
        # none: it moved nothing): put back if the end goes on.
        self._unseen_move: tuple[float, State] | None = None
        # The RST a listener refused a connection with (_request_refused), the step of the
        # segment it answered and the move that segment had made: put back if the end goes on.
        self._refused: tuple[Step, Step, tuple[float, State]] | None = None
        # Which end sent a segment, told by its source without building a key for `ends`
        # (a connection to itself has one end: both are it).
        self._first_src, self._first_port = first.src, first.sport
        self._first_end = self.ends[(first.src, first.sport)]
        self._other_end = self.ends[(first.dst, first.dport)]
        # The first ACK of a FIN the capture missed, until shown one or not (see "A FIN the
        # capture missed" above).
        self._missed: _MissedFin | None = None

    def continue_from(self, context: list[Segment]) -> None:
        """Before the first segment: each end's furthest segment of the connection this one
        continues (connections.Continued), as sent before the capture's first: how far each
        end's numbers went and what it acknowledged (an ACK of those bytes is no ACK of data
        never sent). No move, no step."""
        for segment in context:
            end = self.ends.get((segment.src, segment.sport))
            if end is not None and not segment.flags & (SYN | RST):
                end.reached(segment)

    def feed(self, segment: Segment, lost: bool = False) -> Step:
        """Apply one segment; a `lost` one moves only its sender (it never arrived)."""
        missed = self._missed
        if missed is not None:
            self._before_missed(missed, segment)
        lengths = (len(self._first_end.history), len(self._other_end.history))
        reached = self._sender_of(segment).snd_max
        step = self._feed(segment, lost)
        missed = self._missed
        if missed is not None:
            if self._sender_of(segment) is missed.peer and segment.payload_len:
                missed.data_since = True
            if segment.flags & FIN and reached != UNSEEN and seq_diff(segment.seq, reached) > 0:
                self._missed = None  # a FIN beyond a hole: its own rules, not replayed here
            elif self._first_end.fin_waiting is not None or self._other_end.fin_waiting is not None:
                self._missed = None
        elif step.dropped == NEVER_SENT:
            self._missed = self._missed_fin_acked(step, lengths)
        elif (
            reached != UNSEEN
            and segment.flags & (SYN | ACK | FIN | RST) == ACK
            and not segment.payload_len
            and seq_diff(segment.seq, reached) == 1
        ):
            self._missed = self._missed_fin_skipped(step, lengths)
        return step

    def missed_fin_pending(self) -> Step | None:
        """The step that showed a FIN the capture missed, while it is undecided: a long
        connection keeps it (it may yet move both ends)."""
        missed = self._missed
        return missed.step if missed is not None else None

    def settle(self) -> None:
        """After the connection's last segment: an ACK of a FIN the capture missed still
        undecided is one if the peer closed (see "A FIN the capture missed" above)."""
        missed = self._missed
        if missed is not None and missed.peer.fin is not None:
            self._take_missed(missed)
        self._missed = None
        # A lost SYN's receiver turned out no listener (a simultaneous open: its history
        # starts CLOSED once its own SYN came): no listener's queue dropped it (helper-131's simo).
        for step in self.steps:
            dropped = step.dropped
            if dropped is not None and dropped.endswith(LISTENER_DROPS_SYN):
                receiver = self._other(self._sender_of(step.segment))
                if receiver.history and receiver.history[0][1] != _LISTEN:
                    step.dropped = dropped.removesuffix(LISTENER_DROPS_SYN) + ")"

    def _sender_of(self, segment: Segment) -> Endpoint:
        if segment.sport == self._first_port and segment.src == self._first_src:
            return self._first_end
        return self._other_end

    def _missed_fin_acked(self, step: Step, lengths: tuple[int, int]) -> _MissedFin | None:
        """`step`'s ACK, dropped as acknowledging what its receiver never sent, as the first
        ACK of that end's FIN the capture missed: one number past all it sent, before its FIN,
        from an end of the connection. `lengths`: both ends' histories before it."""
        segment = step.segment
        peer = self._sender_of(segment)
        fin_end = self._other(peer)
        if (
            step.lost
            or segment.flags & (SYN | RST)
            or fin_end is peer
            or fin_end.fin is not None
            or fin_end.snd_max == UNSEEN
            or seq_diff(segment.ack, fin_end.snd_max) != 1
            or fin_end.state not in _FIN_SENDABLE
            or peer.state not in SYNCHRONIZED
        ):
            return None
        return self._missed_fin(step, fin_end, peer, lengths, segment.ack)

    def _missed_fin_skipped(self, step: Step, lengths: tuple[int, int]) -> _MissedFin | None:
        """`step`'s empty ACK, one number past all its sender had sent: the first segment
        after its FIN the capture missed, sent before the peer acknowledged that FIN."""
        fin_end = self._sender_of(step.segment)
        peer = self._other(fin_end)
        if step.lost or fin_end is peer or fin_end.fin is not None or step.sender_before not in _FIN_SENDABLE:
            return None
        return self._missed_fin(step, fin_end, peer, lengths, step.segment.seq)

    def _missed_fin(
        self, step: Step, fin_end: Endpoint, peer: Endpoint, lengths: tuple[int, int], number: int
    ) -> _MissedFin | None:
        if peer.state not in SYNCHRONIZED:
            return None
        first = fin_end is self._first_end
        ordered = lengths if first else (lengths[1], lengths[0])
        if len(fin_end.history) < ordered[0] or len(peer.history) < ordered[1]:
            return None  # the segment itself took back a move from before it
        return _MissedFin(step, len(self.steps) - 1, fin_end, peer, ordered, number)

    def _before_missed(self, missed: _MissedFin, segment: Segment) -> None:
        """Before `segment`: whether it disproves the FIN the capture missed (data or a FIN
        of that end's, an ACK of more), shows it (that end's RST at the number, without ACK or
        after the peer's data: a closed socket's answer to data after close), or ends what may
        come before it is shown (a SYN, a RST): taken if the peer has closed, else let go."""
        flags = segment.flags
        shown = False
        if self._sender_of(segment) is missed.fin_end:
            disproved = bool(
                segment.payload_len or flags & (SYN | FIN) or seq_diff(segment.seq, missed.number) > 0
            )
            shown = (
                bool(flags & RST) and segment.seq == missed.number and (not flags & ACK or missed.data_since)
            )
        else:
            disproved = bool(flags & ACK) and seq_diff(segment.ack, missed.number) > 0
        ends = bool(flags & (SYN | RST))
        if disproved or (ends and not shown and missed.peer.fin is None):
            self._missed = None
        elif ends:
            self._take_missed(missed)

    def _take_missed(self, missed: _MissedFin) -> None:
        """The FIN the capture missed, applied at the segment that first showed it: both
        ends' moves since taken back, the FIN sent and taken there, and the FINs and ACKs
        since (the first among them) applied again by the table."""
        self._missed = None
        fin_end, peer = missed.fin_end, missed.peer
        ends = ((fin_end, missed.lengths[0], missed.tails[0]), (peer, missed.lengths[1], missed.tails[1]))
        if any(len(end.history) < length or end.history[length - 1] != tail for end, length, tail in ends):
            return  # a move from before it was taken back since: nothing left to apply it to
        for end, length, _tail in ends:
            del end.history[length:]
            del end.frames[length:]
            end.state = end.history[-1][1]
        first = missed.step
        shown = first.segment  # the peer's ACK of the FIN, or its end's next segment
        sender = self._sender_of(shown)
        own = sender is fin_end
        fin = Segment(
            shown.frame,
            shown.time,
            shown.family,
            shown.src if own else shown.dst,
            shown.sport if own else shown.dport,
            shown.dst if own else shown.src,
            shown.dport if own else shown.sport,
            FIN | ACK,
            (missed.number - 1) % MOD,
            missed.acked,
            0,
            0,
            None,
            tunnel=shown.tunnel,
            stamp=shown.stamp,
        )
        first.missed_fin = fin
        fin_end.fin = fin
        if seq_diff(missed.number, fin_end.snd_max) > 0:
            fin_end.snd_max = missed.number
        first.sender_before, first.receiver_before = sender.state, self._other(sender).state
        fin_end.move(_SEND_FIN, shown)
        if peer.fin_acknowledged_by(fin.ack):
            peer.move(_RECV_ACK_OF_FIN, shown)  # it acknowledged the peer's FIN (RFC order: ACK, FIN)
        peer.move(_RECV_FIN, shown)
        steps = self.steps
        # Its own step first (a long connection may have let it go), then every one since.
        since = [step for step in steps[missed.index :] if step.segment.frame > first.segment.frame]
        for step in [first, *since]:
            segment = step.segment
            sender = self._sender_of(segment)
            receiver = self._other(sender)
            if step is not first:
                step.sender_before, step.receiver_before = sender.state, receiver.state
            if step.dropped == NEVER_SENT and seq_diff(segment.ack, receiver.snd_max) <= 0:
                step.dropped = None
            flags = segment.flags
            if flags & FIN and not step.probe:
                sender.move(_SEND_FIN, segment)
            if step.dropped is None and not step.lost:
                if flags & ACK and receiver.fin_acknowledged_by(segment.ack):
                    receiver.move(_RECV_ACK_OF_FIN, segment)
                if flags & FIN:
                    receiver.move(_RECV_FIN, segment)
            step.sender_after, step.receiver_after = sender.state, receiver.state

    def _feed(self, segment: Segment, lost: bool) -> Step:
        if segment.sport == self._first_port and segment.src == self._first_src:
            sender, receiver = self._first_end, self._other_end
        else:
            sender, receiver = self._other_end, self._first_end
        step = Step(segment, sender.state, sender.state, receiver.state, receiver.state)
        if not segment.flags & RST:
            if sender.ingress == UNSEEN:
                sender.ingress = segment.interface
            elif segment.interface != sender.ingress:
                sender.also_on = segment.interface
            if segment.ttl > sender.highest_ttl and measures_ttl(segment):
                sender.highest_ttl = segment.ttl
        crafted = impossible_flags(segment.flags)
        probe = scan_probe(segment.flags) if sender.state == _CLOSED and sender.last_sent is None else ""
        if crafted or probe:
            step.dropped = (
                f"{probe} from an end with no connection, applied to neither end"
                if probe
                else f"{crafted}: flags no TCP sends (a scan or a crafted packet), applied to neither end"
            )
            step.probe = True
            self.steps.append(step)
            return step
        if segment.flags & (SYN | ACK | RST) == SYN and self._syn_again_after_refusal(sender, segment):
            step.sender_before = sender.state
        if (
            segment.flags & (SYN | ACK | RST) == SYN
            and sender.state == _LISTEN
            and len(sender.history) == 1
            and all(taken.lost for taken in self.steps)
        ):
            # Every SYN sent to it lost, it connects itself: it was never listening (a
            # simultaneous open whose first SYN never arrived, loss_inference; its own first
            # SYN may be lost too, sent again by its timer: helper-144's simul).
            sender.history[0] = (sender.history[0][0], _CLOSED)
            sender.state = _CLOSED
            step.sender_before = _CLOSED
        if lost:
            self._send(sender, segment)
            step.sender_after = sender.state
            step.dropped = (
                "never taken in by the receiver (lost: sent again or answered by a resend; or refused"
                + LISTENER_DROPS_SYN  # settle() takes it out where the receiver was no listener
                if segment.flags & (SYN | ACK) == SYN
                else "never taken in by the receiver (lost: sent again or answered by a resend; or dropped by "
                "a listener whose accept queue was full, the handshake's ACK and what follows it"
                + (
                    "; or held by one with TCP_DEFER_ACCEPT, which makes the connection only on data and "
                    "sends its SYN/ACK again when the defer time is up)"
                    if not segment.payload_len
                    else ")"
                )
                if receiver.state == _SYN_RCVD
                and receiver.history[0][1] == _LISTEN
                and not segment.flags & SYN
                else "never taken in by the receiver (lost: sent again or answered by a resend, or its receiver's "
                "later segments echo older timestamps; or refused)"
            )
            step.lost = True
            if segment.payload_len and (
                sender.lost_from == UNSEEN or seq_diff(segment.seq, sender.lost_from) < 0
            ):
                sender.lost_from = segment.seq
            self.steps.append(step)
            return step
        early = self._captured_early(receiver, segment)
        if early is not None and early.sender_before != early.sender_after:
            receiver.retract()  # the early segment's move: it left after this one arrived
        expected = sender.snd_max  # the receiver's RCV.NXT, as far as the capture shows
        flags = segment.flags
        hole = sender.lost_from
        if (
            hole != UNSEEN
            and segment.payload_len
            and seq_diff(segment.seq, hole) <= 0 < seq_diff(segment.data_end, hole)
        ):
            sender.lost_from = hole = UNSEEN  # the lost numbers sent again, and taken
        if receiver.lost_from != UNSEEN and flags & ACK and seq_diff(segment.ack, receiver.lost_from) > 0:
            receiver.lost_from = UNSEEN  # the peer's lost numbers acknowledged: they came after all
        waiting = sender.fin_waiting
        if waiting is not None and flags & ACK and seq_diff(segment.ack, waiting.seq_end) >= 0:
            # It acknowledges the peer's FIN: the hole before it was filled unseen.
            sender.fin_waiting = None
            sender.move(_RECV_FIN, segment)
            step.sender_before = sender.state
        held_fin = bool(
            flags & FIN
            and not flags & (RST | SYN)
            and expected != UNSEEN
            and receiver.state in _FIN_QUEUED_IN
            and (
                (seq_diff(segment.seq, expected) > 0 and not after_a_gap(segment, expected, receiver.snd_max))
                # Data before it seen, but never taken (lost beyond the capture point, an ICMP
                # error's refusal: helper-143's firewall, the receiver's RST for abort on data).
                or (hole != UNSEEN and seq_diff(segment.seq, hole) > 0)
            )
        )
        if sender.state == _CLOSED and not flags & (RST | SYN):
            self._went_on(sender, segment)
            step.sender_before = sender.state
        if self._fin_not_taken(sender, receiver, segment):
            sender.retract()  # its CLOSE_WAIT: the FIN waits in its out-of-order queue, or never came
            sender.fin_waiting = receiver.fin
            step.sender_before = sender.state
        crossed = _fins_crossed(sender, receiver, segment)
        if crossed:
            sender.retract()  # its CLOSE_WAIT: the peer's FIN had not arrived when this one left
        syns_crossed = flags & (SYN | ACK) == SYN and sender.just_took_syn()
        if syns_crossed:
            sender.retract()  # its SYN_RCVD: the peer's SYN had not arrived when this one left
        elif (
            flags & ACK
            and not flags & (SYN | RST)
            and sender.just_took_syn()
            and not receiver.acknowledges_syn(segment.ack)
        ):
            self._challenge(sender, segment)
        forged = (
            _off_acknowledged(receiver, sender, segment) if flags & RST and receiver.state != _SYN_SENT else 0
        )
        nearer = _made_nearer(sender, segment) if flags & RST and not forged else ""
        if forged:
            step.off_acked = forged
        elif nearer:
            step.made_nearer = nearer
        elif flags & RST and sender.state == _ESTABLISHED and _answers_synack_without_socket(sender, segment):
            self._no_socket(sender, segment)
            step.sender_before = sender.state
        if flags & (SYN | ACK | RST) == SYN | ACK and sender.history[0][1] == _LISTEN:
            self._connected(sender)
        if flags & (SYN | ACK | RST) == SYN | ACK and sender.state == _CLOSED:
            self._listened(sender, segment)
            step.sender_before = sender.state
        if (
            receiver.last_sent is None
            and flags & (SYN | ACK | RST) == ACK
            and self._unseen_answer(sender, segment)
        ) or (
            sender.state == _SYN_RCVD
            and sender.last_sent is None
            and flags & (SYN | ACK | RST) == ACK
            and self._synack_missed(sender, segment)
        ):
            step.sender_before = sender.state
        if forged or nearer:
            pass  # not the sender's: it stays where it was
        elif flags & RST and self._orphan_ended(sender, receiver):
            step.sender_before = sender.state
        elif flags & (RST | ACK) == RST and sender.state == _CLOSED:
            self._after_own_reset(sender, segment)
        elif flags & (RST | ACK) == RST and (
            self._request_refused(sender, receiver, step) or self._ended_unseen(sender, receiver, step)
        ):
            step.sender_before = sender.state
        answers = bool(
            flags & RST and sender.state == _SYN_SENT and _answers_unacceptable_ack(sender, receiver, segment)
        )
        if answers:
            sender.last_sent = segment  # stays in SYN_SENT; the RST's number is not its own
        elif not forged and not nearer:
            self._send(sender, segment)
        if crossed:
            sender.move(_RECV_FIN, segment)  # that FIN arrives after all: FIN_WAIT_1 -> CLOSING
        if syns_crossed:
            sender.move(_RECV_SYN, segment)  # that SYN arrives after all: SYN_SENT -> SYN_RCVD
        if answers:
            # At the stale connection's RCV.NXT exactly (RFC 5961 3.2): it resets that one.
            # An old duplicate SYN's SYN_RCVD goes back to LISTEN, to take the SYN sent again
            # (RFC 9293 3.10.7.4, its Figure 8).
            if receiver.state == _SYN_RCVD and receiver.history[0][1] == _LISTEN:
                receiver.listen_again(segment)
            else:
                receiver.move(_RECV_RST, segment)
            step.dropped = None
        else:
            step.dropped = self._receive(receiver, sender, segment, expected, not held_fin)
        if held_fin and step.dropped is None:
            receiver.fin_waiting = segment
        waiting = receiver.fin_waiting
        if (
            waiting is not None
            and waiting is not segment
            and not flags & RST
            and seq_diff(segment.seq_end, waiting.seq) >= 0
            and seq_diff(segment.seq, waiting.seq) < 0
        ):
            # The data the FIN waited for came: the receiver takes the queued FIN with it.
            receiver.fin_waiting = None
            receiver.move(_RECV_FIN, segment)
        if flags & ACK and receiver.unacked_since >= 0 and seq_diff(segment.ack, receiver.unacked_end) >= 0:
            self.longest_round_trip = max(self.longest_round_trip, segment.time - receiver.unacked_since)
            receiver.unacked_since = -1.0
        if flags & RST:
            if sender.frames[-1] == segment.frame or receiver.frames[-1] == segment.frame:
                self._reset_step = step
                self._resets_after = []
                self._data_after_reset = None
            elif self._reset_step is not None and len(self._resets_after) < RESETS_AFTER_KEPT:
                self._resets_after.append(step)
        reset = self._reset_step
        if (
            reset is not None
            and self._data_after_reset is None
            and segment.payload_len
            and reset is not step
            and segment.sport == reset.segment.sport
            and segment.src == reset.segment.src
        ):
            self._data_after_reset = segment
        step.sender_after, step.receiver_after = sender.state, receiver.state
        self.steps.append(step)
        if early is not None:
            self._apply_late(early, receiver, sender, segment)
        return step

    def _captured_early(self, receiver: Endpoint, segment: Segment) -> Step | None:
        """The step of `receiver`'s segment captured before `segment` though sent after it
        arrived (see "Captured before what it answers" above): among the last few, one its
        receiver dropped as acknowledging what it never sent, whose acknowledgment falls
        inside `segment`'s numbers, within CROSSING_FLOOR, and whose move (if it made one)
        is its sender's latest."""
        if not segment.seq_space or segment.flags & (RST | SYN):
            return None
        steps = self.steps
        for index in range(len(steps) - 1, max(-1, len(steps) - 1 - EARLY_LOOK_BACK), -1):
            step = steps[index]
            early = step.segment
            if early.sport == segment.sport and early.src == segment.src:
                continue  # the segment's own sender's
            if (
                step.dropped == NEVER_SENT
                and not step.lost
                and segment.time - early.time <= CROSSING_FLOOR
                and seq_diff(early.ack, segment.seq) > 0
                and seq_diff(early.ack, segment.seq_end) <= 0
                and (step.sender_before == step.sender_after or receiver.frames[-1] == early.frame)
            ):
                return step
            return None  # only the receiver's latest segment may be the early one
        return None

    def _apply_late(self, step: Step, sender: Endpoint, receiver: Endpoint, arrived: Segment) -> None:
        """The early segment of `step` (see _captured_early), sent again by `sender` and taken
        by `receiver` now that `arrived` has come: both moves at `arrived`'s time."""
        early = step.segment
        step.answers_later = arrived.frame
        captured = early.time
        early.time = arrived.time  # its moves at the time that proved them: restored below
        try:
            step.sender_before = sender.state
            self._send(sender, early)
            step.sender_after = sender.state
            step.receiver_before = receiver.state
            step.dropped = self._receive(receiver, sender, early, early.seq)
            step.receiver_after = receiver.state
        finally:
            early.time = captured

    @staticmethod
    def _connected(sender: Endpoint) -> None:
        """`sender`, first seen as a SYN's receiver, sends a SYN/ACK after a SYN of its own:
        a simultaneous open, whose ends both connect (a split handshake's server, a listener,
        answers the client's SYN/ACK with an ACK instead): it was CLOSED, never LISTEN."""
        history = sender.history
        if len(history) >= 2 and history[1][1] == _SYN_SENT:
            history[0] = (history[0][0], _CLOSED)

    def _went_on(self, sender: Endpoint, segment: Segment) -> None:
        """`segment`, neither RST nor SYN, comes from an end a RST put in CLOSED (see "RSTs
        an end outlived" above): if that RST was the end's own, its socket did not send it;
        if the peer's, and `segment` left after it could have crossed it in flight (the
        longest round trip timed, RST_CROSSING_FLOOR at least) or acknowledges data the
        RST's sender sent after it (_data_after), the end never took it."""
        step = self._reset_step
        unseen = self._unseen_end
        ended_unseen = unseen is not None and unseen[0] is step and sender.frames[-1] is None
        if (
            step is None
            or not sender.frames
            or (step.segment.frame != sender.frames[-1] and not ended_unseen)
        ):
            return
        rst = step.segment
        after = format_duration(between(rst.stamp, segment.stamp))
        latest = sender.latest_id
        if (
            segment.ip_id > 0
            and latest > 0
            and 0 < (latest - segment.ip_id) & 0xFFFF < DELAYED_ID_REACH
            and (sender.snd_max == UNSEEN or seq_diff(segment.seq_end, sender.snd_max) <= 0)
        ):
            # Its IPv4 identification comes just before the highest of its sender's, and it
            # brings nothing new: sent before the RST, delayed on the path (helper-148: a
            # relay's 5 ms for 2% of packets). Just before: random identifications (OpenBSD)
            # land there once in DELAYED_ID_REACH / 65,536.
            return
        if rst.sport == segment.sport and rst.src == segment.src:
            sender.retract()
            refused = self._refused
            if refused is not None and refused[0] is step:
                # Not the listener's refusal: the segment it seemed to answer made the connection.
                sender.history.append(refused[2])
                sender.frames.append(refused[1].segment.frame)
                sender.state = refused[2][1]
                step.sender_before = sender.state
                refused[1].dropped = None
                refused[1].receiver_after = sender.state
                self._refused = None
            if ended_unseen and unseen is not None:
                # It had its connection after all: the segment it seemed to answer reached it.
                moved = self._unseen_move
                if moved is not None:
                    sender.history.append(moved)
                    sender.frames.append(unseen[1].segment.frame)
                    sender.state = moved[1]
                    self._unseen_move = None
                step.sender_before = sender.state
                unseen[1].dropped = None
                unseen[1].receiver_after = sender.state
                self._unseen_end = None
            step.sender_after = sender.state
            step.went_on_at = segment.frame
            # The same end's RSTs since, sent "in CLOSED": not its socket's either.
            more = [
                later for later in self._resets_after
                if later.segment.sport == segment.sport and later.segment.src == segment.src
            ]  # fmt: skip
            for later in more:
                later.sender_before = later.sender_after = sender.state
                later.went_on_at = segment.frame
            if more:
                frames = ", ".join(str(later.segment.frame) for later in [step, *more])
                which = f"the RSTs of frames {frames} did not come from their sender's socket"
                after += f" after frame {rst.frame}"
            else:
                which = f"the RST of frame {rst.frame} did not come from its sender's socket"
                after += " later"
            self.notes.append(
                f"{which}: that end went on sending (frame {segment.frame}, {after}); injected on the path, "
                "or another host's"
            )
        elif self._left_after(rst.time, segment, self._other(sender)):
            self._not_taken(
                sender,
                f"{WENT_ON} (frame {segment.frame}, {after} after it), which a reset end cannot: it never took it in",
            )
        else:
            taken = self._data_after(segment)
            if taken is not None:
                self._not_taken(
                    sender,
                    f"{ACKED_AFTER} (frame {segment.frame}) data its sender sent after it (frame {taken.frame}), "
                    "which came behind it on the same path: a reset end answers such data with RST",
                )
            elif _challenge_ack(sender, segment, rst):
                self._not_taken(
                    sender,
                    f"it answered (frame {segment.frame}) with its ACK at {segment.ack} again, short of the RST's "
                    f"{rst.seq}: a challenge ACK (RFC 5961 3.2), the RST not at its RCV.NXT (data before it lost)",
                )

    def _syn_again_after_refusal(self, sender: Endpoint, syn: Segment) -> bool:
        """`syn`, of the ISN `sender` opened with, comes after the peer's RST refused that SYN
        and put `sender` in CLOSED: its stack did not give the connect() up on the RST (Windows
        retries; connections._Open.refused_again), it stayed in SYN_SENT. That move is taken
        back."""
        frames = sender.frames
        history = sender.history
        if (
            sender.state != _CLOSED
            or sender.isn != syn.seq
            or len(history) < 2
            or history[-2][1] != _SYN_SENT
            or not frames
            or frames[-1] is None
        ):
            return False
        refused_by = next((s.segment for s in reversed(self.steps) if s.segment.frame == frames[-1]), None)
        if (
            refused_by is None
            or not refused_by.flags & RST
            or (refused_by.src == syn.src and refused_by.sport == syn.sport)
        ):
            return False
        self._not_taken(
            sender,
            f"{SYN_SENT_AGAIN} (frame {syn.frame}, {format_duration(between(refused_by.stamp, syn.stamp))} later) and "
            + RETRIES_REFUSED,
        )
        return True

    def _data_after(self, ack: Segment) -> Segment | None:
        """The first data segment the RST's sender sent after the latest RST that moved an
        end, if `ack`, from that RST's receiver, acknowledges it."""
        first = self._data_after_reset
        if first is None or not ack.flags & ACK or seq_diff(ack.ack, first.seq) <= 0:
            return None
        return first

    def _left_after(self, arrived: float, segment: Segment, peer: Endpoint) -> bool:
        """Whether `segment` left after what the capture saw at `arrived` had reached its
        sender: it comes more than a round trip later (the longest timed, its own sample
        among them, RST_CROSSING_FLOOR at least), beyond what was in flight then."""
        longest = self.longest_round_trip
        if segment.flags & ACK and peer.unacked_since >= 0 and seq_diff(segment.ack, peer.unacked_end) >= 0:
            longest = max(longest, segment.time - peer.unacked_since)
        return segment.time - arrived > max(longest, RST_CROSSING_FLOOR)

    def _other(self, end: Endpoint) -> Endpoint:
        return self._other_end if end is self._first_end else self._first_end

    def _fin_not_taken(self, sender: Endpoint, receiver: Endpoint, segment: Segment) -> bool:
        """`segment`, from an end the peer's FIN put in CLOSE_WAIT, does not acknowledge that
        FIN though it left after the FIN reached it: a SACK block holds the FIN (it came
        beyond a hole), or it left after the FIN arrived (_left_after), when an ACK sent
        before has long passed. Something before the FIN, or the FIN itself, was lost beyond
        the capture point, or refused into a zero window (see "A FIN beyond a hole" above)."""
        fin = receiver.fin
        flags = segment.flags
        if fin is None or sender.state != _CLOSE_WAIT or flags & (SYN | RST) or not flags & ACK:
            return False
        if seq_diff(segment.ack, fin.seq_end) >= 0:
            return False
        entered = sender.history[-1][0]
        entered_stamp = self._entered_stamp(sender, -1)
        sacked = segment.sack_start != UNSEEN and seq_diff(segment.sack_start, fin.seq) <= 0 < seq_diff(
            segment.sack_end, fin.seq
        )
        if not sacked and not self._left_after(entered, segment, receiver):
            return False
        closed = sender.window == 0  # its window when the FIN came: a FIN refused, not lost
        why = (
            "selectively acknowledges it, not the data before it (some of that lost on its way to the receiver)"
            if sacked
            else f"{format_duration(between(entered_stamp, segment.stamp))} later, does not acknowledge it ("
            + ("its window was zero: the FIN refused, or " if closed else "")
            + "something before it, or the FIN itself, lost on its way to the receiver)"
        )
        said = f"the FIN of frame {fin.frame} did not reach its receiver in sequence: "
        if not any(note.startswith(said) for note in self.notes):  # once: each later ACK says the same
            self.notes.append(f"{said}its frame {segment.frame} {why}")
        return True

    def _unseen_answer(self, sender: Endpoint, segment: Segment) -> bool:
        """`segment`, an ACK from an end whose peer's segments are not in the capture (a
        capture of one direction: asymmetric routing, a one-way tap), shows an answer that
        reached it unseen: a client in SYN_SENT sends no ACK before a SYN/ACK came (it sends a
        RST for a wrong one, RFC 9293 3.10.7.3), and a server in SYN_RCVD acknowledges data
        only once the client's ACK of its SYN/ACK came. Moves it as that answer did; True if
        it did."""
        if sender.state == _SYN_SENT:
            # Past its SYN: an ACK at the SYN's own number (helper-120: MPTCP captures' ACKs at
            # the ISN, ack 0, a microsecond after the SYN) shows no SYN/ACK came.
            if sender.isn is not None and seq_diff(segment.seq, sender.isn) < 1:
                return False
            sender.move(_RECV_SYNACK, segment)
            return True
        synack = sender.last_sent
        # Data of its own, or an ACK of the client's data: past the handshake.
        if (
            sender.state == _SYN_RCVD
            and synack is not None
            and synack.flags & SYN
            and (segment.payload_len or seq_diff(segment.ack, synack.ack) > 0)
        ):
            sender.move(_RECV_ACK_OF_SYN, segment)
            return True
        return False

    def _synack_missed(self, sender: Endpoint, segment: Segment) -> bool:
        """`segment`, the first the capture holds of a server in SYN_RCVD (its SYN/ACK not
        captured: a capture that lost it), an ACK at the number the client's ACK acknowledged
        before it: the SYN/ACK left and the client's ACK of it came (helper-104: one SYN/ACK
        dropped from a capture). The server is ESTABLISHED from that ACK; True if so."""
        for step in self.steps:
            taken = step.segment
            if (
                (taken.src, taken.sport) == (segment.dst, segment.dport)
                and taken.flags & (SYN | ACK | RST) == ACK
                and taken.ack == segment.seq
                and taken.time >= sender.history[-1][0]
            ):
                sender.move(_RECV_ACK_OF_SYN, taken)
                step.receiver_after = sender.state
                return True
        return False

    def _challenge(self, sender: Endpoint, ack: Segment) -> None:
        """`ack`, the first thing `sender` sends after the peer's SYN, does not acknowledge
        it: a challenge ACK (see "Challenge ACKs" above). The SYN was not taken in."""
        self._not_taken(
            sender,
            f"answered by a challenge ACK (frame {ack.frame}, RFC 5961): a connection still open "
            "on these ports took it, not the listener",
        )

    def _no_socket(self, sender: Endpoint, rst: Segment) -> None:
        """`rst`, the first thing `sender` sends after the SYN/ACK that put it in ESTABLISHED,
        answers that SYN/ACK as a kernel answers a segment for no socket (see "No socket"
        above): the SYN/ACK found no connection, so it never made one."""
        self._not_taken(
            sender,
            f"answered by RST (frame {rst.frame}): no socket took it (a SYN scan's raw probe, "
            "or a connect() given up)",
        )

    def _orphan_ended(self, sender: Endpoint, peer: Endpoint) -> bool:
        """`sender` is about to send a RST: if it is the first thing it sends after a late
        segment of `peer` in FIN_WAIT_2 (see "Orphans" above), the FIN_WAIT_2 timer had
        ended it before that segment came: True, the machine's account mended."""
        late = peer.last_sent
        if late is None or (sender.last_sent is not None and sender.last_sent.frame > late.frame):
            return False
        history = sender.history
        took_fin = sender.state == _TIME_WAIT and sender.frames[-1] == late.frame and len(history) >= 2
        waiting_at = -2 if took_fin else -1
        waiting = history[waiting_at]
        if waiting[1] != _FIN_WAIT_2 or not orphan_timer_shown(late, late.time - waiting[0]):
            return False
        why = (
            f"found no socket: the {format_duration(between(self._entered_stamp(sender, waiting_at), late.stamp))} "
            "in FIN_WAIT_2 had outlasted the orphan "
            "timer (tcp_fin_timeout), and the RST after it says so"
        )
        if took_fin:
            self._not_taken(sender, why)
        else:
            for step in reversed(self.steps):
                if step.segment.frame == late.frame:
                    step.dropped = why
                    break
        sender.closed_unseen(late.time)
        return True

    def _ended_unseen(self, sender: Endpoint, peer: Endpoint, step: Step) -> bool:
        """`rst` (no ACK), from an end still synchronized, answers the peer's segment just
        before it at its acknowledgment number, as a kernel answers one for no connection
        (see "Connections that ended unseen" above): True, and the end is CLOSED since that
        segment's time. `step` is the RST's."""
        rst = step.segment
        late = peer.last_sent
        if (
            sender.state not in _LIVE_ANSWERS
            or late is None
            or not self.steps
            or self.steps[-1].segment is not late
            or not answers_for_no_socket(rst, late)
        ):
            return False
        found = window_probes(self.steps, rst, late) if late.payload_len else None
        if found is not None and still_probing(*found, late):
            # Its persist timer was running: a socket closed with data (and its FIN) held
            # behind the zero window answers new data so (see "Connections that ended unseen").
            self.steps[-1].dropped = (
                f"answered by the RST of frame {rst.frame}: its receiver, still probing the zero window, "
                "had been closed (data after close, its FIN held behind the data the window kept)"
            )
            return False
        self.steps[-1].dropped = (
            f"found no connection: its receiver's had ended without a packet (the RST of frame {rst.frame} "
            "answers as a kernel answers a segment for none)"
        )
        self._unseen_end = (step, self.steps[-1])
        self._unseen_move = None
        if sender.frames and sender.frames[-1] == late.frame:
            # It never took that segment in: the move it seemed to make is taken back.
            self._unseen_move = sender.history[-1]
            sender.retract()
        sender.closed_unseen(late.time)
        self.steps[-1].receiver_after = sender.state
        return True

    def _request_refused(self, sender: Endpoint, peer: Endpoint, step: Step) -> bool:
        """`rst` (no ACK, step's) answers the peer's segment just before it, the one that took
        `sender` from SYN_RCVD to ESTABLISHED, within SYNACK_SILENCE_LEAST of its SYN/ACK: the
        listener still held the request and refused the connection (see "Connections that
        ended unseen" above). True, the move taken back and the segment's step saying why."""
        rst = step.segment
        late = peer.last_sent
        synack = sender.last_sent
        if (
            late is None
            or synack is None
            or synack.flags & (SYN | ACK) != SYN | ACK
            or not request_still_held(synack, rst)
            or not self.steps
            or self.steps[-1].segment is not late
            or late.flags & (ACK | RST) != ACK
            or rst.seq != late.ack
            or not sender.frames
            or sender.frames[-1] != late.frame
            or sender.history[-2:][0][1] != _SYN_RCVD
        ):
            return False
        self._refused = (step, self.steps[-1], sender.history[-1])
        sender.retract()
        self.steps[-1].dropped = (
            f"refused by the listener, which still held the connection request: it would have made the "
            f"connection and met a full accept queue, answered with the RST of frame {rst.frame} "
            "(tcp_abort_on_overflow=1; or the listener had closed, its requests gone with it)"
        )
        self.steps[-1].receiver_after = sender.state
        return True

    def _entered_stamp(self, sender: Endpoint, index: int) -> int:
        """The stamp of the segment that made `sender`'s move `index` (of its history) at its
        time: the exact clock for a duration shown (a float epoch time is 240 ns coarse); of
        the move's time where no captured segment did."""
        frame, time = sender.frames[index], sender.history[index][0]
        if frame is not None:
            for step in reversed(self.steps):
                # Not when the move was dated by a later segment (a crossing's, see above).
                if step.segment.frame == frame and step.segment.time == time:
                    return step.segment.stamp
        return stamp_of(time)

    def _not_taken(self, sender: Endpoint, why: str) -> None:
        """The segment that moved `sender` last was not taken in after all: `sender` goes back
        to its state before, and that segment's step says why."""
        frame = sender.frames[-1]
        sender.retract()
        for step in reversed(self.steps):
            if step.segment.frame == frame:
                step.receiver_after = sender.state
                step.dropped = why
                break

    def _after_own_reset(self, sender: Endpoint, rst: Segment) -> None:
        """`rst` (no ACK), from an end its own RST closed, answers the peer's last segment at its
        acknowledgment number, as a kernel answers a segment for no connection (see "After an
        abort" above): that segment came in after the abort, though captured before the abort's
        RST, and never moved the end. Its move, the one before that RST's, is taken back."""
        frames = sender.frames
        answered = next(
            (s for s in reversed(self.steps) if s.segment.src != rst.src or s.segment.sport != rst.sport),
            None,
        )
        if (
            answered is None
            or answered.lost
            or answered.segment.flags & SYN
            or not answers_for_no_socket(rst, answered.segment)
            or len(frames) < 3
            or frames[-2] != answered.segment.frame
        ):
            return
        own = next((s for s in reversed(self.steps) if s.segment.frame == frames[-1]), None)
        if own is None or not own.segment.flags & RST:
            return
        del sender.history[-2]
        del frames[-2]
        before = sender.history[-2][1]
        answered.receiver_after = answered.receiver_before
        answered.dropped = (
            f"came in after the connection was reset (frame {own.segment.frame}, captured later): answered "
            f"by RST at its acknowledgment number (frame {rst.frame}), as for no connection"
        )
        own.sender_before = before

    def _listened(self, sender: Endpoint, synack: Segment) -> None:
        """`sender`, which the capture held CLOSED, sends a SYN/ACK: a listener had taken a SYN
        in (see "Where a capture starts" above). A RST it seemed to send before did not come
        from that socket (injected, or a stale one): it is taken back."""
        if len(sender.frames) > 1 and sender.frames[-1] is not None:
            rst_frame = sender.frames[-1]
            for step in reversed(self.steps):
                rst = step.segment
                if rst.frame == rst_frame and rst.flags & RST:
                    if rst.src == synack.src and rst.sport == synack.sport:
                        sender.retract()
                        step.sender_after = sender.state
                    elif self._one_request(sender, synack):
                        # The peer's RST, and its own SYN/ACK sent again after it: the RST
                        # never reached that socket.
                        self._not_taken(
                            sender,
                            f"its SYN/ACK sent again after it (frame {synack.frame}): it never took it in",
                        )
                    # else the peer's RST, which it took: a listener on its port answers after
                    # it, another SYN's request (helper-126's tfo10, frame 52: two ISNs).
                    break
        if sender.state == _CLOSED and len(sender.history) == 1 and not self._refused_before(synack):
            sender.state = _LISTEN
            sender.history[0] = (sender.history[0][0], _LISTEN)
            self.start_note += f"; the SYN/ACK (frame {synack.frame}) shows a listener took the SYN"
        elif sender.state == _CLOSED:
            # Closed by what the capture showed (a RST it took, or one it refused a SYN with:
            # nothing listened then), listening by a call no packet shows: a listen() like
            # the TIMEOUT of the call log, with no frame. The SYN this answers, sent again
            # after the refusal, found that listener: SYN_RCVD from its arrival, not from the
            # answer's.
            taken = self._syn_taken_by(synack)
            at = synack if taken is None else taken.segment
            sender.state = _LISTEN
            sender.history.append((at.time, _LISTEN))
            sender.frames.append(None)
            if taken is not None:
                sender.move(_RECV_SYN, taken.segment)
                taken.receiver_before = _LISTEN
                taken.receiver_after = sender.state

    def _one_request(self, sender: Endpoint, synack: Segment) -> bool:
        """Whether every SYN/ACK `sender` sent, `synack` too, carries one ISN: one request's,
        sent again. Two ISNs are two requests (a listener answering SYNs on one 4-tuple), and
        which one the connection became the numbers alone do not say here."""
        return all(
            step.segment.seq == synack.seq
            for step in self.steps
            if step.segment.flags & (SYN | ACK) == SYN | ACK
            and step.segment.src == synack.src
            and step.segment.sport == synack.sport
        )

    def _syn_taken_by(self, synack: Segment) -> Step | None:
        """The step of the peer's SYN that `synack` answers, sent after the sender's last RST
        and left with its receiver CLOSED; None when the capture shows no such SYN."""
        for step in reversed(self.steps):
            segment = step.segment
            if segment.frame == synack.frame:
                continue
            if segment.src == synack.src and segment.sport == synack.sport:
                if segment.flags & RST:
                    return None
                continue
            if (
                segment.flags & (SYN | ACK | RST) == SYN
                and step.receiver_after == _CLOSED
                and seq_diff(synack.ack, segment.seq) == 1 + segment.payload_len
            ):
                return step
        return None

    def _refused_before(self, synack: Segment) -> bool:
        """Whether the SYN/ACK's sender sent a RST that the peer's SYN sent again followed: it
        refused that SYN (nothing listened) and listened only by the time of the one it
        answers. A RST with no SYN after it may have been another's (an injector's) and proves
        nothing."""
        reset = False
        for step in self.steps:
            segment = step.segment
            if segment.flags & RST and segment.src == synack.src and segment.sport == synack.sport:
                reset = True
            elif reset and segment.flags & (SYN | ACK) == SYN:
                return True
        return False

    @staticmethod
    def _send(sender: Endpoint, segment: Segment) -> None:
        flags = segment.flags
        if flags & RST:
            sender.move(_SEND_RST, segment)
        elif flags & (SYN | ACK) == SYN:
            sender.move(_SEND_SYN, segment)
        elif flags & SYN:
            sender.move(_SEND_SYNACK, segment)
        if flags & FIN and not flags & RST:
            sender.move(_SEND_FIN, segment)
        sender.sent(segment)

    @staticmethod
    def _receive(
        receiver: Endpoint, sender: Endpoint, segment: Segment, expected: int, take_fin: bool = True
    ) -> str | None:
        """take_fin: False for a FIN beyond a hole, which waits (Endpoint.fin_waiting)."""
        flags = segment.flags
        if flags & RST:
            problem = _unacceptable_rst(receiver, sender, segment, expected)
            if problem:
                return problem
            receiver.move(_RECV_RST, segment)
            return None
        if flags & ACK and not flags & SYN and receiver.state == _SYN_SENT:
            # RFC 9293 3.10.7.3: an unacceptable ACK is answered with RST, an acceptable one
            # without SYN dropped; either way the end stays in SYN_SENT.
            if not receiver.acknowledges_syn(segment.ack):
                return "an ACK in SYN_SENT that does not acknowledge the SYN (answered with RST, RFC 9293 3.10.7.3)"
            return "an ACK without SYN in SYN_SENT (dropped, RFC 9293 3.10.7.3)"
        if (
            flags & ACK
            and receiver.state != _SYN_SENT  # a SYN/ACK's unacceptable ACK: answered below
            and receiver.snd_max != UNSEEN
            and seq_diff(segment.ack, receiver.snd_max) > 0
        ):
            if not after_a_gap(segment, expected, receiver.snd_max) and not _keep_alive_answered(
                receiver, segment
            ):
                return NEVER_SENT
            # The capture lost packets, the receiver's it acknowledges among them.
            receiver.snd_max = segment.ack
        if flags & (SYN | ACK) == SYN:
            receiver.move(_RECV_SYN, segment)
        elif flags & SYN:
            # It must acknowledge the SYN, and may acknowledge data the SYN carried (Fast Open).
            if receiver.acknowledges_syn(segment.ack):
                receiver.move(_RECV_SYNACK, segment)
            else:
                return "SYN/ACK does not acknowledge the receiver's SYN"
        elif (
            flags & ACK
            and receiver.state == _SYN_RCVD
            and receiver.isn is not None
            and seq_diff(segment.ack, receiver.isn) > 0
        ):
            receiver.move(_RECV_ACK_OF_SYN, segment)
        if flags & ACK and receiver.fin_acknowledged_by(segment.ack):
            receiver.move(_RECV_ACK_OF_FIN, segment)
        if flags & FIN and take_fin:
            receiver.fin_waiting = None
            receiver.move(_RECV_FIN, segment)
        return None


def _fins_crossed(sender: Endpoint, receiver: Endpoint, segment: Segment) -> bool:
    """Simultaneous close seen from the middle: a FIN from an end the capture order put in
    CLOSE_WAIT that does not acknowledge the peer's FIN was sent before that FIN arrived."""
    if not segment.flags & FIN or sender.state != _CLOSE_WAIT or receiver.fin is None:
        return False
    if sender.history[-1][1] != _CLOSE_WAIT:
        return False
    return not segment.flags & ACK or seq_diff(segment.ack, receiver.fin.seq_end) < 0


def _answers_synack_without_socket(sender: Endpoint, rst: Segment) -> bool:
    """Whether `rst` is `sender`'s first segment since a SYN/ACK put it in ESTABLISHED, at
    that SYN/ACK's acknowledgment number: <SEQ=SEG.ACK><CTL=RST>, a kernel's answer for no
    socket (RFC 9293 3.10.7.1). A socket that took the SYN/ACK would have acknowledged it."""
    if len(sender.history) < 2 or sender.history[-2][1] != _SYN_SENT:
        return False
    entered = sender.frames[-1]
    if entered is None or (sender.last_sent is not None and sender.last_sent.frame > entered):
        return False
    return sender.snd_max != UNSEEN and rst.seq == sender.snd_max


def _answers_unacceptable_ack(sender: Endpoint, receiver: Endpoint, rst: Segment) -> bool:
    """A RST from an end in SYN_SENT that answers the peer's latest segment, which carried
    an ACK not acknowledging the end's SYN: <SEQ=SEG.ACK><CTL=RST> (RFC 9293 3.10.7.3).
    The end stays in SYN_SENT. Its answer: nothing of its own between the two."""
    answered = receiver.last_sent
    if answered is None or sender.isn is None:
        return False
    if not answered.flags & ACK or answered.flags & RST or rst.seq != answered.ack:
        return False
    if sender.last_sent is not None and sender.last_sent.frame > answered.frame:
        return False
    return not sender.acknowledges_syn(answered.ack)


# No window reaches further past what its receiver acknowledged (65,535 << 14).
_ANY_WINDOW: Final = 1 << 30
# How many of an end's latest acknowledgment numbers a RST without ACK may answer (Endpoint.
# recent_acks): a socket's backlog holds a few segments at most when it is aborted.
RECENT_ACKS: Final = 4
# How soon after its sender's own RST such an answer comes: the socket's backlog is taken as
# soon as its owner lets go of it, milliseconds.
ABORT_BACKLOG: Final = 0.2


def _at_latest_ack(receiver: Endpoint, rst: Segment) -> bool:
    """Whether `rst` is at the number its receiver last acknowledged: the receiver's RCV.NXT
    when it sent that. Below an ACK of the receiver's before only where its numbers jump
    (nmap's OS probes, each at a random ACK, each answered so by a port with no connection)."""
    latest = receiver.last_sent
    return latest is not None and bool(latest.flags & ACK) and rst.seq == latest.ack


def _keep_alive_answered(receiver: Endpoint, ack: Segment) -> bool:
    """`ack` is one past all `receiver` was seen sending, and its latest segment was empty, at
    that number, with no SYN of its in the capture: a keep-alive, which Linux sends at SND.NXT-1
    without data, and its answer at SND.NXT; a capture begun on an idle connection shows no
    number beyond it."""
    sent = receiver.last_sent
    return (
        receiver.isn is None
        and sent is not None
        and not sent.payload_len
        and not sent.flags & (SYN | FIN | RST)
        and sent.seq == receiver.snd_max
        and seq_diff(ack.ack, receiver.snd_max) == 1
    )


def _challenge_ack(sender: Endpoint, segment: Segment, rst: Segment) -> bool:
    """`segment`, from the end `rst` seemed to close, repeats that end's latest acknowledgment,
    short of the RST's number, with nothing new: the challenge ACK a RST not at RCV.NXT draws
    (RFC 5961 3.2: Linux, the BSDs, Windows). An ACK that crossed the RST would acknowledge what
    had come since (a duplicate ACK needs data out of order, which a RST at the end of the data
    does not leave behind it)."""
    before = sender.most_acked
    return before is not None and before is not segment and repeats_acknowledgment(segment, before.ack, rst)


def repeats_acknowledgment(segment: Segment, acknowledged: int, rst: Segment) -> bool:
    """Whether `segment` is a bare ACK at `acknowledged`, its sender's acknowledgment before
    `rst`, short of the RST's number: the challenge ACK a RST not at RCV.NXT draws (what
    _challenge_ack and the diagram's captions read)."""
    return (
        segment.flags & (SYN | ACK | RST | FIN) == ACK
        and not segment.payload_len
        and segment.ack == acknowledged
        and seq_diff(segment.ack, rst.seq) < 0
    )


def _made_nearer(sender: Endpoint, rst: Segment) -> str:
    """What shows `rst` was made nearer the capture point than `sender` (see "RSTs made
    nearer" above), "" if nothing does."""
    why = nearer_by(rst, sender.highest_ttl, (sender.ingress, sender.also_on))
    if why == "ttl":
        return f"its TTL {rst.ttl} is above every other packet's of its sender (at most {sender.highest_ttl})"
    if why == "interface":
        return "it was captured on an interface none of its sender's other packets came in on"
    return ""


def _off_acknowledged(receiver: Endpoint, sender: Endpoint, rst: Segment) -> int:
    """How far `rst` lies from what its receiver has acknowledged, where no TCP puts its RST:
    more than one below (negative); past any window (positive); or past all its sender was
    seen to send and past the widest window the receiver offered (and a FIN's number), which
    the sender's data cannot have passed (positive: the receiver's ACKs may go uncaptured,
    the data they answered is seen); 0 where a TCP may."""
    acked = receiver.most_acked
    if acked is None or not acked.flags & ACK or _at_latest_ack(receiver, rst):
        return 0
    aborted = sender.last_sent
    if (
        not rst.flags & ACK
        and rst.seq in receiver.recent_acks
        and aborted is not None
        and aborted.flags & RST
        and rst.time - aborted.time <= ABORT_BACKLOG
    ):
        # Right after its sender's own RST, the answer, for no socket, to one of its receiver's
        # latest segments, taken late: the aborted socket gone, the segment still in its
        # backlog (helper-119: SO_LINGER 0 under load, a delayed ACK 36 ms old answered as
        # "injected ... a reset attack").
        return 0
    distance = seq_diff(rst.seq, acked.ack)
    if distance < -1 or distance > _ANY_WINDOW:
        return distance
    beyond_sent = sender.snd_max != UNSEEN and seq_diff(rst.seq, sender.snd_max) > 0
    return distance if beyond_sent and distance > receiver.widest_bytes(sender) + 1 else 0


def _unacceptable_rst(receiver: Endpoint, sender: Endpoint, segment: Segment, expected: int) -> str | None:
    """RFC 9293 3.10.7: in SYN_SENT a RST counts only if it acknowledges the SYN.
    Elsewhere RFC 5961 3.2, as Linux, the BSDs and Windows have it: only a RST at the
    receiver's RCV.NXT exactly resets it; one elsewhere in its window is answered by a
    challenge ACK, one outside it dropped. The capture does not show RCV.NXT, but bounds
    it: at least what the receiver has acknowledged, at most what the RST's sender has
    sent (`expected`). A RST between the two may be exact and is taken; one past all its
    sender sent is not its own sequence number (a RST carries its sender's SND.NXT), so
    not the receiver's next. The window is scaled as both SYNs agreed, or, where they are
    not seen, taken at its largest scale (14), to tell a challenged RST from one far outside."""
    if receiver.state == _SYN_SENT:
        if not segment.flags & ACK or receiver.isn is None:
            return "RST in SYN_SENT without an ACK of the SYN"
        # SND.UNA < ack <= SND.NXT: a SYN's data counts (Linux's tcp_rcv_synsent_state_process).
        if not receiver.acknowledges_syn(segment.ack):
            return "RST in SYN_SENT does not acknowledge the SYN"
        return None
    window = receiver.window_bytes(sender)
    if expected == UNSEEN or window is None:
        return None
    if _at_latest_ack(receiver, segment):
        return None
    acked = receiver.most_acked
    lowest = acked.ack if acked is not None and acked.flags & ACK else expected
    if seq_diff(lowest, expected) > 0:
        expected = lowest  # the receiver acknowledged more than the capture shows sent
    if receiver.state in _PEER_FIN_TAKEN:
        # Linux takes a RST one below RCV.NXT once the peer's FIN is in (tcp_reset_check):
        # a peer that sent its FIN and then aborts resets at the FIN's own number.
        lowest = (lowest - 1) % MOD
    below = seq_diff(segment.seq, lowest)
    if below < 0:
        return f"RST sequence number is {-below} bytes below what the receiver has acknowledged (outside its window)"
    past = seq_diff(segment.seq, expected)
    if past > max(window, 1):
        return f"RST sequence number is {past} bytes past the receiver's window"
    if past > 0:
        return (
            f"RST sequence number is in the receiver's window but {past} bytes past all its sender had sent, "
            f"so not the receiver's next expected number: {CHALLENGED}"
        )
    return None
