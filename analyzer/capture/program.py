"""Any program as a scenario: `handshake run -- COMMAND` records what a user's own client
and server (curl, nc, a script) do on the sandbox's loopback.

The command runs inside the capture's private namespace, as one logged step; its output
goes to the terminal. With `trace_calls` it runs under strace, and its socket calls join
the call log afterwards, so the diagram has the same margins as a scripted scenario.
Ctrl-C (the terminal's SIGINT reaches the program; the sandbox ignores it) or a SIGTERM
to the capture stops the program, not the capture: that is how a server is ended, and
the run is analyzed as usual.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import tempfile
from pathlib import Path

from analyzer.capture.strace_calls import TRACE_ARGS, calls_from_strace, exit_status
from analyzer.scenarios.base import Context, Scenario

STOP_GRACE_SECONDS = 5.0
TRACE_POLL_SECONDS = 0.1


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def program_scenario(name: str, argv: list[str], trace_calls: bool) -> Scenario:
    def run(ctx: Context) -> dict:
        trace = Path(tempfile.mkstemp(prefix="handshake-strace-", suffix=".txt")[1]) if trace_calls else None
        command = ["strace", *TRACE_ARGS, "-o", str(trace), "--", *argv] if trace else argv
        try:
            with ctx.log.step("program", f"run: {shlex.join(argv)}") as outcome:
                code, stopped = _run(command) if trace is None else _run_traced(command, trace)
                outcome.returned(f"stopped, exit status {code}" if stopped else f"exit status {code}")
            if trace is not None:
                ctx.log.merge(calls_from_strace(trace.read_text(errors="replace")))
        finally:
            if trace is not None:
                trace.unlink(missing_ok=True)
        return {"command": argv, "exit_status": code, "stopped": stopped, "traced_calls": trace_calls}

    return Scenario(
        name=name,
        summary=f"the program: {shlex.join(argv)}",
        run=run,
        parameters={"command": argv, "trace_calls": trace_calls},
        expected_run_seconds=0,
    )


def _run_traced(command: list[str], trace: Path) -> tuple[int, bool]:
    """_run under strace, which follows every process the command starts: a server it left
    in the background would keep strace, and the run, waiting. Once the command itself has
    exited, strace is stopped (it detaches), and the sandbox ends what is left, as without
    strace. The status is the command's, from strace's exit line for it."""
    try:
        process = subprocess.Popen(command, preexec_fn=_default_sigint)
    except FileNotFoundError:
        return 127, False
    child = None
    try:
        while True:
            try:
                code = process.wait(timeout=TRACE_POLL_SECONDS)
                break  # strace ended: everything it traced has
            except subprocess.TimeoutExpired:
                pass
            if child is None:
                child = _first_child(process.pid, trace)
            elif not _alive(child):
                process.send_signal(signal.SIGTERM)  # detach from what the command left behind
                code = process.wait()
                break
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        own = exit_status(trace.read_text(errors="replace"), child) if child is not None else None
        return (own if own is not None else code), True
    own = exit_status(trace.read_text(errors="replace"), child) if child is not None else None
    if own is not None:
        code = own
    return code, code == -signal.SIGINT


def _first_child(pid: int, trace: Path) -> int | None:
    """The process strace started: its first child, or (gone already) the first in its trace."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    if children:
        return int(children[0])
    try:
        with trace.open(errors="replace") as lines:
            first = lines.readline().split(maxsplit=1)
    except OSError:
        return None
    return int(first[0]) if first and first[0].isdigit() else None


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, exited but not yet reaped by strace, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _run(command: list[str]) -> tuple[int, bool]:
    """(exit status, whether the user stopped it)."""
    try:
        # The sandbox ignores SIGINT; the program must not inherit that: Ctrl-C is for it.
        process = subprocess.Popen(command, preexec_fn=_default_sigint)
    except FileNotFoundError:
        return 127, False
    try:
        code = process.wait()
        return code, code == -signal.SIGINT
    except KeyboardInterrupt:
        # A SIGTERM to the capture (the sandbox turns it into this): stop the program.
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=STOP_GRACE_SECONDS), True
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(), True
