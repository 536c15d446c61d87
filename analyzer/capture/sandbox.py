"""The child process that lives in the private namespace: sysctls, firewall, tcpdump, scenario.

Run as `python -m analyzer.capture.sandbox SCENARIO FAMILY PCAP`. It writes the
pcap and its sidecar and exits; its namespace (and every sysctl and nftables
rule set in it) ends with it. SIGTERM and SIGINT stop the scenario, then tcpdump
is stopped cleanly so that the packets recorded so far stay readable.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import time
from pathlib import Path

from analyzer.capture import firewall
from analyzer.capture.namespace import enter_private_network_namespace, tcp_sysctls, write_sysctl
from analyzer.capture.recorder import Recorder
from analyzer.capture.sidecar import SCHEMA_VERSION, sidecar_path_for, write_json
from analyzer.capture.snapshots import tcp_socket_states
from analyzer.errors import UserError
from analyzer.scenarios import Context, get_scenario
from analyzer.scenarios.calls import Call, CallLog

EXIT_INTERRUPTED = 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def record(scenario_name: str, family: int, pcap: Path) -> dict:
    scenario = get_scenario(scenario_name)
    enter_private_network_namespace()
    applied, missing = {}, []
    for name, value in scenario.sysctls.items():
        if write_sysctl(name, value):
            applied[name] = value
        else:
            missing.append(name)
    rules = [firewall.drop_syns_to(scenario.drop_syns_to)] if scenario.drop_syns_to else []
    snapshots: list[dict] = []
    log = CallLog()

    def snapshot(call: Call) -> None:
        snapshots.append(
            {"time": time.time(), "after_call": len(log.calls) - 1, "sockets": tcp_socket_states()}
        )

    log.after_step = snapshot
    started = time.time()
    with Recorder(pcap) as recorder:
        facts = scenario.run(Context(family, log))
    stats = recorder.stats
    document = {
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
        "firewall": rules,
        "recorder": stats.as_dict(),
        "started": started,
        "finished": time.time(),
        "calls": [c.as_dict() for c in log.calls],
        "snapshots": snapshots,
    }
    write_json(sidecar_path_for(pcap), document)
    return document


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    scenario_name, family, pcap = argv[0], int(argv[1]), Path(argv[2])
    try:
        record(scenario_name, family, pcap)
    except UserError as error:
        print(f"handshake: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"handshake: capture interrupted; packets so far are in {pcap}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    # The parent waits on this process alone; flush before the namespace goes away.
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
