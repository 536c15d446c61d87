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

from analyzer.capture.strace_calls import TRACE_ARGS, calls_from_strace
from analyzer.scenarios.base import Context, Scenario

STOP_GRACE_SECONDS = 5.0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def program_scenario(name: str, argv: list[str], trace_calls: bool) -> Scenario:
    def run(ctx: Context) -> dict:
        trace = Path(tempfile.mkstemp(prefix="handshake-strace-", suffix=".txt")[1]) if trace_calls else None
        command = ["strace", *TRACE_ARGS, "-o", str(trace), "--", *argv] if trace else argv
        try:
            with ctx.log.step("program", f"run: {shlex.join(argv)}") as outcome:
                code, stopped = _run(command)
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
