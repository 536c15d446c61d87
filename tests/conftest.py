"""Shared fixtures: where things are, and skips that always say why."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
CORPUS = ROOT.parent / "shared" / "corpus"


def stored_captures() -> list[Path]:
    return sorted(CAPTURES.glob("*.pcap"))


def corpus_pcaps() -> list[Path]:
    return sorted((CORPUS / "pcaps").glob("*")) if CORPUS.is_dir() else []


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside the repository ({CORPUS})")
    return CORPUS


def capture_skip_reason() -> str | None:
    """Why live captures cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "live capture needs root (network namespace, tcpdump)"
    for tool in ("tcpdump", "ip", "ss", "nft"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"live capture needs {tool} (run 'make setup' as root)"
    return None
