"""The HTML report and the gallery, opened as a reader would: in a browser, from disk."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, run

from analyzer.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What a probe of this machine needed: no sandbox as root, no network chatter, a fresh profile.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _report(pcap: Path, out: Path) -> Path:
    assert main(["report", str(pcap), "-o", str(out)]) == 0
    return out / "index.html"


def test_report_is_self_contained(tmp_path) -> None:
    page = _report(CAPTURES / "syn-timeout.pcap", tmp_path).read_text()
    tags = _tags(page)
    assert not [t for t, _a in tags if t in ("script", "img", "link", "iframe")]
    assert not re.search(r"""(src|href)=["']https?:""", page)
    # The ladder, the state timeline and the backoff chart, inline, with their text as text.
    assert sum(1 for t, _a in tags if t == "svg") == 3
    assert "no answer: 6 SYN(s)" in page and "matches the recorded kernel settings" in page


@pytest.mark.slow
def test_gallery_links_a_report_for_every_stored_capture(tmp_path) -> None:
    assert main(["gallery", str(CAPTURES), "-o", str(tmp_path)]) == 0
    links = [a["href"] for t, a in _tags((tmp_path / "index.html").read_text()) if t == "a"]
    assert len(links) == len(list(CAPTURES.glob("*.pcap")))
    assert all((tmp_path / link).is_file() for link in links)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)")
@pytest.mark.parametrize("scenario", ["simultaneous-close", "udp", "backlog-abort"])
def test_report_opens_in_a_browser(tmp_path, scenario: str) -> None:
    page = _report(CAPTURES / f"{scenario}.pcap", tmp_path / "report")
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    rendered = _tags(result.stdout)
    expected = sum(1 for t, _a in _tags(page.read_text()) if t == "svg")
    assert expected >= 1
    assert sum(1 for t, _a in rendered if t == "svg") == expected  # every figure is in the page as loaded
    assert "<h1>" in result.stdout


REAL_SOCKETS = ROOT / "tests" / "data" / "real_sockets"


class _Cells(HTMLParser):
    """The text of every table row under the heading that names the diagnoses."""

    def __init__(self) -> None:
        super().__init__()
        self.heading = ""
        self.rows: list[tuple[str, list[str]]] = []  # (heading, cells)
        self._in: str | None = None
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("h2", "h3"):
            self._in, self.heading = tag, ""
        elif tag == "tr":
            self._cells = []
        elif tag in ("td", "th") and self._cells is not None:
            self._cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None
        elif tag == "tr" and self._cells is not None:
            self.rows.append((self.heading, self._cells))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.heading += data
        elif self._cells:
            self._cells[-1] += data


def _diagnosis_rows(page: str, heading: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(page)
    return [cells for under, cells in parser.rows if under == heading]


def test_report_lists_each_connections_diagnoses_with_sentence_and_filter(tmp_path) -> None:
    page = _report(REAL_SOCKETS / "tail-loss-probe.pcap", tmp_path).read_text()
    document = json.loads(run("analyze", "--json", str(REAL_SOCKETS / "tail-loss-probe.pcap")).stdout)
    expected = [(str(c["id"]), d) for c in document["connections"] for d in c["diagnoses"]]
    assert len(expected) == 2
    rows = _diagnosis_rows(page, "Diagnoses in all connections")
    assert rows[0] == ["#", "kind", "what", "frames", "Wireshark display filter"]
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [
        (i, d["sentence"], d["display_filter"]) for i, d in expected
    ]
    # The chosen connection's own section lists its diagnoses too.
    [_header, first] = _diagnosis_rows(page, "Diagnoses")
    assert first[1] == expected[0][1]["sentence"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)")
def test_diagnoses_in_the_report_as_a_browser_shows_them(tmp_path) -> None:
    page = _report(REAL_SOCKETS / "keepalive.pcap", tmp_path / "report")
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    [_header, row] = _diagnosis_rows(result.stdout, "Diagnoses")
    assert row[0].startswith("keep_alive") and "keep-alive timeout" in row[1]
    assert row[3] == "frame.number in {8, 9, 10, 11, 12, 13, 14, 15, 16, 17}"
