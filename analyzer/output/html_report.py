"""One self-contained HTML page per capture: the overview of its connections and a table of
them (sortable, filterable by outcome, each linked to its section), then a section for each
connection worth a look with its diagrams inline (SVG, text stays text), the analysis in
tables, the explanations in sentences, and other tools' codes in words. One small inline
script (page_script.py) and the packets' details as inline JSON: the page opens from disk,
attached to a bug report or mailed to a student, and fetches nothing.

One clock, Wireshark's: every time on the page is seconds since the capture's first frame."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from analyzer.analysis import Analysis, ConnectionAnalysis, Diagnosis, Links, State
from analyzer.files import display_name, write_output
from analyzer.listing import shortened
from analyzer.output.backoff_chart import backoff_figure
from analyzer.output.figures import figure_svg
from analyzer.output.glossary import (
    DIAGNOSES,
    WIRESHARK_FLAGS,
    ZEEK_CONN_STATES,
    ZEEK_HISTORY,
    ZEEK_REPEATS,
    history_words,
    options_words,
    wireshark_filter,
)
from analyzer.output.labels import silent_end
from analyzer.output.overview_chart import OUTCOMES, Overview, outcome, overview_figure
from analyzer.output.packet_details import Details, connection_details, drawn_ids, udp_details
from analyzer.output.page_script import SCRIPT, STYLE
from analyzer.output.report_contents import (
    MAX_ROWS,
    MAX_SECTIONS,
    ReportContents,
    resent_count,
    worth_a_section,
)
from analyzer.output.selection import pick_connection
from analyzer.output.sequence_diagram import figure
from analyzer.output.state_timeline import timeline_figure
from analyzer.output.summary import reset_ending, reset_words
from analyzer.output.text_report import format_endpoint, link_sentences, plural
from analyzer.sidecar import Sidecar
from analyzer.timefmt import Clock, between, format_duration, to_the_microsecond, wall_clock
from analyzer.udp_flows import UdpFlow

LINKS_SHOWN: Final = 40  # connections seen on both sides of a NAT, named before the overview

__all__ = ["MAX_ROWS", "MAX_SECTIONS", "STYLE", "html_report", "write_report"]

# A diagnosis's frames listed in its row; its display filter names them all (scrolled).
FRAMES_LISTED: Final = 12


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(headers: list[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return _scrolled(f"<table><tr>{head}</tr>{body}</table>")


def _scrolled(table: str) -> str:
    """A table in a box of its own that scrolls sideways: on a phone the page keeps its width,
    and the columns beyond it are a swipe away in their table, not off the page."""
    return f'<div class="scroll">{table}</div>'


def _since(seconds: float) -> str:
    """A time on the page's one clock: seconds since frame 1, as Wireshark's time column."""
    return f"{to_the_microsecond(seconds)}\u00a0s"  # no break inside a time


def _abbr(code: str, meaning: str | None) -> str:
    return f'<abbr title="{_e(meaning)}">{_e(code)}</abbr>' if meaning else _e(code)


def _zeek_state(code: str) -> str:
    return _abbr(code, ZEEK_CONN_STATES.get(code))


def _zeek_history(history: str) -> str:
    return _abbr(history, "; ".join(history_words(history))) if history else "(none)"


def _endpoint(endpoint: tuple[str, int], family: int) -> str:
    """An endpoint for a table cell: an IPv6 address may break after any colon (unbroken, two
    of them pushed the table's last columns out of the page)."""
    text = _e(format_endpoint(endpoint, family))
    return text.replace(":", ":<wbr>") if family == 6 else text


def _figure(heading: str, svg: str, kind: str, note: str = "", level: int = 3) -> str:
    """A figure under its heading (a caption below would read as the next one's title)."""
    hint = f'<p class="note">{_e(note)}</p>' if note else ""
    return f'<h{level}>{_e(heading)}</h{level}>{hint}<figure class="{kind}">{svg}</figure>'


HOVER: Final = "Point at an arrow or a band (or focus it with Tab) for its packets' details."


def _connection_section(
    result: ConnectionAnalysis,
    sidecar: Sidecar | None,
    origin: Clock,
    details: dict[str, Details],
    name: str | None,
) -> list[str]:
    """origin: frame 1's time, which the page's times count from; name: the file's, which
    titles the pictures (a picture saved from the page still says what it shows). Fills
    `details` with the packets its ladder draws."""
    c = result.connection
    ladder = figure_svg(figure(result, sidecar, origin, commands=False, name=name), f"c{c.id}-ladder-")
    details.update(connection_details(result, origin, drawn_ids(ladder)))
    parts = [
        f'<section class="connection" id="conn-{c.id}">',
        f"<h2>Connection #{c.id}: {_e(format_endpoint(c.client, c.family))} → "
        f"{_e(format_endpoint(c.server, c.family))}</h2>",
        f"<p>{_e(result.summary())}</p>",
        _figure("Sequence diagram", ladder, "ladder", HOVER),
        _figure(
            "TCP states over time",
            figure_svg(timeline_figure(result, sidecar, origin, name), f"c{c.id}-timeline-"),
            "timeline",
        ),
    ]
    charted = result.charted_backoffs()
    if charted:
        parts.append(
            _figure(
                " and ".join(dict.fromkeys(one.sent for one in charted)) + " backoff",
                figure_svg(backoff_figure(result, sidecar, name, origin), f"c{c.id}-backoff-"),
                "backoff",
            )
        )
    h = result.handshake
    parts.append("<h3>Handshake</h3>")
    parts.append(f"<p>{_e(h.explain())}</p>")
    parts.append(
        _table(
            ["check", "expected", "seen", "ok"],
            [[check.what, check.expected, check.seen, "yes" if check.ok else "NO"] for check in h.checks],
        )
    )
    parts.append(_table(["", "client", "server"], [
        ["ISN", *("not seen (no SYN)" if isn is None else isn for isn in (h.client_isn, h.server_isn))],
        ["options (of its SYN)", options_words(h.client_options), options_words(h.server_options)],
    ]))  # fmt: skip
    parts.append("<h3>Close and resets</h3>")
    parts.append(f"<p>{_e(result.close.explain())}</p>")
    if result.resets:
        parts.append(
            _table(
                ["frame", "time", "sender", "state", "cause", "explanation", "evidence frames"],
                [
                    [
                        r.segment.frame,
                        _since(origin.since_stamp(r.segment.stamp)),
                        r.sender,
                        r.state,
                        f"{reset_words(r.cause)} ({r.cause})",
                        r.explanation,
                        ", ".join(map(str, r.evidence)),
                    ]
                    for r in result.resets
                ],
            )
        )
    if result.diagnoses:
        parts.append("<h3>Diagnoses</h3>")
        parts.append(_diagnoses_table([(None, d) for d in result.diagnoses]))
    parts.append("<h3>States</h3>")
    stamps = c.stamps_by_frame()
    rows = [
        [side, _states(history, result.state_frames.get(side, []), origin, silent_end(result, side), stamps)]
        for side, history in result.states.items()
    ]
    parts.append(_table(["end", "states (from the time and the frame each began)"], rows))
    if result.kernel is not None:
        cls = "good" if not result.kernel.disagreements else "bad"
        parts.append(f'<p class="{cls}">{_e(result.kernel.describe())}</p>')
        events = result.kernel.events  # the kernel's own account: the text report's lines
        if events is not None:
            cls = "good" if not events.disagreements else "bad"
            parts.extend(f'<p class="{cls}">{_e(line)}</p>' for line in events.describe(origin.time))
    if result.sequence.flags:
        parts.append("<h3>Sequence analysis (Wireshark's rules)</h3>")
        rows_html = "".join(
            f"<tr><td><code>{_e(wireshark_filter(kind))}</code></td><td>{_e(WIRESHARK_FLAGS.get(kind, ''))}</td>"
            f'<td class="num">{count}</td></tr>'
            for kind, count in sorted(result.sequence.counts().items())
        )
        parts.append(
            _scrolled(
                f"<table><tr><th>Wireshark flag</th><th>what it means</th><th>segments</th></tr>{rows_html}</table>"
            )
        )
    zeek = result.compatibility.zeek
    parts.append("<h3>Zeek's view</h3>")
    parts.append(
        _scrolled(
            "<table><tr><th>conn_state</th><th>history</th><th>notes</th></tr>"
            f"<tr><td>{_zeek_state(zeek.conn_state)}: {_e(ZEEK_CONN_STATES.get(zeek.conn_state, ''))}</td>"
            f"<td>{_zeek_history(zeek.history)}<br><small>{'<br>'.join(map(_e, history_words(zeek.history)))}"
            f"</small></td><td>{_e('; '.join(result.notes))}</td></tr></table>"
        )
    )
    parts.append("</section>")
    return parts


def _states(
    history: list[tuple[float, State]],
    frames: list[int | None],
    origin: Clock,
    silent: str,
    stamps: dict[int, int],
) -> str:
    """Each state an end held, from when and, when a packet moved it there, which frame;
    `silent` (labels.silent_end) for an end that sent nothing."""
    if not history:
        return silent
    parts = []
    for index, (time, state) in enumerate(history):
        frame = frames[index] if index and index < len(frames) else None
        parts.append(
            f"{state.value} ({_since(origin.since_moment(time, frame, stamps))}"
            f"{f', frame {frame}' if frame is not None else ''})"
        )
    return " → ".join(parts)


def _diagnoses_table(rows: Sequence[tuple[int | None, Diagnosis]], linked: set[int] | None = None) -> str:
    """Each diagnosis: its kind and mark, its sentence, its frames, and the display filter to
    paste into Wireshark (as code: a reader copies it). With connection ids when given,
    linked to their sections when they have one."""
    with_ids = any(connection is not None for connection, _d in rows)
    headers = (["#"] if with_ids else []) + ["kind", "what", "frames", "Wireshark display filter"]
    body = "".join(
        "<tr>"
        + (f"<td>{_connection_link(connection, linked or set())}</td>" if with_ids else "")
        + f"<td><code>{_e(d.kind)}</code>{_words(DIAGNOSES.get(d.kind))}<br><small>{_e(d.label)}</small></td>"
        + f"<td>{_e(d.sentence)}</td>"
        + f"<td>{_e(shortened([str(f) for f in sorted(set(d.frames))], FRAMES_LISTED))}</td>"
        + f"<td><code class='filter'>{_e(d.display_filter)}</code></td>"
        + "</tr>"
        for connection, d in rows
    )
    return _scrolled("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + f"</tr>{body}</table>")


def _words(words: str | None) -> str:
    return f": {_e(words)}" if words else ""


def _links(links: Links, linked: set[int]) -> list[str]:
    """The connections that are one (findings/links.py), each id a link to its section, each
    translation's sides kept on one line; the first LINKS_SHOWN: a NAT box's capture has one
    for every connection, and the overview and the table come after."""
    if not links:
        return []
    items = link_sentences(
        links,
        lambda ident: _connection_link(ident, linked),
        LINKS_SHOWN,
        "see the JSON analysis",
        lambda pair: f'<span class="sides">{pair}</span>',
    )
    return ["<h2>Connections that are one</h2><ul>", *(f"<li>{item}</li>" for item in items), "</ul>"]


def _connection_link(connection: int | None, linked: set[int]) -> str:
    if connection in linked:
        return f'<a href="#conn-{connection}">#{connection}</a>'
    return "" if connection is None else f"#{connection}"


def _udp_section(
    flow: UdpFlow, sidecar: Sidecar | None, origin: Clock, details: dict[str, Details], name: str | None
) -> list[str]:
    ladder = figure_svg(figure(flow, sidecar, origin, name=name), f"u{flow.id}-ladder-")
    details.update(udp_details(flow, origin, drawn_ids(ladder)))
    return [
        f'<section class="connection" id="udp-{flow.id}">',
        f"<h2>UDP flow #U{flow.id}: {_e(format_endpoint(flow.client, flow.family))} → "
        f"{_e(format_endpoint(flow.server, flow.family))}</h2>",
        f"<p>{_e(flow.summary())}</p>",
        _figure("Sequence diagram", ladder, "ladder", HOVER),
        "".join(f"<p>{_e(finding)}</p>" for finding in flow.findings),
        "</section>",
    ]


def _sectioned(contents: ReportContents, chosen: ConnectionAnalysis | UdpFlow) -> list[ConnectionAnalysis]:
    """The connections drawn in sections, in id order: all of them when they are few, else the
    chosen one, then of those worth a look (a RST, a resend, an unfinished handshake, a
    diagnosis) one of each outcome in turn,
    the rarest outcome first (as the overview picks its rows: a scan's thousand unanswered
    SYNs tell less than its one refused probe), within an outcome the one with the most
    packets first."""
    drawn_anyway = chosen if isinstance(chosen, ConnectionAnalysis) else None
    picked = {drawn_anyway.connection.id: drawn_anyway} if drawn_anyway is not None else {}
    queues = contents.section_queues(drawn_anyway)
    turn = 0
    while len(picked) < MAX_SECTIONS and any(turn < len(queue) for queue in queues):
        for queue in queues:
            if turn < len(queue) and len(picked) < MAX_SECTIONS:
                picked[queue[turn].connection.id] = queue[turn]
        turn += 1
    return [picked[key] for key in sorted(picked)]


# The connections table: (heading, sorted as numbers).
COLUMNS: Final = [
    ("#", True), ("client", False), ("server", False), ("outcome", False), ("first packet", True),
    ("duration", True), ("packets", True), ("resends", True), ("RSTs", True), ("notes", False),
    ("Zeek state", False), ("Zeek history", False),
]  # fmt: skip
WHICH_DRAWN: Final = (
    f"at most {MAX_SECTIONS}: of those with a RST, a resend, an unfinished handshake or a diagnosis, "
    "one of each outcome in turn, the rarest outcome first"
)


def _which(count: int, drawn: set[int]) -> str:
    """Which connections are drawn, in a sentence."""
    if len(drawn) == count:
        return "A # goes to the connection's section below, with its diagrams."
    return (
        f"A # goes to the connection's section below. {len(drawn)} {'is' if len(drawn) == 1 else 'are'} drawn "
        f"({WHICH_DRAWN}); the notes "
        "and the section of any other say why it is not."
    )


def _listed(contents: ReportContents, sections: list[ConnectionAnalysis]) -> list[ConnectionAnalysis]:
    """The table's rows: the first MAX_ROWS, and any beyond them that is drawn (every drawn
    section has its row)."""
    first = contents.listed()
    ids = {r.connection.id for r in first}
    return first + [r for r in sections if r.connection.id not in ids]


def _outcome_words(result: ConnectionAnalysis) -> str:
    """The connection's outcome as the overview's legend says it, a reset by its cause's words."""
    kind = outcome(result)
    if result.resets and kind == "reset":
        cause = result.resets[0].cause
        return reset_ending(cause)
    return OUTCOMES[kind][0].split(" (")[0]  # the legend's words, less its note on the picture


def _like(result: ConnectionAnalysis, drawn: dict[str, int]) -> tuple[int | None, str]:
    """A drawn connection to look at instead of `result` (None if none), and what the two
    share: its first diagnosis where one drawn has that too (helper-126: a tail loss probe's
    row sent the reader to a connection of its outcome with none), else its outcome."""
    for diagnosis in result.diagnoses[:1]:
        like = drawn.get(_DIAGNOSED + diagnosis.kind)
        if like is not None:
            return like, f"the same diagnosis ({diagnosis.kind.replace('_', ' ')})"
    return drawn.get(outcome(result)), "its outcome"


_DIAGNOSED = "diagnosis:"  # _first_drawn's keys of a diagnosis's kind, beside the outcomes'


def _why_not_drawn(result: ConnectionAnalysis) -> tuple[str, str]:
    """Why a connection has no diagrams, in a few words and in a sentence (_like: one drawn to
    look at instead)."""
    if not worth_a_section(result):
        return (
            "nothing unusual",
            "nothing to look at closely: no RST, no resend, no diagnosis, and its handshake finished",
        )
    return (
        "one like it is",
        f"the page draws {MAX_SECTIONS} connections and this outcome's turn went to others",
    )


def _connections_table(
    contents: ReportContents, origin: Clock, sections: list[ConnectionAnalysis]
) -> list[str]:
    drawn = {r.connection.id for r in sections}
    listed = _listed(contents, sections)
    first_drawn = _first_drawn(sections)
    counts = contents.outcomes
    total = contents.count
    options = "".join(
        f'<option value="{key}" data-total="{counts[key]}">{_e(text)} ({counts[key]:,})</option>'
        for key, (text, _color) in OUTCOMES.items()
        if counts[key]
    )
    parts = [
        '<h2 id="connections-heading">Connections</h2>',
        f'<p><label>Show <select id="outcome-filter"><option value="" data-total="{total}">every outcome ({total:,})</option>'
        f'{options}</select></label> <span id="rows-shown" class="note"></span></p>',
        f'<p class="note">Sort by a column: click its heading. Point at a row for its summary. {_which(total, drawn)}</p>',
    ]
    if total > MAX_ROWS:
        parts.append(
            f'<p class="bad">The table lists the first {MAX_ROWS:,} of {total:,} connections '
            f"(by their first packet){' and the ones drawn below after them' if len(listed) > MAX_ROWS else ''}; "
            "the overview and the filter's counts cover them all.</p>"
        )
    head = "".join(
        f'<th data-type="{"number" if numeric else "text"}"><button type="button">{_e(name)}</button></th>'
        for name, numeric in COLUMNS
    )
    rows = []
    for result in listed:
        kind = outcome(result)
        c = result.connection
        color = OUTCOMES[kind][1]
        text = _outcome_words(result)
        lasted = between(c.first_stamp, c.last_stamp) if c.segments else 0.0
        zeek = result.compatibility.zeek
        notes = [DIAGNOSES.get(d.kind, d.kind.replace("_", " ")) for d in result.diagnoses]
        said = "; ".join(d.sentence for d in result.diagnoses)
        notes_html = _e("; ".join(notes))
        if said:
            notes_html = f'<span title="{_e(said)}">{notes_html}</span>'
        if c.id not in drawn:
            short, why = _why_not_drawn(result)
            like = _like(result, first_drawn)[0]
            see = f", see {_connection_link(like, drawn)}" if like is not None else ""
            notes_html += (
                f'{"<br>" if notes else ""}<small title="{_e(why)}">not drawn: {_e(short)}{see}</small>'
            )
        cells = [
            f'<td class="num" data-sort="{c.id}"><a href="#conn-{c.id}">#{c.id}</a></td>',
            f"<td>{_endpoint(c.client, c.family)}</td>",
            f"<td>{_endpoint(c.server, c.family)}</td>",
            f'<td class="outcome" data-sort="{kind}"><span class="swatch" style="background:{color}"></span>{_e(text)}</td>',
            f'<td class="num" data-sort="{origin.since_stamp(c.first_stamp):.9f}">{_since(origin.since_stamp(c.first_stamp))}</td>',
            f'<td class="num" data-sort="{lasted:.9f}">{_e(format_duration(lasted))}</td>',
            f'<td class="num">{c.packets}</td>',
            f'<td class="num">{resent_count(result)}</td>',
            f'<td class="num">{len(result.resets)}</td>',
            f'<td class="notes">{notes_html}</td>',
            f"<td>{_zeek_state(zeek.conn_state)}</td>",
            f"<td>{_zeek_history(zeek.history)}</td>",
        ]
        undrawn = "" if c.id in drawn else ' data-drawn="no"'
        rows.append(
            f'<tr data-id="{c.id}" data-outcome="{kind}"{undrawn} title="{_e(result.summary())}">{"".join(cells)}</tr>'
        )
    parts.append(
        f'<div class="wide"><table id="connections"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )
    return parts


def _first_drawn(sections: list[ConnectionAnalysis]) -> dict[str, int]:
    """Each outcome's first drawn connection, and each diagnosis kind's (_DIAGNOSED and the
    kind), `sections`: in id order."""
    first: dict[str, int] = {}
    for result in sections:
        first.setdefault(outcome(result), result.connection.id)
        for diagnosis in result.diagnoses:
            first.setdefault(_DIAGNOSED + diagnosis.kind, result.connection.id)
    return first


def _undrawn_section(result: ConnectionAnalysis, origin: Clock, drawn: dict[str, int]) -> list[str]:
    """A connection the page does not draw: what the text report says of it, and why no
    diagrams, with a drawn connection of its outcome to look at instead."""
    c = result.connection
    _short, why = _why_not_drawn(result)
    like, shared = _like(result, drawn)
    see = (
        f"; {_connection_link(like, set(drawn.values()))} is drawn and has {shared}"
        if like is not None
        else ""
    )
    parts = [
        f'<section class="connection undrawn" id="conn-{c.id}">',
        f"<h3>Connection #{c.id}: {_e(format_endpoint(c.client, c.family))} → "
        f"{_e(format_endpoint(c.server, c.family))}</h3>",
        f"<p>Outcome: {_e(_outcome_words(result))}; first packet at {_since(origin.since_stamp(c.first_stamp))}; "
        f"{c.packets} packet{'' if c.packets == 1 else 's'}.</p>",
        f"<p>{_e(result.summary())}</p>",
        f'<p class="note">Not drawn: {_e(why)} ({_e(WHICH_DRAWN)}){see}.</p>',
    ]
    if result.diagnoses:
        parts.append(_diagnoses_table([(None, d) for d in result.diagnoses]))
    parts.append("</section>")
    return parts


def _overview(analysis: Analysis, overview: Overview, origin: Clock, name: str) -> str:
    overview.origin = origin.time
    end = analysis.stats.end_time
    overview.end = end if end is not None else origin.time
    return _figure(
        "Overview: every connection on one time axis", figure_svg(overview_figure(overview, name), "overview-"), "overview",
        "A row per connection, coloured by its outcome; a cross where a RST was sent, a tick where a segment "
        "was resent.", level=2,
    )  # fmt: skip


def _glossary(contents: ReportContents) -> list[str]:
    """The codes of other tools on this page, in words: Zeek's states and history letters,
    Wireshark's analysis flags."""
    states = sorted(contents.zeek_states)
    used = contents.zeek_letters
    letters = [x for x in ZEEK_HISTORY if x in used] + sorted(used - ZEEK_HISTORY.keys())  # Zeek's order
    flags = sorted(contents.flag_kinds)
    if not (states or letters or flags):
        return []
    parts = ['<h2 id="glossary">Other tools\' codes on this page</h2><dl class="glossary">']
    parts.extend(f"<dt>Zeek conn_state {_e(s)}</dt><dd>{_e(ZEEK_CONN_STATES.get(s, 'not a state Zeek writes'))}</dd>"
                 for s in states)  # fmt: skip
    if letters:
        parts.append(
            "<dt>Zeek history</dt><dd>one letter per event, upper case when the originator (usually the "
            f"client) sent it, lower case for the responder; {_e(ZEEK_REPEATS)}.<ul>"
            + "".join(
                f"<li><b>{_e(x)}</b>: {_e(ZEEK_HISTORY.get(x, 'not a letter Zeek writes'))}</li>"
                for x in letters
            )
            + "</ul></dd>"
        )
    parts.extend(f"<dt>Wireshark <code>{_e(wireshark_filter(k))}</code></dt><dd>{_e(WIRESHARK_FLAGS.get(k, ''))}</dd>"
                 for k in flags)  # fmt: skip
    parts.append("</dl>")
    return parts


def _clock(analysis: Analysis) -> str:
    start = analysis.stats.start_time
    when = f", captured {wall_clock(start)}" if start is not None else ""
    return (
        '<p class="clock">Times on this page, in the tables, the diagrams and the packets\' details, are seconds '
        f"since the capture's first frame (frame 1{_e(when)}), as Wireshark shows them by default.</p>"
    )


def html_report(
    analysis: Analysis, connection: int | str | None = None, contents: ReportContents | None = None
) -> str:
    """The page. `contents`: what was kept of the connections as they were analyzed (a stream's:
    `analysis.connections` then holds those alone, report_contents.py); else made of
    `analysis.connections`, every one."""
    if contents is None:
        contents = ReportContents(connection)
        for result in analysis.connections:
            contents.add(result)
    sidecar = analysis.sidecar
    chosen, _note = pick_connection(analysis, connection, contents.count)
    name = Path(analysis.file).name
    titled = display_name(analysis.file)  # the pictures' (none for standard input)
    title = f"{sidecar['scenario']}: {name}" if sidecar and "scenario" in sidecar else name
    stats = analysis.stats
    origin = stats.origin or Clock()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{stats.frames} packets ({_e(stats.format)}){_e(stats.fragments_clause())}, {stats.tcp_segments} TCP, "
        f"{plural(contents.count, 'TCP connection')}, {plural(len(analysis.udp), 'UDP flow')}.</p>",
        _clock(analysis),
    ]
    if sidecar:
        release = sidecar.get("kernel", {}).get("release", "not recorded")
        parts.append(f"<p>{_e(sidecar.get('summary', ''))} (kernel {_e(release)})</p>")
    parts.extend(f'<p class="bad">warning: {_e(w)}</p>' for w in stats.warnings)
    if analysis.application:
        parts.append("<h2>What the application saw</h2><ul>")
        parts.extend(f"<li>{_e(finding)}</li>" for finding in analysis.application)
        parts.append("</ul>")
    sections = _sectioned(contents, chosen)
    drawn = {r.connection.id for r in sections}
    # Every row of the table has a section: those not drawn a short one that says why.
    undrawn = [r for r in _listed(contents, sections) if r.connection.id not in drawn]
    linked = drawn | {r.connection.id for r in undrawn}
    parts.extend(_links(analysis.links, linked))
    if contents.count > 1:
        parts.append(_overview(analysis, contents.overview, origin, name))
        parts.extend(_connections_table(contents, origin, sections))
        diagnosed = contents.diagnosed()
        if diagnosed:
            parts.append("<h2>Diagnoses in all connections</h2>")
            parts.append(_diagnoses_table(diagnosed, linked))
            if contents.diagnosed_count > MAX_ROWS:
                parts.append(
                    f"<p>… and {contents.diagnosed_count - MAX_ROWS} more (see the JSON analysis).</p>"
                )
    details: dict[str, Details] = {}
    if isinstance(chosen, UdpFlow):
        parts.extend(_udp_section(chosen, sidecar, origin, details, titled))
    for result in sections:
        parts.extend(_connection_section(result, sidecar, origin, details, titled))
    if undrawn:
        parts.append(f'<h2 id="undrawn">The other {len(undrawn):,} connections in the table, not drawn</h2>')
        first_drawn = _first_drawn(sections)
        for result in undrawn:
            parts.extend(_undrawn_section(result, origin, first_drawn))
    parts.extend(_glossary(contents))
    # Inline JSON: "</" written as "<\/" so that no text can close the script element.
    blob = json.dumps(details, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    parts.append('<div id="packet-tip" role="tooltip" hidden></div>')
    parts.append(f'<script type="application/json" id="packet-details">{blob}</script>')
    parts.append(f"<script>{SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    analysis: Analysis,
    directory: Path,
    connection: int | str | None = None,
    contents: ReportContents | None = None,
) -> Path:
    # First: a capture with nothing to show leaves no folder.
    page = html_report(analysis, connection, contents)
    target = directory / "index.html"
    write_output(target, lambda partial: partial.write_text(page, encoding="utf-8"), named=directory)
    return target
