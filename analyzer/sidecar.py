"""The JSON sidecar written beside each pcap: the scenario, the kernel, the calls, the snapshots."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.errors import UserError
from analyzer.files import write_atomically

SIDECAR_SUFFIX = ".sidecar.json"
SCHEMA_VERSION = 1


# errno values a call log records that are not failures: a non-blocking connect() under way.
NOT_FAILURES = {"EINPROGRESS"}


def call_failed(call: dict) -> bool:
    """Whether a call of the sidecar's log failed (an errno that is an error)."""
    return bool(call.get("errno")) and call["errno"] not in NOT_FAILURES


def sidecar_path_for(pcap: Path) -> Path:
    return pcap.with_name(pcap.stem + SIDECAR_SUFFIX)


def find_sidecar(pcap: str | Path) -> Path | None:
    candidate = sidecar_path_for(Path(pcap))
    return candidate if candidate.is_file() else None


def sidecar_beside(pcap: str | Path) -> dict | None:
    """The sidecar next to a capture, loaded, or None when there is none."""
    found = find_sidecar(pcap)
    return load_sidecar(found) if found else None


def load_sidecar(path: str | Path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such sidecar file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a JSON sidecar ({error})") from None
    if not isinstance(document, dict) or "calls" not in document:
        raise UserError(f"{path}: not a handshake-analyzer sidecar (no 'calls')")
    return document


def write_json(path: Path, document: dict) -> None:
    """Write whole or not at all: a reader never sees half a file."""
    text = json.dumps(document, indent=1, sort_keys=False) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text))
