"""The child process that lives in the private namespace: sysctls, firewall, tcpdump, scenario.

Run as `python -m analyzer.capture.sandbox SCENARIO FAMILY PCAP` (or with `--program
SPEC_JSON` in place of SCENARIO, for `handshake run`). It writes the
pcap and its sidecar and exits; its namespace (and every sysctl and nftables
rule set in it) ends with it. SIGTERM stops the scenario, then tcpdump is stopped
cleanly so that the packets recorded so far stay readable; the parent starts it with
SIGINT ignored and turns the terminal's Ctrl-C into that SIGTERM. The kernel recorder
(bpftrace, kernel_trace.py) records beside tcpdump from before the scenario to after it,
and is stopped before anything else in the namespace is ended.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analyzer.capture.firewall import Firewall
from analyzer.capture.kernel_trace import KernelTrace
from analyzer.capture.namespace import (
    end_the_others,
    enter_private_network_namespace,
    tcp_sysctls,
    wire_sized_loopback,
    write_sysctl,
)
from analyzer.capture.program import END_PROGRAM, end_program, program_scenario
from analyzer.capture.recorder import Recorder, interrupted_capture
from analyzer.capture.snapshots import tcp_socket_states
from analyzer.errors import UserError
from analyzer.interrupts import EXIT_INTERRUPTED, raise_interrupt
from analyzer.scenarios import Context, Scenario, get_scenario
from analyzer.scenarios.calls import CallLog
from analyzer.sidecar import SCHEMA_VERSION, Sidecar, Snapshot, sidecar_path_for, write_json

WATCH_INTERVAL = 0.5


@contextmanager
def _watch_long_calls(log: CallLog, snapshot) -> Iterator[None]:
    """Snapshot the kernel every WATCH_INTERVAL while a call blocks (a connect() that waits
    for its SYNs to be answered): states held during a call are checked too."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(WATCH_INTERVAL):
            running = log.in_progress
            if running is not None and time.time() - running[2] >= WATCH_INTERVAL:
                snapshot(during=len(log.calls))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def record(scenario: Scenario, family: int, pcap: Path) -> Sidecar:
    enter_private_network_namespace()
    if scenario.mtu is not None:
        wire_sized_loopback(scenario.mtu)
    applied, missing = {}, []
    for name, value in scenario.sysctls.items():
        if write_sysctl(name, value):
            applied[name] = value
        else:
            missing.append(name)
    network = Firewall()
    snapshots: list[Snapshot] = []
    log = CallLog()
    lock = threading.Lock()

    def snapshot(during: int | None = None) -> None:
        with lock:
            # ss reads the kernel at some moment between these two times.
            start = time.time()
            sockets = tcp_socket_states()
            snapshots.append(
                {
                    "time": start,
                    "end_time": time.time(),
                    "after_call": len(log.calls) - 1,
                    "during_call": during,
                    "sockets": sockets,
                }
            )

    log.after_step = lambda call: snapshot()
    started = time.time()
    kernel = KernelTrace(pcap)
    try:
        # bpftrace compiles (seconds) while tcpdump starts; both are recording before the
        # scenario's first call.
        kernel.start()
        with Recorder(pcap) as recorder:
            if not kernel.confirm():
                print(
                    f"handshake: no kernel recorder: {kernel.why_not}; capturing without it", file=sys.stderr
                )
            with _watch_long_calls(log, snapshot):
                facts = scenario.run(Context(family, log, network, tcp_socket_states))
    finally:
        try:
            kernel.stop()  # before the others are ended: it is one of them
        finally:
            network.close()
            # Nothing the scenario or the program started outlives the capture (a server a
            # shell put in the background ignores Ctrl-C, a daemon leaves its parent).
            ended = end_the_others()
    stats = recorder.stats
    document: Sidecar = {
        "schema_version": SCHEMA_VERSION,
        "scenario": scenario.name,
        "summary": scenario.summary,
        "family": family,
        "parameters": scenario.parameters,
        "facts": facts,
        "kernel": {"release": platform.release(), "machine": platform.machine()},
        "sysctls": tcp_sysctls(),
        "sysctls_set": applied,
        "sysctls_missing": missing,
        "firewall": network.rules,
        "processes_ended": ended,
        "recorder": stats.as_dict(),
        "kernel_recorder": kernel.info(),
        "started": started,
        "finished": time.time(),
        "calls": [c.as_dict() for c in log.calls],
        "snapshots": snapshots,
        "kernel_events": kernel.events,
    }
    write_json(sidecar_path_for(pcap), document)
    return document


def main(argv: list[str]) -> int:
    """argv: SCENARIO FAMILY PCAP, or --program SPEC_JSON FAMILY PCAP (`handshake run`)."""
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(END_PROGRAM, end_program)
    program = argv[0] == "--program"
    if program:
        argv = argv[1:]
    family, pcap = int(argv[1]), Path(argv[2])
    try:
        if program:
            spec = json.loads(argv[0])
            scenario = program_scenario(spec["name"], spec["argv"], spec["trace_calls"])
        else:
            scenario = get_scenario(argv[0])
        record(scenario, family, pcap)
    except UserError as error:
        print(f"handshake: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted_capture(pcap), file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    # The parent waits on this process alone; flush before the namespace goes away.
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
