"""`handshake analyze --format jsonl`: one JSON object a line, each connection's written as
soon as the connection is over, so that a reader (`| jq`) has the first lines while the file
is still being read, and nothing of the file is held but the connections still in flight.

Lines, in the order they are written, each naming its file:

  {"type": "connection", "file": F, ...}  one a connection, in the order the connections end
                                          (not id order); the members after "file" are the
                                          --json document's connection object, the same values
  {"type": "udp", "file": F, ...}         one a UDP flow, once the file has been read; the
                                          members after "file" are the document's "udp" objects
  {"type": "file", ...}                   last: the document's head (schema_version, file,
                                          format, packets, tcp_packets, warnings, application,
                                          scans, only) and "connection_count" (the file's
                                          connections: with --only, more than its lines) and
                                          "udp_flow_count"

A file that cannot be read at all writes no line; one that fails part way (a damaged block
the reader cannot pass) keeps the connection lines already written and has no "file" line:
the "file" line is the sign that a file's lines are all there.
"""

from __future__ import annotations

from typing import Final, TextIO

import msgspec

from analyzer.analysis import FileStream
from analyzer.output.json_report import (
    connection_to_dict,
    document_head,
    file_entry,
    relative_origin,
    udp_flow_to_dict,
)
from analyzer.output.only import shown

_ENCODER: Final = msgspec.json.Encoder()


def write_lines(stream: FileStream, out: TextIO, flush: bool = False, only: list[str] | None = None) -> None:
    """Every line of one file (see the module docstring), each connection's as the stream
    yields it: nothing is sorted or kept. `flush`: push each connection's line out at once
    (into a pipe or a terminal, where a reader waits for it). `only`: a line for just the
    connections of these kinds (output/only.py)."""
    file = stream.file
    count = 0
    for result in stream.results:
        count += 1
        if only is not None and not shown(result, only):
            continue
        out.write(
            _line(
                {
                    "type": "connection",
                    "file": file,
                    **connection_to_dict(result, relative_origin(stream.stats), file),
                }
            )
        )
        if flush:
            out.flush()
    udp = stream.udp()
    for flow in udp if only is None else ():  # --only chooses among the TCP connections
        out.write(_line({"type": "udp", **udp_flow_to_dict(flow, file)}))
    scans = stream.scans.findings()
    head = document_head(
        file, stream.stats, stream.application(udp), scans, only, stream.links.findings(scans)
    )
    out.write(_line({"type": "file", **file_entry(head, count, len(udp))}))


def _line(value: dict) -> str:
    return _ENCODER.encode(value).decode() + "\n"
