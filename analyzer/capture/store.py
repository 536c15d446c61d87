"""captures/: the stored pcaps, their sidecars and expected analyses, always replaced together."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

from analyzer.analysis import analyze_file
from analyzer.files import write_atomically
from analyzer.output.json_report import analysis_to_dict
from analyzer.sidecar import find_sidecar, load_sidecar, sidecar_path_for, write_json

EXPECTED_SUFFIX = ".expected.json"
CAPTURES_DIR = Path(__file__).resolve().parents[2] / "captures"


def expected_path_for(pcap: Path) -> Path:
    return pcap.with_name(pcap.stem + EXPECTED_SUFFIX)


def expected_document(pcap: Path) -> dict:
    """The analysis as stored, read back (JSON's lists and strings where the report's dict
    holds tuples and states): the file named without its folder, so it does not depend on
    where the repository is checked out."""
    sidecar = find_sidecar(pcap)
    document = analysis_to_dict(analyze_file(str(pcap), sidecar=load_sidecar(sidecar) if sidecar else None))
    for named in [document, *document["connections"], *document["udp"], *document["files"]]:
        named["file"] = pcap.name
    return json.loads(json.dumps(document))


def write_expected(directory: Path) -> list[Path]:
    written = []
    for pcap in sorted(directory.glob("*.pcap")):
        target = expected_path_for(pcap)
        write_json(target, expected_document(pcap))
        written.append(target)
    return written


def store_capture(pcap: Path, captures: Path = CAPTURES_DIR) -> list[Path]:
    """Replace captures/<name>.pcap, its sidecar and its expected analysis with this run's.

    Each file is copied beside its target and renamed into place, so captures/
    never holds half a file; the expected analysis is written last from the stored pcap.
    """
    captures.mkdir(parents=True, exist_ok=True)
    stored_pcap = captures / pcap.name
    pairs = [(pcap, stored_pcap), (sidecar_path_for(pcap), sidecar_path_for(stored_pcap))]
    for source, target in pairs:
        write_atomically(target, partial(shutil.copyfile, source))
    expected = expected_path_for(stored_pcap)
    write_json(expected, expected_document(stored_pcap))
    return [stored_pcap, sidecar_path_for(stored_pcap), expected]
