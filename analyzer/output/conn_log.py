"""`handshake analyze --format conn`: a Zeek conn.log (ASCII, tab-separated) of a file's
connections, for the tools that read Zeek's logs (zeek-cut, pandas, Spark, a SIEM).

Zeek's header lines come first (#separator \\x09, #set_separator, #empty_field, #unset_field,
#path conn, #fields, #types; no #open or #close, whose wall-clock times would make two runs
differ), then a row a TCP connection in id order, then a row a UDP flow. With several files,
each file's log follows the one before, header and all, as concatenated Zeek logs do (zeek-cut
reads them so); a uid is unique within its file's log.

Zeek's columns, filled where the analysis knows what Zeek would write, `-` (Zeek's unset)
where it does not:

  ts             time of the connection's first packet (6 decimals, as Zeek)
  uid            C<id> for a TCP connection (its id in the text and JSON reports), CU<id> for
                 a UDP flow: stable from run to run, unlike Zeek's random ones
  id.orig_h/_p   Zeek's originator: the sender of the first packet, or its receiver where
  id.resp_h/_p   Zeek flips the roles (by its likely server ports, after a SYN/ACK seen
                 first, on a SYN seen after its SYN/ACK: findings/zeek_conn.py). It can
                 differ from our client (client_basis says how ours was chosen); for UDP the
                 first sender, flipped too when it sent from a likely server port
  proto          tcp or udp
  service        - (no application protocol is recognized)
  duration       Zeek's: to the last packet before both sides had closed (FIN or RST), so the
                 ACK of the last FIN does not count; for UDP to the last datagram. `-`, with
                 orig_bytes and resp_bytes, when it is 0 (one packet), as Zeek leaves them
  orig_bytes     payload bytes each side sent, as Zeek counts them for TCP: from sequence
  resp_bytes     numbers (retransmissions once, bytes missing from the capture included);
                 for UDP the sum of the payloads
  conn_state     Zeek's (REJ, S0, SF, RSTO, ...): the JSON's compatibility.zeek.conn_state
  local_orig     - (Zeek sets them only for configured local networks)
  local_resp     -
  missed_bytes   - (not measured)
  history        Zeek's: the JSON's compatibility.zeek.history (- when empty, as Zeek)
  orig_pkts      packets each side sent (TCP segments; UDP datagrams)
  orig_ip_bytes  - (IP lengths are not kept)
  resp_pkts
  resp_ip_bytes  -
  tunnel_parents - (tunnels are not followed)
  ip_proto       6 or 17

Then ours:

  client_basis   how our client was chosen: first_syn_sender, first_synack_receiver,
                 refusal_receiver, port_heuristic, first_sender_reset, first_sender_alone, first_sender
                 (UDP: first_sender)
  handshake      complete, refused, unreachable, no_answer, incomplete, not_seen (UDP: -)
  close_shape    how the connection ended (the JSON's close.ending, what the text and the
                 summary tell): four-way, three-segment, simultaneous, half-close, one-fin,
                 fin-then-reset (also both FINs ended by a RST before the close completed),
                 reset, none (UDP: -)
  rst_cause      each RST's cause in order, comma-separated (refused, accept_queue_overflow,
                 after_close, data_after_close, no_connection, abort, linger_abort,
                 unread_data, listener_closed, ...: analyzer/findings/resets.py); - when
                 there was none
  syn_count      SYNs from the client (the first and every resend; UDP: -)
  synack_count   SYN/ACKs from the server (UDP: -)
  expired        the timer that gave the connection up (attempt, partial_close, idle), - if
                 none did (UDP: -)

The ICMP port-unreachable messages that refuse a UDP flow are not rows of their own (Zeek
logs them as icmp connections).
"""

from __future__ import annotations

from typing import Final, TextIO

from analyzer.analysis import ConnectionAnalysis, FileStream, ZeekConn
from analyzer.output.only import shown
from analyzer.output.spool import IdOrderedSpool
from analyzer.udp_flows import UdpFlow

UNSET: Final = "-"
COLUMNS: Final = (
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("ip_proto", "count"),
    ("client_basis", "string"),
    ("handshake", "string"),
    ("close_shape", "string"),
    ("rst_cause", "vector[string]"),
    ("syn_count", "count"),
    ("synack_count", "count"),
    ("expired", "string"),
)
HEADER: Final = (
    "#separator \\x09\n"
    "#set_separator\t,\n"
    "#empty_field\t(empty)\n"
    f"#unset_field\t{UNSET}\n"
    "#path\tconn\n"
    "#fields\t" + "\t".join(name for name, _type in COLUMNS) + "\n"
    "#types\t" + "\t".join(kind for _name, kind in COLUMNS) + "\n"
)


def write_conn_log(stream: FileStream, out: TextIO, only: list[str] | None = None) -> None:
    """The file's conn.log: rows spooled as the connections end, written in id order once the
    file has been read (nothing is written for a file that cannot be read). `only`: rows for
    just the TCP connections of these kinds (output/only.py), none for the UDP flows."""
    spool = IdOrderedSpool()
    try:
        for result in stream.results:
            if only is not None and not shown(result, only):
                continue
            spool.add(result.connection.id, connection_row(result).encode())
        udp = stream.udp()
        out.write(HEADER)
        for row in spool:
            out.write(row)
        for flow in udp if only is None else ():  # --only chooses among the TCP connections
            out.write(udp_row(flow))
    finally:
        spool.close()


def connection_row(result: ConnectionAnalysis) -> str:
    """One TCP connection's row (with its newline)."""
    connection, handshake = result.connection, result.handshake
    zeek = result.compatibility.zeek
    causes = ",".join(reset.cause for reset in result.resets)
    return _row(
        f"C{connection.id}",
        "tcp",
        connection.first_time,
        zeek,
        6,
        [
            connection.client_basis,
            handshake.status,
            result.close.ending,
            causes or UNSET,
            str(len(handshake.syns)),
            str(len(handshake.synacks)),
            connection.expired or UNSET,
        ],
    )


def udp_row(flow: UdpFlow) -> str:
    """One UDP flow's row (with its newline)."""
    zeek = flow.zeek
    assert zeek is not None, "a flow from group_udp_flows has its Zeek view"
    first = flow.datagrams[0].time if flow.datagrams else 0.0
    return _row(
        f"CU{flow.id}",
        "udp",
        first,
        zeek,
        17,
        ["first_sender", UNSET, UNSET, UNSET, UNSET, UNSET, UNSET],
    )


def _row(
    uid: str,
    proto: str,
    ts: float,
    zeek: ZeekConn,
    ip_proto: int,
    ours: list[str],
) -> str:
    orig, resp, duration = zeek.orig, zeek.resp, zeek.duration
    # Zeek logs duration and the byte counts only for a connection that lasted (conn/main.zeek).
    lasted = duration > 0
    fields = [
        f"{ts:.6f}",
        uid,
        orig[0],
        str(orig[1]),
        resp[0],
        str(resp[1]),
        proto,
        UNSET,  # service
        f"{duration:.6f}" if lasted else UNSET,
        str(zeek.orig_bytes) if lasted else UNSET,
        str(zeek.resp_bytes) if lasted else UNSET,
        zeek.conn_state,
        UNSET,  # local_orig
        UNSET,  # local_resp
        UNSET,  # missed_bytes
        zeek.history or UNSET,
        str(zeek.orig_pkts),
        UNSET,  # orig_ip_bytes
        str(zeek.resp_pkts),
        UNSET,  # resp_ip_bytes
        UNSET,  # tunnel_parents
        str(ip_proto),
        *ours,
    ]
    return "\t".join(fields) + "\n"
