"""Findings: what a connection's segments prove, each with its evidence and one sentence.

One module per question: handshake, backoff, close, resets, retransmissions (Wireshark's
rules), resends (which segments are copies of earlier ones), zeek_conn and compatibility
(other tools' verdicts), kernel_agreement (the states against the sidecar's snapshots)
and kernel_events (the analysis against the kernel's own events, by the same result),
application (the call log beside the packets). Each takes the connection, its segments
or the state machine's steps, and what it is compared with (a sidecar's calls or
snapshots), never a file. One module looks across connections: scans (a file's scans and
floods, from its connections' findings, counted as they come).
"""
