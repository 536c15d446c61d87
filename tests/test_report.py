"""The HTML report and the gallery, opened as a reader would: in a browser, from disk."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT

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
