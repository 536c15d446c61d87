"""`handshake capture`: record one scenario in a sandbox, analyze it, draw it, say where it all went."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from analyzer.analysis import Analysis, analyze_file
from analyzer.capture.namespace_counters import describe_missed
from analyzer.capture.program import END_PROGRAM, program_scenario
from analyzer.capture.recorder import interrupted_capture, tcpdump_path
from analyzer.capture.store import store_capture
from analyzer.errors import UserError
from analyzer.interrupts import EXIT_INTERRUPTED, STOP_SIGNALS, current_mask, import_uninterrupted
from analyzer.output import DRAWING_MODULES
from analyzer.output.json_report import analysis_to_dict
from analyzer.output.text_report import format_endpoint
from analyzer.scenarios import Scenario, get_scenario
from analyzer.sidecar import Sidecar, load_sidecar, sidecar_path_for, write_json
from analyzer.udp_flows import UdpFlow

PROGRAM_STOP_GRACE = 5.0  # seconds a program gets to stop on Ctrl-C before it is ended
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Creating a network namespace needs CAP_SYS_ADMIN; the firewall CAP_NET_ADMIN;
# tcpdump CAP_NET_RAW.
CAPABILITIES = {"CAP_SYS_ADMIN": 21, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13}


def missing_capabilities() -> list[str]:
    if os.geteuid() == 0:
        return []
    effective = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                effective = int(line.split()[1], 16)
    except OSError:
        pass
    return [name for name, bit in CAPABILITIES.items() if not effective >> bit & 1]


def check_can_capture(how: str) -> None:
    """how: the make command that would do this capture, for the message."""
    missing = missing_capabilities()
    if missing:
        raise UserError(
            "capturing needs root (or " + ", ".join(missing) + f"): run 'sudo {how}'; "
            "'make analyze PCAP=...' needs no privileges"
        )
    tcpdump_path()
    for tool, package in (("ip", "iproute2"), ("ss", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise UserError(f"{tool} is not installed ({package}): run 'make setup' as root")


def run_folder(runs_dir: Path, base: str) -> Path:
    """A new folder of this run's own: two captures started in the same second (even at
    the same instant, in two processes) never share one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs_dir.mkdir(parents=True, exist_ok=True)
    for suffix in itertools.count(1):
        folder = runs_dir / (f"{base}-{stamp}" if suffix == 1 else f"{base}-{stamp}-{suffix}")
        try:
            folder.mkdir()  # atomic: exactly one process creates it
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _ignore_sigint() -> None:
    """The sandbox's start: SIGINT ignored; SIGINT and SIGTERM not blocked (the parent
    blocks them around the fork; tcpdump and a program of `handshake run` must get them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(END_PROGRAM, signal.SIG_IGN)  # until the sandbox takes it (program.py)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _record_in_sandbox(scenario: Scenario, family: int, pcap: Path, program: dict | None = None) -> None:
    what = ["--program", json.dumps(program)] if program is not None else [scenario.name]
    command = [sys.executable, "-m", "analyzer.capture.sandbox", *what, str(family), str(pcap)]
    # The sandbox ignores the terminal's Ctrl-C (a SIGINT while it is still starting would
    # end it in a traceback); it is told with a SIGTERM, which it either takes (and stops
    # tcpdump cleanly) or, still starting, dies of without a word. A Ctrl-C or SIGTERM
    # during the fork itself would land in an at-fork hook and be lost: it waits until
    # the loop below, which knows what to do with it.
    mask = current_mask()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        child = subprocess.Popen(command, preexec_fn=_ignore_sigint)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    blocked: set[int | signal.Signals] | None = mask  # None once restored

    def forward(signum: int, frame: object) -> None:
        child.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    asked: float | None = None  # when Ctrl-C asked a program to stop
    try:
        while True:
            try:
                if blocked is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a pending Ctrl-C lands here
                    blocked = None
                code = child.wait(timeout=None if asked is None else 0.2)
                break
            except subprocess.TimeoutExpired:
                if asked is not None and time.monotonic() - asked > PROGRAM_STOP_GRACE:
                    # The sandbox ends the program if it still runs, and keeps the run; one
                    # that has ended leaves the sandbox finishing its record undisturbed.
                    child.send_signal(END_PROGRAM)
                    asked = None
            except KeyboardInterrupt:
                if program is None or asked is not None:
                    child.send_signal(signal.SIGTERM)
                    asked = None
                else:
                    # A program run: the program got the Ctrl-C itself; give it time to stop.
                    asked = time.monotonic()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code == EXIT_INTERRUPTED:
        raise KeyboardInterrupt  # the sandbox said what it had recorded
    if code in (-signal.SIGINT, -signal.SIGTERM):
        # The signal came before the sandbox could take it (it was still starting): it
        # recorded nothing, or what tcpdump flushed before dying with it.
        print(interrupted_capture(pcap), file=sys.stderr)
        raise KeyboardInterrupt
    if code != 0:
        raise UserError(f"capture of '{scenario.name}' failed (sandbox exit status {code})")


def run_capture(name: str, family: int, *, store: bool = False, runs_dir: Path = Path("runs")) -> int:
    scenario = get_scenario(name)
    check_can_capture(f"make capture SCENARIO={scenario.name}")
    base = scenario.name + ("-ipv6" if family == 6 else "")
    duration = f", about {scenario.expected_run_seconds:.0f} s" if scenario.expected_run_seconds > 2 else ""
    print(f"capturing '{scenario.name}' over IPv{family} in a private network namespace{duration} ...")
    pcap = _capture(scenario, family, base, runs_dir)
    if store:
        for stored in store_capture(pcap):
            print(f"stored:    {stored}")
    return 0


def run_program(argv: list[str], *, name: str | None = None, trace_calls: bool = False,
                runs_dir: Path = Path("runs")) -> int:  # fmt: skip
    """`handshake run -- COMMAND`: the command inside the sandbox, recorded and drawn."""
    if not argv:
        raise UserError("run: no command given (handshake run -- COMMAND ...)")
    name = name or Path(argv[0]).name
    if not _SAFE_NAME.fullmatch(name):
        raise UserError(f"run: --name '{name}' may hold only letters, digits, '.', '_' and '-'")
    check_can_capture(f"make run CMD='{shlex.join(argv)}'")
    if trace_calls and shutil.which("strace") is None:
        raise UserError("--trace-calls needs strace: run 'make setup' as root")
    scenario = program_scenario(name, argv, trace_calls)
    print(f"running {shlex.join(argv)} in a private network namespace (loopback only), recording ...")
    _capture(scenario, 4, name, runs_dir, {"name": name, "argv": argv, "trace_calls": trace_calls})
    return 0


def _capture(scenario: Scenario, family: int, base: str, runs_dir: Path, program: dict | None = None) -> Path:
    """Record in the sandbox, then analyze and draw into a new run folder; returns the pcap."""
    # matplotlib is imported only now: a user without privileges hears only about those.
    import_uninterrupted(DRAWING_MODULES)

    folder = run_folder(runs_dir, base)
    pcap = folder / f"{base}.pcap"
    _record_in_sandbox(scenario, family, pcap, program)
    try:
        _report_run(scenario, family, pcap, folder, base)
    except KeyboardInterrupt:
        print(
            f"handshake: the recording is complete in {pcap}; interrupted while reporting on it",
            file=sys.stderr,
        )
        raise
    return pcap


def _report_run(scenario: Scenario, family: int, pcap: Path, folder: Path, base: str) -> None:
    """Analyze and draw a finished recording; print where everything went."""
    from analyzer.output.selection import pick_connection
    from analyzer.output.sequence_diagram import draw

    sidecar = load_sidecar(sidecar_path_for(pcap))
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    analysis_json = folder / f"{base}.analysis.json"
    write_json(analysis_json, analysis_to_dict(analysis))
    if not analysis.connections and not analysis.udp and "command" in scenario.parameters:
        print(f"pcap:      {pcap}")
        print(f"sidecar:   {sidecar_path_for(pcap)}")
        print(f"analysis:  {analysis_json}")
        command = scenario.parameters["command"]
        argv = [str(part) for part in command] if isinstance(command, list) else [str(command)]
        raise UserError(_nothing_recorded(argv, sidecar.get("facts", {})))
    chosen, note = pick_connection(analysis, None)
    diagrams = []
    for suffix in (".svg", ".png"):
        target = folder / f"{base}{suffix}"
        draw(
            chosen, target, sidecar=sidecar, origin=analysis.stats.origin, name=pcap.name, path=str(pcap),
            warnings=analysis.stats.warnings,
        )  # fmt: skip
        diagrams.append(target)
    from analyzer.output.mermaid import mermaid

    mermaid_path = folder / f"{base}.mmd"
    mermaid_path.write_text(mermaid(chosen, sidecar, analysis.stats.origin))
    # Every figure as SVG (to zoom) and PNG (to paste anywhere).
    timeline_paths = []
    if not isinstance(chosen, UdpFlow):
        from analyzer.output.state_timeline import draw_state_timeline

        for suffix in (".svg", ".png"):
            timeline_paths.append(
                draw_state_timeline(
                    chosen,
                    folder / f"{base}.states{suffix}",
                    sidecar,
                    analysis.stats.origin,
                    warnings=analysis.stats.warnings,
                )
            )
    backoff_paths = []
    for result in analysis.connections:
        if result.syn_backoff.intervals or result.synack_backoff.intervals:
            from analyzer.output.backoff_chart import draw_backoff_chart

            for suffix in (".svg", ".png"):
                target = folder / f"{base}.backoff-{result.connection.id}{suffix}"
                backoff_paths.append(
                    draw_backoff_chart(
                        result,
                        target,
                        sidecar,
                        origin=analysis.stats.origin,
                        warnings=analysis.stats.warnings,
                    )
                )
    from analyzer.output.html_report import write_report

    report = write_report(analysis, folder / "report")
    print_summary(scenario, family, analysis, sidecar, note)
    print(f"pcap:      {pcap}")
    print(f"sidecar:   {sidecar_path_for(pcap)}")
    print(f"analysis:  {analysis_json}")
    print(f"diagrams:  {diagrams[0]}")
    print(f"           {diagrams[1]}")
    print(f"           {mermaid_path} (Mermaid)")
    for label, paths in (("states:", timeline_paths), ("backoff:", backoff_paths)):
        for n, path in enumerate(paths):
            print(f"{label if n == 0 else '':<10} {path}")
    print(f"report:    {report}")


# Captures `run_all` makes at once, each in its own namespace: most of a scenario's time is
# spent waiting on the kernel's timers, and bpftrace's compiling takes one core for seconds.
CAPTURES_AT_ONCE = 3


def run_all(families: tuple[int, ...], *, store: bool = False, runs_dir: Path = Path("runs")) -> int:
    """Every scenario of the catalogue over each family, CAPTURES_AT_ONCE at a time, each by
    a `handshake capture` process of its own; what each prints comes out whole, in the
    catalogue's order. A failure is reported and the rest go on."""
    from concurrent.futures import ThreadPoolExecutor

    from analyzer.scenarios import SCENARIOS

    started = time.monotonic()
    runs = [(name, family) for name in SCENARIOS for family in families]
    running: list[subprocess.Popen] = []

    def capture(name: str, family: int) -> tuple[int, str, str]:
        command = [sys.executable, "-m", "analyzer", "capture", name, "--family", str(family)]
        command += ["--runs-dir", str(runs_dir)] + (["--store"] if store else [])
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        running.append(process)
        out, err = process.communicate()
        return process.returncode, out, err

    failed = []
    futures: list = []
    pool = ThreadPoolExecutor(max_workers=CAPTURES_AT_ONCE)
    try:
        futures = [pool.submit(capture, name, family) for name, family in runs]
        for (name, family), future in zip(runs, futures, strict=True):
            status, out, err = future.result()
            sys.stdout.write(out + "\n")
            sys.stderr.write(err)
            sys.stdout.flush()
            if status != 0:
                failed.append(f"{name} IPv{family}")
    except KeyboardInterrupt:
        # Each capture ends its own sandbox on SIGINT (as on Ctrl-C at a terminal, which
        # reaches them too): let them, and start no more.
        for future in futures:
            future.cancel()
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        pool.shutdown(wait=True)
        print("interrupted: the captures under way were ended; nothing else was started", file=sys.stderr)
        return EXIT_INTERRUPTED
    pool.shutdown(wait=True)
    count = len(runs)
    print(f"captured {count - len(failed)} of {count} in {time.monotonic() - started:.0f} s")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _nothing_recorded(argv: list[str], facts: dict) -> str:
    """Why a program's run has nothing to draw, in one line: the shell's status for a command
    that did not start, else that it used no socket on the sandbox's loopback."""
    code = facts.get("exit_status")
    # The shell's statuses: 127 for a command not found, 126 for one not executable (the
    # command's own, or one a shell it ran could not start).
    if code == 127:
        return f"run: {shlex.join(argv)}: exit status 127, a command not found; nothing to draw"
    if code == 126:
        return f"run: {shlex.join(argv)}: exit status 126, a command that cannot be executed; nothing to draw"
    status = f"exit status {code}" if code is not None else "no exit status recorded"
    return (
        f"run: {shlex.join(argv)} made no TCP connection and sent no UDP datagram on the sandbox's loopback "
        f"({status}); the namespace has no other network: it must use a local address"
    )


def print_summary(
    scenario: Scenario, family: int, analysis: Analysis, sidecar: Sidecar, note: str | None
) -> None:
    recorder = sidecar["recorder"]
    dropped = recorder.get("dropped_by_kernel")
    count = len(analysis.connections)
    # A program chooses its own addresses; a scenario runs over the family it was given.
    label = scenario.name if "command" in scenario.parameters else f"{scenario.name} (IPv{family})"
    print(
        f"{label}: {analysis.stats.frames} packets, "
        f"{count} connection{'s' if count != 1 else ''}, "
        f"{dropped if dropped is not None else 'unknown'} dropped by kernel"
    )
    facts = sidecar.get("facts", {})
    if "command" in scenario.parameters and facts.get("exit_status"):
        stopped = " (stopped)" if facts.get("stopped") else ""
        print(f"the program exited with status {facts['exit_status']}{stopped}")
    if dropped:
        print(f"warning: tcpdump reports {dropped} packets dropped by the kernel: the capture is incomplete")
    # Without the recorder the sandbox has said why, in one line, already.
    kernel = sidecar.get("kernel_recorder")
    if kernel is not None and kernel["attached"]:
        print(
            f"kernel recorder: {kernel['events']} events, {kernel['lost']} lost "
            f"(bpftrace, attached in {kernel['attach_seconds']:.1f} s)"
        )
        if kernel.get("missed"):
            print(
                "warning: the kernel recorder's account is incomplete: the namespace's own counters "
                f"count events it lacks: {describe_missed(kernel['missed'])}"
            )
        elif kernel["lost"] or not kernel["complete"]:
            print("warning: the kernel recorder's account is incomplete (events lost or not all read)")
    for result in analysis.connections:
        c = result.connection
        print(
            f"  #{c.id} {format_endpoint(c.client, c.family)} → {format_endpoint(c.server, c.family)}: "
            f"{result.summary()}"
        )
        if result.syn_backoff.intervals:
            origin = result.syn_backoff.times[0]
            times = ", ".join(f"{t - origin:.3f}" for t in result.syn_backoff.times)
            print(f"     SYNs at {times} s")
        # Beside the packets, the kernel's own account and whether the analysis agrees with it.
        if result.kernel is not None and result.kernel.disagreements:
            print(f"     {result.kernel.describe()}")
        events = result.kernel.events if result.kernel is not None else None
        if events is not None:
            start = analysis.stats.start_time
            for line in events.describe(start if start is not None else c.first_time):
                print(f"     kernel {line}")
    for flow in analysis.udp:
        print(
            f"  UDP #{flow.id} {format_endpoint(flow.client, flow.family)} → "
            f"{format_endpoint(flow.server, flow.family)}: {flow.summary()}"
        )
        for finding in flow.findings:
            print(f"     {finding}")
    for finding in analysis.application:
        print(f"  {finding}")
    if note:
        print(f"  {note}")
