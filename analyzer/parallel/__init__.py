"""Analyzing with more than one process: several files at once, one big file in shares, and
files on a Dask cluster. Every way gives the bytes one process gives (but past 16,384
connections given up as idle and not yet continued, which are forgotten first depends on
when each process looked: connections.IDLE_REMEMBERED).

Theory of operation
-------------------
`handshake analyze` hands its files and an AnalyzeOptions (options) to reports.write_reports.

Several files: a pool of `jobs` processes analyzes one file each, whole, into a temporary
file (reports.render_to_file); the parent copies the reports out in the order given. A
file that cannot be read is one line on stderr and the others still count.

One file: one_file.render_file writes its report straight to the output, once the file has
been read. The JSON document or the text report of a big file (16 MB and more, the built-in
decoder, no sidecar, all connections) is made by `jobs` share processes instead (in_shares,
share_process):

- The partition (partition.Share): share i of n keeps the connections whose sum of ports
  and addresses is i modulo n. A connection's segments, and the later connections that
  reuse its 4-tuple, all have the same sum, so each connection, and each chain of port
  reuse, lies in one share.
  The decoder passes over the other shares' TCP segments once their headers are checked.
- Every share reads every frame, so its decode statistics, warnings and UDP flows are the
  whole file's; share 0 sends the document's head and UDP flows. Each share counts its own
  connections' probes (findings/scans.py) and sends its tables; the parent adds them up
  into the file's scans and floods, which go into the head.
- A share numbers its connections among themselves, in the order of their first frames,
  as one process numbers all of them. It encodes each connection's line and spools it,
  and notes (placement.ShareLines) a small index for the parent (placement.ShareIndex:
  the line's first frame, its length less the ids it holds, and the share's id of the
  connection whose ports it reuses) and, for itself, where its id and its reused-ports
  id are written (the encoder tells, whatever the order of the keys:
  json_report.encoded_marking).
- The parent merges the shares' first frames: the file's id of every connection
  (placement.file_ids) and the byte offset of every line in the document once renumbered
  (placement.positions: the number of digits changes, nothing else).
- The text report: each share holds its connections' blocks (text_report.TextReport) and
  counts their outcomes; told the file's scans, it tallies what its connections add to the
  overview (how many are folded into each scan, its first interesting ones) and which of
  its blocks are printed. The parent adds the tallies up, writes the head and overview, and
  places the printed blocks as it places the JSON lines (a block's only id is its own).
- Each share writes the file's ids into its lines and the lines where they go: into the
  output at their offsets, all shares at once, when it is a file (pwrite); else (a pipe,
  a terminal, a file opened to append) into a pipe of its own, which the parent copies
  to the output in the document's order. The lines never pass through a process that
  only passes them on.

Many files beyond one machine: on_dask maps one_file.render_file (through report_of) over
a Dask bag, one partition a file.

The protocol of one file in shares
----------------------------------
Messages go over each share's multiprocessing Pipe (pickled; types in messages), lines over
a pipe of their own. In the order they are sent:

  sender  receiver  message       fields                                when
  ------  --------  ------------  ------------------------------------  --------------------------------
  parent  share     (the fork)    path, Share(i, n), form (ShareForm:   at the start, Ctrl-C and SIGTERM
                                  JSON or text), progress (share 0      blocked until the share has its
                                  only), its Pipe end, its line pipe's  handlers (interrupts.STOP_SIGNALS)
                                  write end, the read ends to close
  share   parent    ShareReport   head, udp (share 0; else empty),      the file read to its end, the
                                  warnings, error, index (ShareIndex),  share's lines spooled; with error
                                  scans (ScanDetector: its tables),     (the file cannot be read) nothing
                                  text (TextCounts: outcomes counted,   follows
                                  share 0's head; None for JSON)
  parent  share     ScanKeys      the file's scans' keys, in order      the text report: every ShareReport
                                                                        in, none with an error
  share   parent    ShareTally    tally (text_report.TextTally),        answering ScanKeys
                                  lengths (each printed block's)
  share   parent    OSError       the exception itself                  instead of ShareReport or Written:
                                                                        what the system refused (a full disk
                                                                        under the spool, the output's size
                                                                        limit); nothing follows; the parent
                                                                        raises it
  parent  share     Placement     ids (the file's id of each of the     every ShareReport (and ShareTally)
                                  share's connections), where (each     in, none with an error
                                  file id's offset, one more: the
                                  end), output (descriptor or None)
  share   output    lines         separator + renumbered line, at       output is a descriptor: pwrite, in
                                  where[file id]                        the order the spool holds them
  share   parent    lines         separator + renumbered line           output is None: through its line
                                                                        pipe in file id order; the parent
                                                                        reads where[id + 1] - where[id]
                                                                        bytes from the owner's pipe, id by id
  share   parent    Written       (none)                                its lines all written
  parent  share     SIGTERM       (signal)                              the report will not be made (an
                                                                        error, Ctrl-C, SIGTERM): the share
                                                                        ends where it is, leaving nothing

The parent writes the document's opening before the lines (at the output's offset, or
first into it) and its closing after every Written; it then waits for the shares to end.

This package's __init__ imports nothing: the decoder imports partition from it.
"""
