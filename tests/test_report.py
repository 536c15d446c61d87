"""The HTML report and the gallery, opened as a reader would: in a browser, from disk."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

import pytest
from conftest import CAPTURES, ROOT, run

from analyzer.cli import main
from analyzer.timefmt import Clock

# Its module fixture is costly: one worker runs all of it (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("report")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What a probe of this machine needed: no sandbox as root, no network chatter, a fresh profile.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


# What a page for readers must not hold: a command to type (the page is read, not run).
COMMAND_HINT = re.compile(r"handshake (analyze|diagram|report|overview|timeline)|make capture|\s--[a-z]")


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
    assert not [t for t, _a in tags if t in ("img", "link", "iframe", "object", "embed")]
    # Its script and the packets' details are inline: nothing is loaded from anywhere.
    scripts = [a for t, a in tags if t == "script"]
    assert len(scripts) == 2 and not [a for a in scripts if "src" in a]
    assert not re.search(r"""(src|href)=["'](?!#)""", page)  # every link is within the page
    assert "url(" not in page.replace("url(#", "")  # SVG clip paths refer to the page's own ids
    # The ladder, the state timeline and the backoff chart, inline, with their text as text.
    assert sum(1 for t, _a in tags if t == "svg") == 3
    assert "no answer: 6 SYNs" in page and "matches the recorded kernel settings" in page


def test_a_capture_stamped_past_the_year_9999_still_makes_its_report(tmp_path) -> None:
    """A pcapng writer that stores microseconds under an interface of milliseconds puts its
    frames in the year 55,840: no calendar date, but a report all the same (was a traceback)."""
    from pcap_builder import handshake_packets, write_capture

    capture = write_capture(tmp_path / "far.pcapng", handshake_packets(), pcapng=True, start=1.7e12)
    page = _report(capture, tmp_path).read_text()
    assert "(frame 1, captured 1,700,000,000,000.000000 s since 1970 (past any calendar date))" in page
    assert "three-way handshake complete" in page


def test_report_says_codes_and_options_in_words_with_headings_above_figures(tmp_path) -> None:
    out = tmp_path / "report"
    page = _report(CAPTURES / "backlog-abort.pcap", out).read_text()
    # No Python dict, no command-line hint, no absolute local path (the file's name is fine).
    assert "{'mss'" not in page and "'sack_permitted'" not in page
    assert "maximum segment size 65495 bytes" in page and "selective ACKs permitted" in page
    assert not COMMAND_HINT.search(page)
    assert str(CAPTURES) not in page and str(tmp_path) not in page and str(ROOT) not in page
    assert "backlog-abort.pcap" in page
    # One clock, stated.
    assert "seconds since the capture's first frame" in page
    # Every figure right under its heading; no caption below a figure.
    assert "<figcaption" not in page
    assert re.findall(r"</h[23]>(?:<p class=\"note\">[^<]*</p>)?<figure", page).__len__() == page.count(
        "<figure"
    )
    # Zeek's codes have their words: on the code (a title) and in the glossary.
    document = json.loads(run("analyze", "--json", str(CAPTURES / "backlog-abort.pcap")).stdout)
    states = {c["compatibility"]["zeek"]["conn_state"] for c in document["connections"]}
    assert states and all(f"<dt>Zeek conn_state {state}</dt>" in page for state in states)
    assert all(re.search(rf'<abbr title="[^"]+">{state}</abbr>', page) for state in states)
    assert "the originator sent a SYN without ACK" in page  # the history's S, in words


def test_an_isn_not_seen_is_said_in_words(tmp_path) -> None:
    """A refused connect has no SYN/ACK: the server's ISN is not seen, not Python's None."""
    page = _report(CAPTURES / "refused.pcap", tmp_path / "report").read_text()
    assert "<td>not seen (no SYN)</td>" in page and "<td>None</td>" not in page


def test_report_carries_the_details_of_every_packet_it_draws(tmp_path) -> None:
    page = _report(CAPTURES / "backlog-abort.pcap", tmp_path).read_text()
    drawn = re.findall(r'<g id="pkt-(\d+)"', page)
    blob = re.search(r'<script type="application/json" id="packet-details">(.*?)</script>', page, re.S)
    assert blob is not None
    details = json.loads(blob.group(1))
    assert drawn and sorted(details, key=int) == sorted(drawn, key=int)
    syn = dict(details[min(drawn, key=int)])
    assert syn["flags"] == "SYN" and syn["since previous"] == "the connection's first packet"
    assert syn["seq"].startswith("0 (relative; ") and "maximum segment size" in syn["options"]
    assert syn["time"].endswith(" s since frame 1") and "window" in syn


def test_a_window_is_scaled_by_its_sender_s_own_syn_as_wireshark_scales_it() -> None:
    """packet-tcp.c keeps each end's scale from its own SYN: with the SYN/ACK not captured
    (one direction passed), the client's windows are still shifted by its SYN's scale
    (tshark: window 296, scale factor 128, 37888); the server's, whose SYN is unseen, not,
    and the details say why; a SYN without the option scales neither end."""
    from segments import conversation

    from analyzer.analysis import analyze_segments
    from analyzer.decode.segment import TcpOptions
    from analyzer.output.packet_details import NO_SCALING, connection_details, window_scales

    segments = conversation(("c", "S", 100, 0), ("c", "A", 101, 501), ("s", "A", 501, 101))
    segments[0].options = TcpOptions(mss=1460, window_scale=7)
    segments[1].window = segments[2].window = 296
    [result] = analyze_segments(segments).connections
    details = connection_details(result, result.connection.start_clock, ["2", "3"])
    assert dict(details["2"])["window"] == "296 × 128 = 37,888 bytes (scale 7)"
    assert dict(details["3"])["window"].startswith("296 (its sender's window scale is not known")
    assert window_scales({"client": {"window_scale": 7}, "server": {"window_scale": None, "cut": False}}) == {
        "client": NO_SCALING,
        "server": NO_SCALING,
    }
    # A SYN cut before its options could show says nothing of them.
    assert window_scales({"client": {"window_scale": 7}, "server": {"window_scale": None, "cut": True}}) == {
        "client": 7,
        "server": None,
    }


def test_a_segment_s_sack_block_is_among_its_details() -> None:
    """Not a SYN, so its options are not decoded but for the first SACK block: shown in the
    details, relative as the ladder's label, a D-SACK named as such."""
    from segments import HANDSHAKE, conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.packet_details import connection_details

    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("c", "PA", 111, 501, 10),
                            ("s", "A", 501, 101), ("s", "A", 501, 121))  # fmt: skip
    segments[5].sack_start, segments[5].sack_end = 111, 121  # above the ACK: a SACK
    segments[6].sack_start, segments[6].sack_end = 111, 121  # below it: data received twice
    [result] = analyze_segments(segments).connections
    details = {
        key: dict(lines) for key, lines in connection_details(result, Clock(100.0), ["6", "7", "4"]).items()
    }
    assert details["6"]["options"] == "SACK 11–21 (relative; the first block)"
    assert details["7"]["options"] == "D-SACK (data received twice) 11–21 (relative; the first block)"
    assert "options" not in details["4"]


def test_a_segment_s_timestamps_name_the_frame_its_tsecr_echoes() -> None:
    """TSval and TSecr of every segment that has them; the TSecr names the latest of the
    peer's frames with that TSval (what its sender had taken in last), none for an echo of 0
    (a SYN's) or of a TSval not in the capture."""
    from segments import HANDSHAKE, conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.packet_details import connection_details

    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    for segment, stamps in zip(segments, [(70, 0), (900, 70), (71, 900), (71, 900), (901, 71)], strict=True):
        segment.ts_val, segment.ts_ecr = stamps
    segments[4].ts_ecr = 72
    [result] = analyze_segments(segments).connections
    details = {
        key: dict(lines)
        for key, lines in connection_details(result, Clock(100.0), ["1", "2", "4", "5"]).items()
    }
    assert details["1"]["timestamps"] == "TSval 70, TSecr 0"
    assert details["2"]["timestamps"] == "TSval 900, TSecr 70 (frame 1's TSval)"
    assert details["4"]["timestamps"] == "TSval 71, TSecr 900 (frame 2's TSval)"
    assert details["5"]["timestamps"] == "TSval 901, TSecr 72"
    segments[4].ts_ecr = 71  # frames 3 and 4 both carry it: the latest
    [result] = analyze_segments(segments).connections
    assert dict(connection_details(result, Clock(100.0), ["5"])["5"])["timestamps"].endswith(
        "(frame 4's TSval)"
    )


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


def _many_alike(path: Path) -> Path:
    """3 quiet complete exchanges (nothing to look at) and 14 unanswered SYNs: more connections
    than the page draws."""
    from pcap_builder import tcp_packet, write_capture

    client, server = "10.0.0.1", "10.0.0.2"
    packets = []
    for n in range(3):
        port = 41000 + n
        packets += [
            tcp_packet(4, client, port, server, 80, "S", 100),
            tcp_packet(4, server, 80, client, port, "SA", 500, 101),
            tcp_packet(4, client, port, server, 80, "A", 101, 501),
            tcp_packet(4, client, port, server, 80, "FA", 101, 501),
            tcp_packet(4, server, 80, client, port, "FA", 501, 102),
            tcp_packet(4, client, port, server, 80, "A", 102, 502),
        ]
    packets += [tcp_packet(4, client, 42000 + n, server, 81, "S", 100) for n in range(14)]
    return write_capture(path, packets)


def _connection_rows(page: str) -> list[str]:
    table = page.split('<table id="connections">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr data-id=.*?</tr>", table, re.S)


def test_every_row_links_to_its_section_and_one_not_drawn_says_why(tmp_path) -> None:
    from analyzer.output.html_report import MAX_SECTIONS

    page = _report(_many_alike(tmp_path / "alike.pcap"), tmp_path / "report").read_text()
    rows = _connection_rows(page)
    assert len(rows) == 17
    drawn = re.findall(r'<section class="connection" id="conn-(\d+)"', page)
    undrawn = re.findall(r'<section class="connection undrawn" id="conn-(\d+)"', page)
    assert len(drawn) == MAX_SECTIONS and len(undrawn) == 17 - MAX_SECTIONS
    for row in rows:
        ident = re.search(r'data-id="(\d+)"', row).group(1)
        # Its # links to its section, drawn or not.
        assert f'<a href="#conn-{ident}">#{ident}</a>' in row
        if ident in undrawn:
            assert "not drawn: " in row
        else:
            assert "not drawn" not in row
    # The quiet ones: nothing unusual; the unanswered ones past the page's count: one like it is drawn.
    by_id = {re.search(r'data-id="(\d+)"', row).group(1): row for row in rows}
    for ident in ("0", "1", "2"):
        assert "not drawn: nothing unusual" in by_id[ident]
    late = [i for i in undrawn if i not in ("0", "1", "2")]
    assert len(late) == 2
    for ident in late:
        assert re.search(r'not drawn: one like it is, see <a href="#conn-(\d+)">', by_id[ident])
        section = page.split(f'id="conn-{ident}"', 1)[1].split("</section>", 1)[0]
        assert (
            "Not drawn: the page draws 12 connections" in section
            and "is drawn and has its outcome" in section
        )


def test_the_connections_notes_are_words_not_codes(tmp_path, corpus_dir) -> None:
    """The notes say each diagnosis in words (the code's sentence on hover); a reset's outcome
    is its cause in words, not the code with its underscores dropped."""
    [pcap] = (corpus_dir / "pcaps").glob("ppa_http_espn_fail.*")
    page = _report(pcap, tmp_path / "report").read_text()
    rows = {re.search(r'data-id="(\d+)"', row).group(1): row for row in _connection_rows(page)}
    text = re.sub(r"<[^>]+>", " ", rows["7"])
    assert "reset: late segment after the FIN_WAIT_2 timer" in text
    assert "fin wait 2 expired" not in text and "close wait held" not in text
    assert "an application was slow to close, or never did (CLOSE_WAIT held)" in text
    assert "keep-alive probes" in text
    assert 'title="the client&#x27;s application did not close' in rows["7"]


def test_report_lists_each_connections_diagnoses_with_sentence_and_filter(tmp_path) -> None:
    page = _report(REAL_SOCKETS / "tail-loss-probe.pcap", tmp_path).read_text()
    document = json.loads(run("analyze", "--json", str(REAL_SOCKETS / "tail-loss-probe.pcap")).stdout)
    expected = [(str(c["id"]), d) for c in document["connections"] for d in c["diagnoses"]]
    assert len(expected) == 2
    rows = _diagnosis_rows(page, "Diagnoses in all connections")
    assert rows[0] == ["#", "kind", "what", "frames", "Wireshark display filter"]
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [
        (f"#{i}", d["sentence"], d["display_filter"]) for i, d in expected
    ]
    # Each connection's own section lists its diagnoses too (both have a section: a diagnosis).
    in_sections = [row for row in _diagnosis_rows(page, "Diagnoses") if row[0] != "kind"]
    assert [row[1] for row in in_sections] == [d["sentence"] for _i, d in expected]


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


# The report as a reader uses it: Playwright's Python package driving Debian's chromium.
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # the dev extras install it
    sync_playwright = None  # type: ignore[assignment]

NO_BROWSER = (
    "Debian's chromium is not installed (make setup installs it)"
    if CHROMIUM is None
    else "Playwright's Python package is not installed (pip install -e '.[dev]')"
)
needs_browser = pytest.mark.skipif(CHROMIUM is None or sync_playwright is None, reason=NO_BROWSER)


@pytest.fixture(scope="module")
def browser():
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as playwright:
        # Debian's chromium, never a browser build of Playwright's own (none is installed).
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class _Opened:
    """A report open in a tab, with what the page logged and what it asked for."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())

    def visible_outcomes(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#connections tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.outcome)"
        )

    def column(self, index: int) -> list[float]:
        return self.page.eval_on_selector_all(
            "#connections tbody tr",
            f"rows => rows.map(r => parseFloat(r.cells[{index}].dataset.sort ?? r.cells[{index}].textContent))",
        )

    def screenshot(self, target: Path) -> int:
        """A screenshot of what the window shows; how many of its pixels are not white."""
        from PIL import Image

        self.page.screenshot(path=str(target))
        with Image.open(target) as image:
            grey = image.convert("L")
            return sum(count for value, count in enumerate(grey.histogram()) if value < 240)


def _check_in_browser(browser, pcap: Path, tmp_path: Path) -> _Opened:
    """The page's table filtered, sorted and followed to a section, an arrow hovered: what a
    reader does with it, each checked against the analysis."""
    from analyzer.analysis import analyze_file
    from analyzer.output.html_report import MAX_ROWS
    from analyzer.output.overview_chart import outcome

    page_path = _report(pcap, tmp_path / "report")
    assert not COMMAND_HINT.search(page_path.read_text())
    opened = _Opened(browser, page_path)
    page = opened.page
    assert opened.screenshot(tmp_path / "top.png") > 20_000  # the heading, the overview: not blank
    analysis = analyze_file(str(pcap))
    # The first MAX_ROWS connections in order, then any later one that has a section.
    ids = [
        int(i)
        for i in page.eval_on_selector_all("#connections tbody tr", "rows => rows.map(r => r.dataset.id)")
    ]
    sectioned = {
        int(s.removeprefix("conn-")) for s in page.eval_on_selector_all("section", "s => s.map(x => x.id)")
    }
    assert ids[:MAX_ROWS] == list(range(min(MAX_ROWS, len(analysis.connections))))
    assert set(ids[MAX_ROWS:]) == {i for i in sectioned if i >= MAX_ROWS}
    outcomes = [outcome(analysis.connections[i]) for i in ids]
    assert opened.visible_outcomes() == outcomes
    # Filtering by an outcome hides every other row, and says how many are shown.
    rarest = min(set(outcomes), key=outcomes.count)
    page.select_option("#outcome-filter", rarest)
    assert opened.visible_outcomes() == [rarest] * outcomes.count(rarest)
    # Of a capture larger than the table, it says how many such connections the table leaves out.
    total = sum(1 for r in analysis.connections if outcome(r) == rarest)
    more = (
        f" ({total} such connections in the capture: the rest are not in the table)"
        if total > outcomes.count(rarest)
        else ""
    )
    assert page.inner_text("#rows-shown") == f"{outcomes.count(rarest)} of {len(outcomes)} rows shown{more}"
    page.select_option("#outcome-filter", "")
    assert len(opened.visible_outcomes()) == len(outcomes)
    # Sorting: by duration (column 5), up, then down; by # back to the ids' order.
    page.click("#connections th:nth-child(6) button")
    durations = opened.column(5)
    assert durations == sorted(durations) and durations[0] < durations[-1]
    page.click("#connections th:nth-child(6) button")
    assert opened.column(5) == sorted(durations, reverse=True)
    # Ties keep the connections' order down as up (sorting down reversed them: #2, #0, #1).
    page.click("#connections th:nth-child(7) button")
    page.click("#connections th:nth-child(7) button")
    rows = list(zip(opened.column(6), opened.column(0), strict=True))
    assert [p for p, _i in rows] == sorted((p for p, _i in rows), reverse=True)
    assert all(a[1] < b[1] for a, b in itertools.pairwise(rows) if a[0] == b[0])
    page.click("#connections th:nth-child(1) button")
    ids = opened.column(0)
    assert ids == sorted(ids) and len(ids) == len(outcomes)
    # Every row's # links to its section.
    links = page.eval_on_selector_all(
        "#connections tbody tr", "rows => rows.map(r => r.cells[0].querySelector('a')?.getAttribute('href'))"
    )
    assert links == [f"#conn-{int(i)}" for i in ids]
    assert (
        page.evaluate(
            "() => Array.from(document.querySelectorAll('#connections tbody tr td:first-child a'))"
            ".filter(a => !document.getElementById(a.getAttribute('href').slice(1))).length"
        )
        == 0
    )
    # A click on a connection not drawn goes to its section, which says why.
    undrawn = page.locator("#connections tbody tr[data-drawn='no'] td:first-child a")
    if undrawn.count():
        target = undrawn.first.get_attribute("href")
        undrawn.first.click()
        assert page.evaluate("location.hash") == target
        top = page.evaluate(f"document.querySelector('{target} h3').getBoundingClientRect().top")
        assert -2 < top < 100
        assert "Not drawn: " in page.inner_text(f"{target}")
    # A click on a drawn connection goes to its section, its heading in view.
    link = page.locator("#connections tbody tr:not([data-drawn='no']) td:first-child a").first
    target = link.get_attribute("href")
    assert target is not None and target.startswith("#conn-")
    link.click()
    assert page.evaluate("location.hash") == target
    top = page.evaluate(f"document.querySelector('{target} h2').getBoundingClientRect().top")
    assert -2 < top < 100
    assert opened.screenshot(tmp_path / "section.png") > 20_000
    _hover_an_arrow(opened, target)
    assert opened.errors == []
    assert {url for url in opened.requests} == {page_path.as_uri()}  # it fetched nothing else
    return opened


def _hover_an_arrow(opened: _Opened, section: str) -> None:
    """Pointing at a packet's arrow shows that frame's details beside it."""
    page = opened.page
    arrow = page.locator(f"{section} figure.ladder g[id^='pkt-']").last
    frame = (arrow.get_attribute("id") or "").removeprefix("pkt-")
    assert page.is_hidden("#packet-tip")
    # The pointer where a reader puts it, the middle of the arrow, whatever lies over it.
    arrow.scroll_into_view_if_needed()
    box = arrow.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.inner_text("#packet-tip")
    assert page.is_visible("#packet-tip")
    assert (
        tip.startswith(f"frame\t{frame}, ") and "since previous" in tip and "flags" in tip and "window" in tip
    )
    page.mouse.move(1, 1)
    assert page.is_hidden("#packet-tip")


@pytest.mark.slow
@needs_browser
def test_report_in_a_browser_filters_sorts_links_and_shows_packets(browser, tmp_path) -> None:
    opened = _check_in_browser(browser, CAPTURES / "backlog-abort.pcap", tmp_path)
    opened.page.close()


@pytest.mark.slow
@needs_browser
@pytest.mark.parametrize(
    ("name", "connections"), [("ppa_http_espn_fail.pcapng", 16), ("ppa_synscan.pcapng", 1994)]
)
def test_report_of_a_corpus_capture_in_a_browser(
    browser, tmp_path, corpus_dir, name: str, connections: int
) -> None:
    """Many connections: 16 of four outcomes with SYN backoffs and a RST; 1,994 from a scan,
    more than the table holds, which it says."""
    from analyzer.output.html_report import MAX_ROWS, MAX_SECTIONS

    opened = _check_in_browser(browser, corpus_dir / "pcaps" / name, tmp_path)
    assert (
        min(connections, MAX_ROWS)
        <= opened.page.locator("#connections tbody tr").count()
        <= MAX_ROWS + MAX_SECTIONS
    )
    cut = f"The table lists the first {MAX_ROWS} of {connections:,} connections"
    assert (cut in opened.page.inner_text("body")) == (connections > MAX_ROWS)
    opened.page.close()


PHONE: Final = {"width": 390, "height": 844}
# A ladder or a timeline is never drawn narrower (CSS): its smallest labels, about 11 px at the
# page's full width, would be 4 px at a phone's (helper-111).
FIGURE_MIN_WIDTH: Final = 1000


@pytest.mark.slow
@needs_browser
@pytest.mark.parametrize("name", ["simultaneous-close.pcap", "udp.pcap"])
def test_report_on_a_phone_keeps_its_width_and_its_figures_readable(browser, tmp_path, name: str) -> None:
    """At a phone's width (390 px) the page does not scroll sideways: a table wider than the
    screen scrolls in its own box (the RST table's cause and evidence were off the page), and
    the diagrams keep a readable width in theirs."""
    page_path = _report(CAPTURES / name, tmp_path / "report")
    page = browser.new_page(viewport=PHONE)
    page.goto(page_path.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    beyond = page.evaluate(
        """() => Array.from(document.querySelectorAll('body *')).filter(e =>
               e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
               && !e.closest('.scroll, .wide, figure')).map(e => e.tagName)"""
    )
    assert beyond == []
    widths = page.eval_on_selector_all(
        "figure.ladder svg, figure.timeline svg", "s => s.map(x => x.getBoundingClientRect().width)"
    )
    assert widths and min(widths) >= FIGURE_MIN_WIDTH
    # Every table of a connection's section is in a box that scrolls it.
    assert page.eval_on_selector_all(
        "section.connection table", "t => t.every(x => x.parentElement.matches('.scroll'))"
    )
    page.close()


def test_codes_and_options_in_words() -> None:
    from analyzer.decode.segment import TcpOptions
    from analyzer.output.glossary import history_words, options_words

    assert options_words(TcpOptions(mss=1460, window_scale=7, sack_permitted=True, timestamps=True)) == (
        "maximum segment size 1460 bytes, window scale 7 (windows × 128), selective ACKs permitted, timestamps"
    )
    assert options_words({"mss": None, "window_scale": None}) == "none" and options_words(None) == "not seen"
    assert history_words("ShAr^") == [
        "S: the originator sent a SYN without ACK",
        "h: the responder sent a SYN/ACK",
        "A: the originator sent a pure ACK",
        "r: the responder sent a RST",
        "^: Zeek swapped the roles: the side that sent the SYN/ACK or answered turned out to be the responder",
    ]
    # A letter Zeek writes again at the 10th, 100th, ... time: said once (helper-111: "g: the
    # responder sent a content gap ..." five times over).
    words = history_words("ShADtttT")
    assert [w[0] for w in words] == ["S", "h", "A", "D", "t", "T"]
    assert (
        words[4] == "t: the responder sent a retransmitted segment; the letter 3 times: at least 100 of them"
    )


def test_a_band_of_packets_has_its_counts_as_details() -> None:
    """A ladder that draws a run of frames as one band (id pkt-<first>-<last>) gets what the
    run adds up to; a frame the ladder does not draw gets nothing."""
    from analyzer.analysis import analyze_file
    from analyzer.output.packet_details import connection_details

    analysis = analyze_file(str(CAPTURES / "backlog-abort.pcap"))
    result = analysis.connections[0]
    frames = [s.frame for s in result.connection.segments]
    band = f"{frames[1]}-{frames[3]}"
    details = connection_details(result, analysis.stats.origin or Clock(0.0), [band, str(frames[4])])
    assert set(details) == {band, str(frames[4])}
    lines = dict(details[band])
    assert lines["frames"] == f"{frames[1]} to {frames[3]}" and lines["in it"].startswith("3 segments, ")
    assert dict(details[str(frames[4])])["since previous"].endswith(f"after frame {frames[3]}")


def test_a_capture_run_writes_the_report_beside_its_figures(tmp_path, capsys) -> None:
    """What make capture does once the recording is done, on a stored recording: the page is
    in the run's folder and said on a line of its own."""
    from analyzer.capture.run import _report_run
    from analyzer.scenarios import get_scenario

    for suffix in (".pcap", ".sidecar.json"):
        shutil.copyfile(CAPTURES / f"refused{suffix}", tmp_path / f"refused{suffix}")
    _report_run(get_scenario("refused"), 4, tmp_path / "refused.pcap", tmp_path, "refused")
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("report:")]
    assert line.split() == ["report:", str(tmp_path / "report" / "index.html")]
    assert "<h1>refused: refused.pcap</h1>" in (tmp_path / "report" / "index.html").read_text()


def test_an_ipv6_endpoint_may_break_in_the_table() -> None:
    """Two IPv6 endpoints unbroken pushed the table's Zeek columns out of the page."""
    from analyzer.output.html_report import _endpoint

    assert _endpoint(("2001:db8::1", 80), 6) == "[2001:<wbr>db8:<wbr>:<wbr>1]:<wbr>80"
    assert _endpoint(("192.0.2.1", 80), 4) == "192.0.2.1:80"


def test_every_id_on_the_page_is_unique_and_every_reference_resolves(tmp_path) -> None:
    """A helper counted 159 ids used more than once on a report's page (every figure's
    "figure_1", every arrow label's "packet-label"): invalid HTML, and a reference to one of
    them finds the first figure's. The packets' ids stay as the page's script reads them."""
    page = _report(CAPTURES / "backlog-abort.pcap", tmp_path / "report").read_text()
    assert "3 TCP connections, 0 UDP flows." in page  # plurals, not "connection(s)"
    ids = Counter(re.findall(r' id="([^"]+)"', page))
    assert [ident for ident, count in ids.items() if count > 1] == []
    references = re.findall(r'(?:url\(#|href="#)([^)"]+)', page)
    assert references and all(ident in ids for ident in references)
    assert "pkt-12" in ids and 'class="packet-label"' in page
    # Two spaces between a label's fields are kept (inline SVG text collapses them otherwise).
    assert "figure svg text { white-space: pre; }" in page


def test_ids_are_rewritten_inside_tags_only() -> None:
    """A file's name in a title may read ` id="x"`: text, not an attribute, left as it is."""
    from analyzer.output.figures import unique_ids

    svg = '<svg><g id="a"><text>x id="a" url(#b)</text></g><g id="b"/><use href="#b"/><g id="c"/><g id="c"/></svg>'
    assert unique_ids(svg, "s-") == (
        '<svg><g id="s-a"><text>x id="a" url(#b)</text></g><g id="s-b"/><use href="#s-b"/>'
        '<g class="c"/><g class="c"/></svg>'
    )


@needs_browser
def test_long_filters_and_wide_tables_stay_within_the_window(browser, tmp_path) -> None:
    """300 keep-alives and their answers: the diagnosis's display filter names 600 frames. It
    wraps in its cell (helper-111: one line 1,416 px wide made the page 1,761 px wide at 1280,
    every other column a word a line); the connections table scrolls within the window, its
    sideways scrollbar in view."""
    from pcap_builder import tcp_packet, write_capture

    c, s = "10.0.0.1", "10.0.0.2"
    packets = [
        tcp_packet(4, c, 40000, s, 80, "S", 100),
        tcp_packet(4, s, 80, c, 40000, "SA", 500, 101),
        tcp_packet(4, c, 40000, s, 80, "A", 101, 501),
    ]
    times = [0.0, 0.001, 0.002]
    for n in range(300):
        packets += [
            tcp_packet(4, c, 40000, s, 80, "A", 100, 501),
            tcp_packet(4, s, 80, c, 40000, "A", 501, 101),
        ]
        times += [1.0 + n, 1.0005 + n]
    for port in range(41000, 41080):  # refused connects: a table taller than the window
        packets += [tcp_packet(4, c, port, s, 81, "S", 7), tcp_packet(4, s, 81, c, port, "RA", 0, 8)]
        times += [times[-1] + 0.01, times[-1] + 0.0101]
    pcap = write_capture(tmp_path / "keepalives.pcap", packets, times=times)
    page_path = _report(pcap, tmp_path / "report")
    assert "frame.number in {" in page_path.read_text()
    opened = _Opened(browser, page_path)
    page = opened.page
    try:
        filters = page.eval_on_selector_all("td code.filter", "codes => codes.map(c => c.textContent.length)")
        assert max(filters) > 2_000  # the long one is there, and wraps:
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        wide = page.eval_on_selector(".wide", "w => w.getBoundingClientRect().height")
        assert wide <= 0.85 * 900 + 1
        assert not opened.errors
    finally:
        page.close()


def _mixed(path: Path, count: int) -> Path:
    """`count` connections in turn complete and closed, refused, unanswered, and reset by the
    server: more than the page's table lists, of several outcomes (each its own ISNs: the same
    on another 4-tuple is one connection seen on both sides of a NAT)."""
    from pcap_builder import tcp_packet, write_capture

    client, server = "10.0.0.1", "10.0.0.2"
    packets = []
    for n in range(count):
        port, kind, c, s = 20000 + n, n % 4, 1000 * n + 100, 1000 * n + 500
        length = n % 7 + 1
        packets.append(tcp_packet(4, client, port, server, 80 if kind != 1 else 81, "S", c))
        if kind == 1:
            packets.append(tcp_packet(4, server, 81, client, port, "RA", 0, c + 1))
        elif kind in (0, 3):
            packets += [
                tcp_packet(4, server, 80, client, port, "SA", s, c + 1),
                tcp_packet(4, client, port, server, 80, "A", c + 1, s + 1),
                tcp_packet(4, client, port, server, 80, "PA", c + 1, s + 1, b"x" * length),
            ]
            if kind == 0:
                packets += [
                    tcp_packet(4, client, port, server, 80, "FA", c + 1 + length, s + 1),
                    tcp_packet(4, server, 80, client, port, "FA", s + 1, c + 2 + length),
                    tcp_packet(4, client, port, server, 80, "A", c + 2 + length, s + 2),
                ]
            else:
                packets.append(tcp_packet(4, server, 80, client, port, "R", s + 1))
    return write_capture(path, packets)


def test_the_report_is_made_of_a_bounded_few_analyses_and_is_the_same_page(tmp_path) -> None:
    """`handshake report` feeds each connection's analysis to ReportContents as the stream
    gives it (not in id order) and keeps whole only what the page shows (it held all: 730 MB
    for 50,000 connections): the page is the one made of every analysis held, and fed in any
    order the contents keep the same few."""
    from analyzer.analysis import Analysis, analyze_file
    from analyzer.output.html_report import MAX_ROWS, MAX_SECTIONS, html_report
    from analyzer.output.overview_chart import OUTCOMES
    from analyzer.output.report_contents import ReportContents

    pcap = _mixed(tmp_path / "mixed.pcap", MAX_ROWS + 302)  # outcomes of 201, 201, 200, 200
    made = r'<dc:date>[^<]*</dc:date>|id="[0-9a-z-]*?[0-9a-f]{10}"|url\(#[0-9a-z-]*?[0-9a-f]{10}\)|href="#[0-9a-z-]*?[0-9a-f]{10}"'

    def same(page: str) -> str:  # matplotlib dates each SVG and names its clip paths afresh
        return re.sub(made, "", page)

    whole = analyze_file(str(pcap))
    assert len(whole.connections) == MAX_ROWS + 302
    page = same(html_report(whole))
    # The rule, read over every analysis at once: the page draws these, lists these rows.
    # The first interesting, #1 (refused), drawn first: its outcome then ties the others, and which
    # comes first in the last turn is the one met first without it.
    drawn = _drawn_by_the_rule(whole.connections, 1)
    assert [int(i) for i in re.findall(r'<section class="connection" id="conn-(\d+)"', page)] == drawn
    rows = [int(re.search(r'data-id="(\d+)"', row).group(1)) for row in _connection_rows(page)]
    assert rows == list(range(MAX_ROWS)) + [i for i in drawn if i >= MAX_ROWS]
    assert same(_report(pcap, tmp_path / "report").read_text()) == page
    for order in (whole.connections[::-1], whole.connections[1::2] + whole.connections[::2]):
        contents = ReportContents()
        for result in order:
            contents.add(result)
        kept = contents.results()
        assert len(kept) <= MAX_ROWS + len(OUTCOMES) * (MAX_SECTIONS + 1) + 2 < len(whole.connections)
        partial = Analysis(whole.file, whole.stats, kept, whole.sidecar, udp=whole.udp, links=whole.links)
        assert same(html_report(partial, None, contents)) == page
    # The connection asked for is kept and drawn, wherever it is.
    assert f'<section class="connection" id="conn-{MAX_ROWS + 297}"' not in page
    asked = ReportContents(MAX_ROWS + 297)
    for result in whole.connections[::-1]:
        asked.add(result)
    partial = Analysis(whole.file, whole.stats, asked.results(), whole.sidecar)
    asked_page = same(html_report(partial, MAX_ROWS + 297, asked))
    assert asked_page == same(html_report(whole, MAX_ROWS + 297))
    drawn = _drawn_by_the_rule(whole.connections, MAX_ROWS + 297)
    assert [int(i) for i in re.findall(r'<section class="connection" id="conn-(\d+)"', asked_page)] == drawn


def _drawn_by_the_rule(results: list, chosen: int) -> list[int]:
    """html_report's rule of the sections drawn, over every connection held at once: the one
    asked for (or first interesting), then of those worth a look one of each outcome in turn,
    the outcomes with the fewest first (then in the order met), the most packets first."""
    from analyzer.output.html_report import MAX_SECTIONS
    from analyzer.output.overview_chart import outcome

    groups: dict[str, list] = {}
    for result in results:
        worth = result.interesting or result.diagnoses or result.resends
        if worth and result.connection.id != chosen:
            groups.setdefault(outcome(result), []).append(result)
    queues = [
        sorted(g, key=lambda r: (-r.connection.packets, r.connection.id))
        for g in sorted(groups.values(), key=len)
    ]
    picked = [chosen]
    for turn in range(MAX_SECTIONS):
        picked += [queue[turn].connection.id for queue in queues if turn < len(queue)]
    return sorted(picked[:MAX_SECTIONS])


def test_an_undrawn_connection_points_to_a_drawn_one_with_its_diagnosis() -> None:
    """helper-126 (zeek_echo-connections' report): rows with a tail loss probe said "see #87",
    a connection of their outcome with none. One drawn with the same diagnosis is named
    first, its outcome's first drawn where none has it."""
    from segments import HANDSHAKE, conversation
    from test_connections import on_port

    from analyzer.analysis import analyze_segments
    from analyzer.output.html_report import _first_drawn, _like

    close = (("c", "FA", 101, 501), ("s", "A", 501, 102))
    plain = conversation(*HANDSHAKE, *close, ("s", "FA", 501, 102), ("c", "A", 102, 502))
    held = conversation(*HANDSHAKE, *close, (45.0, "s", "FA", 501, 102), ("c", "A", 102, 502))
    first, second, third = analyze_segments(
        plain + on_port(held, 40001, later=1.0, frames=7) + on_port(held, 40002, later=2.0, frames=14)
    ).connections
    assert [d.kind for d in second.diagnoses] == ["close_wait_held"] and not first.diagnoses
    drawn = _first_drawn([first, second])
    assert _like(third, drawn) == (second.connection.id, "the same diagnosis (close wait held)")
    assert _like(third, _first_drawn([first]))[1] == "its outcome"
