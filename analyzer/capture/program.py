"""Any program as a scenario: `handshake run -- COMMAND` records what a user's own client
and server (curl, nc, a script) do on the sandbox's loopback.

The command runs inside the capture's private namespace, as one logged step; its output
goes to the terminal. With `trace_calls` it runs under strace, and its socket calls join
the call log afterwards, so the diagram has the same margins as a scripted scenario.
Ctrl-C (the terminal's SIGINT reaches the program; the sandbox ignores it) or a SIGTERM
to the capture stops the program, not the capture: that is how a server is ended, and
the run is analyzed as usual. A program that ignores Ctrl-C is ended after a grace by
END_PROGRAM, which ends the program only while it runs: once it has ended the sandbox
finishes its record (tcpdump, the kernel recorder) however long that takes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from analyzer.capture.namespace import terminate
from analyzer.capture.strace_calls import TRACE_ARGS, calls_from_strace
from analyzer.scenarios.base import Context, Scenario

STOP_GRACE_SECONDS = 5.0
# What `handshake run` sends the sandbox when a program did not stop on Ctrl-C: end it and
# keep the run (run.py). Taken only while the program runs (`running`).
END_PROGRAM = signal.SIGUSR1
running = False
TRACER_WAIT_SECONDS = 2.0
BACKGROUND_GRACE_SECONDS = 1.0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def end_program(signum: int, frame: object) -> None:
    """The sandbox's END_PROGRAM handler: the running program's wait interrupted, as a
    SIGTERM to the capture does (it is stopped, the run goes on); after it, nothing."""
    if running:
        raise KeyboardInterrupt


def _wait(process: subprocess.Popen[bytes]) -> int:
    """The program's exit status; END_PROGRAM or a SIGTERM meanwhile raise KeyboardInterrupt."""
    global running
    running = True
    try:
        return process.wait()
    finally:
        running = False


def program_scenario(name: str, argv: list[str], trace_calls: bool) -> Scenario:
    def run(ctx: Context) -> dict:
        trace = Path(tempfile.mkstemp(prefix="handshake-strace-", suffix=".txt")[1]) if trace_calls else None
        command = ["strace", *TRACE_ARGS, "-o", str(trace), "--", *argv] if trace else argv
        try:
            ended: list[str] = []
            with ctx.log.step("program", f"run: {shlex.join(argv)}") as outcome:
                if trace is None:
                    code, stopped = _run(command)
                else:
                    code, stopped, ended = _run_traced(command)
                outcome.returned(f"stopped, exit status {code}" if stopped else f"exit status {code}")
            if trace is not None:
                ctx.log.merge(calls_from_strace(trace.read_text(errors="replace")))
        finally:
            if trace is not None:
                trace.unlink(missing_ok=True)
        # What the command left running, ended once it had exited (without strace the sandbox
        # ends it, in processes_ended).
        return {"command": argv, "exit_status": code, "stopped": stopped, "traced_calls": trace_calls,
                "ended_in_background": ended}  # fmt: skip

    return Scenario(
        name=name,
        summary=f"the program: {shlex.join(argv)}",
        run=run,
        parameters={"command": argv, "trace_calls": trace_calls},
        expected_run_seconds=0,
    )


def _run_traced(command: list[str]) -> tuple[int, bool, list[str]]:
    """_run under strace (-D: the process started is the command, strace a grandchild that
    traces it). strace follows what the command starts: once the command has exited, what it
    left running in the background is ended (strace traces their end and exits with them), as
    the sandbox ends it without strace. Returns _run's and the command lines so ended."""
    try:
        process = subprocess.Popen(command, preexec_fn=_default_sigint)
    except FileNotFoundError:
        return 127, False, []
    except PermissionError:
        return 126, False, []
    tracer = _tracer_of(process.pid)
    stopped = False
    try:
        code = _wait(process)
    except KeyboardInterrupt:
        # A SIGTERM to the capture (the sandbox turns it into this): stop the program.
        stopped = True
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    ended = _end_traced(tracer) if tracer else []
    return code, stopped or code == -signal.SIGINT, ended


def _tracer_of(pid: int) -> int:
    """The pid of the process tracing `pid` (0 if none shows within a couple of seconds)."""
    deadline = time.monotonic() + TRACER_WAIT_SECONDS
    while time.monotonic() < deadline:
        tracer = _status_field(pid, "TracerPid")
        if tracer:
            return tracer
        time.sleep(0.01)
    return 0


def _status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _end_traced(tracer: int) -> list[str]:
    """End what `tracer` still traces (SIGTERM, then SIGKILL after a grace), then wait for
    strace to finish writing and exit. The command lines of those ended."""
    traced = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _status_field(int(p.name), "TracerPid") == tracer
    ]
    ended = terminate(traced)
    _wait_gone(tracer, BACKGROUND_GRACE_SECONDS)
    for pid in traced:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(tracer, STOP_GRACE_SECONDS)
    return ended


def _wait_gone(pid: int, seconds: float) -> None:
    """Wait until `pid` has exited, or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _run(command: list[str]) -> tuple[int, bool]:
    """(exit status, whether the user stopped it)."""
    try:
        # The sandbox ignores SIGINT; the program must not inherit that: Ctrl-C is for it.
        process = subprocess.Popen(command, preexec_fn=_default_sigint)
    except FileNotFoundError:
        return 127, False
    except PermissionError:
        return 126, False
    try:
        code = _wait(process)
        return code, code == -signal.SIGINT
    except KeyboardInterrupt:
        # A SIGTERM to the capture (the sandbox turns it into this): stop the program.
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=STOP_GRACE_SECONDS), True
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(), True
