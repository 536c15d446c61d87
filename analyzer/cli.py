"""`handshake` command line: analyze, diagram, capture, scenarios, expected.

Every error a user can cause ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import analyzer
from analyzer import native
from analyzer.connections import Timeouts
from analyzer.errors import UserError
from analyzer.files import STDIN, cannot_write, display_name, is_regular_file
from analyzer.interrupts import EXIT_INTERRUPTED, import_uninterrupted, raise_interrupt, stop_signals_held
from analyzer.output import DRAWING_MODULES
from analyzer.output.only import ONLY_KINDS, parse_only
from analyzer.parallel.options import FORMATS, SUMMARY_FORMATS
from analyzer.sidecar import sidecar_beside

if TYPE_CHECKING:
    from analyzer.analysis import Analysis, ConnectionAnalysis
    from analyzer.decode.reader import DecodeStats
    from analyzer.long_connection import KeptRange
    from analyzer.sidecar import Sidecar
    from analyzer.timefmt import Clock

EXIT_USAGE = 2
EXIT_FAILED = 1  # the input was fine, the system was not

# What a command imports, imported before it runs with Ctrl-C and SIGTERM held: an interrupt
# raised inside an import can be lost (analyzer.interrupts.import_uninterrupted). Once it
# runs, a command loads no module with them unheld (tests/test_interrupts.py).
_ANALYZES = (
    "msgspec",
    "analyzer.analysis",
    "analyzer.parallel.reports",
    "analyzer.output.conn_log",
    "analyzer.output.json_report",
    "analyzer.output.jsonl_report",
    "analyzer.output.summary",
    "analyzer.output.text_report",
    # --jobs: the pool that takes several files, and the processes of a big one's shares
    "concurrent.futures.process",
    "multiprocessing.popen_fork",
    "multiprocessing.synchronize",
)
_DRAWS = (*_ANALYZES, *DRAWING_MODULES, "analyzer.output.mermaid")
# A capture loads what draws only once it is known to have the privileges it needs (a user
# without them hears of those, not of matplotlib's missing config folder): capture/run.py.
_CAPTURES = (
    *_ANALYZES,
    "analyzer.capture.run",
    "analyzer.scenarios",
    "analyzer.output.mermaid",
    "concurrent.futures.thread",  # capture all: a few captures at once
)
# --decoder tshark: pyshark and what it loads as it starts tshark and reads its XML
_TSHARK = ("analyzer.decode.tshark_reader", "pyshark", "asyncio", "lxml.etree", "lxml.objectify")
_MODULES = {
    "analyze": _ANALYZES,
    "capture": _CAPTURES,
    "run": _CAPTURES,
    "gallery": (*_DRAWS, "analyzer.output.gallery"),
    "scenarios": ("analyzer.scenarios",),
    "corpus": (*_ANALYZES, "analyzer.corpus_comparison"),
    "expected": (*_ANALYZES, "analyzer.capture.store"),
}


def _add_decoder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decoder",
        choices=("fast", "tshark"),
        default="fast",
        help="fast: the built-in streaming reader (default); tshark: Wireshark's dissectors via pyshark "
        "(tunnels such as GRE/ERSPAN, other link types; much slower)",
    )


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyze pcap/pcapng files")
    p.add_argument("files", nargs="+", metavar="FILE", help=_FILE_HELP + " (once)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--format", choices=FORMATS, default=None,
                      help="text: the report for people (default); json: one JSON document (stable schema); "
                      "jsonl: a JSON line per connection as soon as it ends, then its file's UDP flows and "
                      "a last line for the file; conn: a Zeek conn.log (tab-separated)")  # fmt: skip
    form.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--summary", action="store_true",
                   help="counts by outcome, the slowest handshakes and the busiest sources instead of "
                   "each connection (--format text or json)")  # fmt: skip
    p.add_argument("--only", action="append", type=_only, default=None, metavar="KIND[,KIND]",
                   help="show just the connections of these kinds: " + ", ".join(ONLY_KINDS)
                   + " (repeatable or comma-separated; a connection of any of them is shown; the "
                   "file's counts and scans still cover all); any format but --summary")  # fmt: skip
    p.add_argument("--all", action="store_true", dest="show_all",
                   help="in the text report, show the connections of each scan or flood one by one "
                   "too (by default they are folded into it)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress line on the terminal")
    p.add_argument("--jobs", type=_positive, default=None, metavar="N",
                   help="analyze up to N files at once in separate processes (one merged output); "
                   "one big file's report (text or JSON) is made by N processes, each analyzing a share "
                   "of its connections (default: the CPUs this process may run on, at most 8; 1: one process)")  # fmt: skip
    p.add_argument(
        "--no-sidecar",
        action="store_true",
        help="ignore FILE's sidecar (FILE.sidecar.json): no comparison with the kernel's socket states",
    )
    _add_decoder(p)
    _add_timeouts(p)
    p.set_defaults(run=cmd_analyze)


def _add_timeouts(parser: argparse.ArgumentParser) -> None:
    """When an open connection is given up (connections.Timeouts: Zeek's timers)."""
    default = Timeouts()
    group = parser.add_argument_group(
        "expiry", "an open connection idle this long is given up; a later segment starts a new connection"
    )
    group.add_argument("--attempt-timeout", type=_seconds, default=default.attempt, metavar="S",
                       help="an attempt (only SYNs and SYN/ACKs), or 3 times its last SYN's backoff "
                       f"if longer (default {default.attempt:g})")  # fmt: skip
    group.add_argument("--partial-close-timeout", type=_seconds, default=default.partial_close, metavar="S",
                       help=f"one end closed, the other never seen or first seen closing (default {default.partial_close:g})")  # fmt: skip
    group.add_argument("--idle-timeout", type=_seconds, default=default.idle, metavar="S",
                       help=f"any other open connection (default {default.idle:g}; 'inf': never)")  # fmt: skip


def _only(text: str) -> list[str]:
    try:
        return parse_only(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _timeouts(args: argparse.Namespace) -> Timeouts:
    """The timers asked for: every command that numbers connections numbers them alike."""
    return Timeouts(args.attempt_timeout, args.partial_close_timeout, args.idle_timeout)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


_FILE_HELP = "a pcap or pcapng file; - reads it from standard input"


def _connection_id(text: str) -> int | str:
    from analyzer.output.selection import parse_connection_id

    try:
        return parse_connection_id(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _output_file(output: str, picture: bool = True) -> Path:
    """Where one figure goes: refused before any work if a directory is in the way or, for a
    picture, its suffix is neither .svg nor .png (matplotlib would write a JPEG, a PDF...)."""
    path = Path(output)
    if path.is_dir():
        raise UserError(f"{output}: is a directory; name the file to write (X.svg, X.png)")
    if picture and path.suffix.lower() not in (".svg", ".png"):
        raise UserError(f"{output}: unknown picture format (use .svg or .png)")
    return path


def _add_diagram(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagram", help="draw a connection's sequence diagram (SVG or PNG)")
    p.add_argument("file", metavar="FILE", help=_FILE_HELP)
    p.add_argument("-o", "--output", default=None, help="X.svg, X.png or X.mmd (Mermaid; stdout without -o)")
    p.add_argument(
        "--format", choices=("svg", "png", "mermaid"), default=None, help="default: from the output's suffix"
    )
    p.add_argument(
        "--connection",
        type=_connection_id,
        default=None,
        help="connection id, or U and a UDP flow's id (U0) (default: the first interesting one)",
    )
    p.add_argument(
        "--sidecar", default=None, help="JSON sidecar with the socket calls (default: next to FILE)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--frames", type=_frame_range, default=None, metavar="A-B",
                       help="draw only frames A to B (Wireshark's frame numbers), every segment one by one if they fit")  # fmt: skip
    where.add_argument("--time", type=_time_range, default=None, metavar="T1..T2",
                       help="draw only the segments from T1 to T2 seconds since frame 1 (Wireshark's clock)")  # fmt: skip
    _add_decoder(p)
    _add_timeouts(p)
    p.set_defaults(run=cmd_diagram)


def _frame_range(text: str) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    if not dash or not first.strip().isdigit() or not last.strip().isdigit() or int(first) > int(last):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame range A-B (A <= B, both frame numbers)")
    return int(first), int(last)


def _time_range(text: str) -> tuple[float, float]:
    first, dots, last = text.partition("..")
    try:
        low, high = float(first), float(last)
    except ValueError:
        low = high = float("nan")
    if not dots or not low <= high:  # a NaN is never <=
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time range T1..T2 (seconds since frame 1, T1 <= T2)"
        )
    return low, high


def _add_file_command(
    sub: argparse._SubParsersAction, name: str, help_text: str, output_help: str, connection_help: str, run
) -> None:
    """A command that reads one capture and writes one output: FILE -o OUT [--connection N]."""
    p = sub.add_parser(name, help=help_text)
    p.add_argument("file", metavar="FILE", help=_FILE_HELP)
    p.add_argument("-o", "--output", required=True, help=output_help)
    p.add_argument("--connection", type=_connection_id, default=None,
                   help=f"connection id (default: {connection_help})")  # fmt: skip
    _add_decoder(p)
    _add_timeouts(p)
    p.set_defaults(run=run)


def _add_backoff(sub: argparse._SubParsersAction) -> None:
    _add_file_command(
        sub, "backoff", "chart a connection's SYN retransmissions against known schedules",
        "X.svg or X.png", "the first with SYN retransmissions", cmd_backoff,
    )  # fmt: skip


def _say_warnings(file: str, stats: DecodeStats) -> None:
    """The reader's warnings on standard error: a picture of a capture cut off, or with
    frames left unread, says so where its command runs, as the text report does."""
    for warning in stats.warnings:
        print(
            f"handshake: {'standard input' if file == STDIN else file}: warning: {warning}", file=sys.stderr
        )


def cmd_backoff(args: argparse.Namespace) -> int:
    from analyzer.analysis import analyze_file
    from analyzer.output.backoff_chart import draw_backoff_chart
    from analyzer.output.selection import pick_backoff_connection

    if isinstance(args.connection, str):
        raise UserError(f"{args.connection}: a UDP flow has no SYN retransmissions to chart")
    output = _output_file(args.output)
    sidecar = sidecar_beside(args.file)
    analysis = analyze_file(args.file, args.decoder, sidecar, _timeouts(args))
    _say_warnings(args.file, analysis.stats)
    chosen = pick_backoff_connection(analysis, args.connection)
    draw_backoff_chart(
        chosen,
        output,
        sidecar,
        display_name(args.file),
        analysis.stats.origin,
        analysis.stats.picture_warnings(),
    )
    print(f"backoff chart: {args.output}")
    return 0


def _add_timeline(sub: argparse._SubParsersAction) -> None:
    _add_file_command(
        sub, "timeline", "draw both endpoints' TCP states over time",
        "X.svg or X.png", "the first interesting one", cmd_timeline,
    )  # fmt: skip


def cmd_timeline(args: argparse.Namespace) -> int:
    from analyzer.analysis import ConnectionAnalysis, analyze_file
    from analyzer.output.selection import pick_connection
    from analyzer.output.state_timeline import draw_state_timeline

    output = _output_file(args.output)
    sidecar = sidecar_beside(args.file)
    analysis = analyze_file(args.file, args.decoder, sidecar, _timeouts(args))
    _say_warnings(args.file, analysis.stats)
    chosen, note = pick_connection(analysis, args.connection)
    if not isinstance(chosen, ConnectionAnalysis):
        raise UserError(f"{args.file}: no TCP connection (UDP has no states to draw)")
    if note:
        print(note)
    draw_state_timeline(
        chosen,
        output,
        sidecar,
        analysis.stats.origin,
        display_name(args.file),
        analysis.stats.picture_warnings(),
    )
    print(f"state timeline: {args.output}")
    return 0


def _add_overview(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("overview", help="every connection of a capture as a row on one time axis, by outcome")
    p.add_argument("file", metavar="FILE", help=_FILE_HELP)
    p.add_argument("-o", "--output", required=True, help="X.svg or X.png")
    _add_decoder(p)
    _add_timeouts(p)
    p.set_defaults(run=cmd_overview)


def cmd_overview(args: argparse.Namespace) -> int:
    from analyzer.analysis import stream_file
    from analyzer.output.overview_chart import Overview, draw_overview

    output = _output_file(args.output)
    # A stream: each connection is kept as a row's few numbers, whatever the file's size.
    stream = stream_file(args.file, args.decoder, None, timeouts=_timeouts(args))
    overview = Overview()
    for result in stream.results:
        overview.add(result)
    stats = stream.stats
    _say_warnings(args.file, stats)
    overview.origin = stats.start_time if stats.start_time is not None else 0.0
    overview.end = stats.end_time if stats.end_time is not None else overview.origin
    draw_overview(overview, output, Path(args.file).name, stats.picture_warnings())
    print(f"overview: {output}")
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    _add_file_command(
        sub, "report", "one self-contained HTML page: diagrams, tables, explanations",
        "a directory; the page is DIR/index.html", "the first interesting one", cmd_report,
    )  # fmt: skip


def cmd_report(args: argparse.Namespace) -> int:
    from analyzer.analysis import finished, stream_file
    from analyzer.output.html_report import write_report
    from analyzer.output.report_contents import ReportContents

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UserError(
            f"{args.output}: exists and is not a directory (the report is written as DIR/index.html)"
        )
    # Streamed: each connection's analysis kept only as far as the page shows it, so that a
    # capture of a million connections is reported in the memory of a few hundred.
    stream = stream_file(args.file, args.decoder, sidecar_beside(args.file), timeouts=_timeouts(args))
    contents = ReportContents(args.connection)
    for result in stream.results:
        contents.add(result)
    analysis = finished(stream, contents.results())
    _say_warnings(args.file, analysis.stats)
    print(f"report: {write_report(analysis, output, args.connection, contents)}")
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from analyzer.output.gallery import write_gallery

    print(f"gallery: {write_gallery(Path(args.captures), Path(args.output))}")
    return 0


def _add_capture(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture", help="run a scripted exchange in a private network namespace and record it")
    p.add_argument("scenario", help="a name from 'handshake scenarios', or 'all'")
    p.add_argument(
        "--family", type=int, choices=(4, 6), default=None, help="4 or 6 (default: 4; 'all' does both)"
    )
    p.add_argument("--store", action="store_true", help="replace the stored capture in captures/")
    p.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs/)")
    p.set_defaults(run=cmd_capture)


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run any command in a private network namespace, record its loopback traffic, analyze and draw it",
        description="handshake run [--name NAME] [--trace-calls] -- COMMAND ...  (Ctrl-C stops the command, "
        "and the run is analyzed)",
    )
    p.add_argument(
        "--name", default=None, help="name of the run folder and files (default: the command's name)"
    )
    p.add_argument("--trace-calls", action="store_true",
                   help="record the command's socket system calls with strace: the diagram's margins")  # fmt: skip
    p.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs/)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    p.set_defaults(run=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from analyzer.capture.run import run_program

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return run_program(command, name=args.name, trace_calls=args.trace_calls, runs_dir=Path(args.runs_dir))


def version_line() -> str:
    """The version, and whether the per-packet path runs compiled, or why not."""
    return f"handshake-analyzer {analyzer.__version__} (per-packet path: {native.describe(analyzer.native_state)})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handshake",
        description="TCP connection life cycles, made visible and checkable.",
        # Text as written: --version's line is not wrapped to the terminal's width.
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True)
    _add_analyze(sub)
    _add_diagram(sub)
    _add_backoff(sub)
    _add_timeline(sub)
    _add_overview(sub)
    _add_report(sub)
    _add_capture(sub)
    _add_run(sub)
    p = sub.add_parser("gallery", help="an index page of every stored capture's report")
    p.add_argument("captures", nargs="?", default="captures")
    p.add_argument("-o", "--output", default="runs/gallery")
    p.set_defaults(run=cmd_gallery)
    p = sub.add_parser("scenarios", help="list the scripted exchanges")
    p.set_defaults(run=cmd_scenarios)
    p = sub.add_parser(
        "corpus", help="compare with tshark, tcptrace and Zeek on a corpus (../shared/corpus layout)"
    )
    p.add_argument("directory", nargs="?", default="../shared/corpus")
    p.add_argument("--known", default=None, help="TSV of explained disagreements (file, question, reason)")
    p.set_defaults(run=cmd_corpus)
    p = sub.add_parser("expected", help="regenerate the expected analyses of stored captures")
    p.add_argument("directory", nargs="?", default="captures")
    p.set_defaults(run=cmd_expected)
    for name, subparser in sub.choices.items():
        # parser: whose usage a wrong option prints (main)
        subparser.set_defaults(parser=subparser, modules=_MODULES.get(name, _DRAWS))
    return parser


def cmd_analyze(args: argparse.Namespace) -> int:
    from analyzer.parallel.options import AnalyzeOptions, default_jobs
    from analyzer.parallel.reports import write_reports

    form = "json" if args.json else args.format or "text"
    if args.summary and form not in SUMMARY_FORMATS:
        raise UserError(f"--summary is written as text or json, not {form}")
    if args.summary and args.only:
        raise UserError("--only chooses connections to show; --summary shows none")
    if args.files.count(STDIN) > 1:
        raise UserError("standard input (-) can be read once")
    only = None
    if args.only:
        only = tuple(dict.fromkeys(kind for kinds in args.only for kind in kinds))  # in order, once each
    options = AnalyzeOptions(
        format=form,
        summary=args.summary,
        decoder=args.decoder,
        use_sidecar=not args.no_sidecar,
        # JSON lines come out while the file is read: their reader (a terminal, or jq
        # writing to one) would have the progress line written across them.
        progress=not args.quiet
        and sys.stderr.isatty()
        and not (form == "jsonl" and not is_regular_file(sys.stdout)),
        # Standard input is read by this process: a pool's processes have none.
        jobs=1 if STDIN in args.files else args.jobs or default_jobs(),
        timeouts=_timeouts(args),
        only=only,
        show_all=args.show_all,
    )
    return 0 if write_reports(args.files, options, sys.stdout, sys.stderr) else EXIT_USAGE


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _drawable(
    args: argparse.Namespace, sidecar: Sidecar | None, kept: KeptRange | None
) -> tuple[Analysis, int, list[int]]:
    """The file's analysis holding only what a diagram may draw (the connection asked for;
    else the first interesting one, the first with a diagnosis and the first), how many
    connections the file has, and those holding segments in the range asked for: each
    other connection let go as it is made, so that drawing one connection of a flood holds
    no more than its report does (helper-141: 1.16 GB for a 194,000-packet SYN flood).
    Connections come as they end, not in id order: the least id of each kind stays."""
    from analyzer.analysis import finished, stream_file

    stream = stream_file(args.file, args.decoder, sidecar, timeouts=_timeouts(args), kept=kept)
    wanted = args.connection if isinstance(args.connection, int) else None
    chosen: dict[str, ConnectionAnalysis] = {}
    count = 0
    holders: list[int] = []
    for result in stream.results:
        count += 1
        ident = result.connection.id
        kinds = (
            ["wanted"]
            if ident == wanted
            else []
            if wanted is not None
            else [
                "first",
                *(["interesting"] if result.interesting else []),
                *(["diagnosed"] if result.diagnoses else []),
            ]
        )
        for kind in kinds:
            if kind not in chosen or ident < chosen[kind].connection.id:
                chosen[kind] = result
        if (args.frames or args.time) and _holds_range(result, args, stream.stats.origin):
            holders.append(ident)
    results = sorted({id(r): r for r in chosen.values()}.values(), key=lambda r: r.connection.id)
    return finished(stream, results), count, sorted(holders)


def _holds_range(result: ConnectionAnalysis, args: argparse.Namespace, origin: Clock | None) -> bool:
    """Whether `result` has segments in the frames or the time (seconds since frame 1) asked."""
    frames, time = args.frames, args.time
    zero = origin.time if origin is not None else result.connection.first_time
    return any(
        (frames is not None and frames[0] <= s.frame <= frames[1])
        or (time is not None and zero + time[0] <= s.time <= zero + time[1])
        for s in result.connection.segments
    )


def _range_holders(holders: list[int]) -> str:
    """Which connections hold segments in the range a diagram asked for, as `--connection`
    would name them (helper-122: "no segment of connection #0", and no word of #1's)."""
    from analyzer.listing import shortened

    if not holders:
        return ""
    named = [f"#{ident}" for ident in holders]
    return f"; {shortened(named, 5)} {'has' if len(named) == 1 else 'have'} segments there (--connection N)"


def cmd_diagram(args: argparse.Namespace) -> int:
    from analyzer.analysis import ConnectionAnalysis
    from analyzer.long_connection import KeptRange
    from analyzer.output.selection import pick_connection
    from analyzer.output.sequence_diagram import EmptyRange, draw
    from analyzer.sidecar import load_sidecar

    output = _output_file(args.output, picture=False) if args.output else None
    kind = args.format or (
        "mermaid" if output is None or output.suffix == ".mmd" else output.suffix.lstrip(".").lower()
    )
    if kind not in ("svg", "png", "mermaid"):
        raise UserError(f"{args.output}: unknown diagram format (use .svg, .png or .mmd, or --format)")
    sidecar = load_sidecar(args.sidecar) if args.sidecar else sidecar_beside(args.file)
    # A range inside a connection too long to keep whole: its every segment kept to be drawn.
    kept = KeptRange(args.frames, args.time) if args.frames or args.time else None
    analysis, count, holders = _drawable(args, sidecar, kept)
    _say_warnings(args.file, analysis.stats)
    chosen, note = pick_connection(analysis, args.connection, count)
    if note:
        print(note, file=sys.stderr if output is None else sys.stdout)
    ranged = args.frames is not None or args.time is not None
    if ranged and (kind == "mermaid" or not isinstance(chosen, ConnectionAnalysis)):
        raise UserError("--frames and --time draw a TCP connection's ladder as SVG or PNG only")
    if kind == "mermaid":
        from analyzer.output.mermaid import mermaid

        text = mermaid(chosen, sidecar, analysis.stats.origin)
        if output is None:
            sys.stdout.write(text)
            return 0
        try:
            output.write_text(text)
        except OSError as error:
            raise cannot_write(args.output, error) from None
    else:
        if output is None:
            raise UserError(f"--format {kind} needs -o FILE")
        origin = analysis.stats.origin
        times = None
        if isinstance(chosen, ConnectionAnalysis) and args.time is not None:
            zero = origin.time if origin is not None else chosen.connection.first_time
            times = (zero + args.time[0], zero + args.time[1])
        try:
            name = display_name(args.file)
            draw(
                chosen, output, sidecar, origin, args.frames, times, name, args.file if name else None,
                analysis.stats.picture_warnings(),
            )  # fmt: skip
        except EmptyRange as error:
            what = (
                f"frames {args.frames[0]}-{args.frames[1]}"
                if args.frames
                else f"time {args.time[0]}..{args.time[1]} s"
            )
            raise UserError(f"{args.file}: {what}: {error}{_range_holders(holders)}") from None
    print(f"diagram: {output}")
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    from analyzer.capture.run import run_all, run_capture

    if args.scenario == "all":
        families = (args.family,) if args.family else (4, 6)
        return run_all(families, store=args.store, runs_dir=Path(args.runs_dir))
    return run_capture(args.scenario, args.family or 4, store=args.store, runs_dir=Path(args.runs_dir))


def cmd_scenarios(args: argparse.Namespace) -> int:
    from analyzer.scenarios import SCENARIOS

    width = max(len(name) for name in SCENARIOS)
    for name, scenario in SCENARIOS.items():
        print(f"{name.ljust(width)}  {scenario.summary}")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from analyzer.corpus_comparison import agreement_table, corpus_rows, load_known

    corpus = Path(args.directory)
    if not (corpus / "pcaps").is_dir() or not (corpus / "oracle").is_dir():
        raise UserError(f"{corpus}: not a corpus (needs pcaps/ and oracle/)")
    known = load_known(Path(args.known)) if args.known else {}
    rows = corpus_rows(corpus)
    print(agreement_table(rows, known))
    unexplained = [r for r in rows if not r.agrees and (r.file, r.question) not in known]
    return 1 if unexplained else 0


def cmd_expected(args: argparse.Namespace) -> int:
    from analyzer.capture.store import write_expected

    for written in write_expected(Path(args.directory)):
        print(f"wrote {written}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    given = sys.argv[1:] if argv is None else argv
    first = next((arg for arg in given if not arg.startswith("-")), None)
    before = given[: given.index(first)] if first is not None else given
    stray = [arg for arg in before if arg not in ("-h", "--help", "--version")]
    if stray:
        # argparse would say only that a command is missing: the option is what is wrong.
        parser.error(f"unrecognized arguments: {' '.join(stray)} (a command's options go after it)")
    with stop_signals_held():  # --connection N is read with a module that loads the analysis
        args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse leaves an option a subcommand does not know to the top parser, whose usage
        # says nothing of that subcommand's options: the subcommand's own usage instead.
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # `kill` ends a command as Ctrl-C does: with one line, its cleanup done.
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        import_uninterrupted((*args.modules, *(_TSHARK if getattr(args, "decoder", "") == "tshark" else ())))
        return args.run(args)
    except UserError as error:
        print(f"handshake: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("handshake: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # A reader that stopped early (| head) is not an error; keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        # What the system refused (a full disk under the report, ...): one line, not a traceback.
        print(f"handshake: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
