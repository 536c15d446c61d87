"""Writing matplotlib figures: beside the target, then renamed into place, so that a reader
never finds half a file; the format follows the suffix (SVG keeps text as text)."""

from __future__ import annotations

import io
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.text import Text

from analyzer.files import write_output

plt.rcParams["svg.fonttype"] = "none"
# Every text drawn is literal: a traced call's bytes, a file or command name may hold two "$",
# which matplotlib would otherwise read as mathtext (and fail on).
plt.rcParams["text.parse_math"] = False


# The warning strip's lines: characters on a line for each inch of width, inches a line.
WARNING_CHARS_PER_INCH = 13
WARNING_LINE_INCHES = 0.19
WARNING_COLOR = "#b00020"


def save_figure(
    fig: plt.Figure, output: Path, metadata: dict | None = None, warnings: Sequence[str] = ()
) -> Path:
    """metadata: as matplotlib's savefig takes it ({"Date": None}: an SVG without the date);
    warnings: the reader's (add_warning_strip)."""
    add_warning_strip(fig, warnings)
    try:
        write_output(
            output,
            lambda partial: fig.savefig(
                partial, dpi=150, format=output.suffix.lstrip(".") or "svg", metadata=metadata
            ),
            output.suffix,
        )
    finally:
        plt.close(fig)
    return output


def add_warning_strip(fig: plt.Figure, warnings: Sequence[str]) -> None:
    """The reader's warnings (a capture cut off, frames it could not read) in a strip above
    the picture: a picture passed on without its command's output still says what the
    capture lacks. The figure grows by the strip; what was drawn keeps its size in inches."""
    if not warnings:
        return
    width, height = fig.get_size_inches()
    chars = max(40, int(width * WARNING_CHARS_PER_INCH))
    text = "\n".join(textwrap.fill(f"warning: {warning}", chars) for warning in warnings)
    strip = WARNING_LINE_INCHES * (text.count("\n") + 1) + 0.2
    grown = height + strip
    for ax in fig.axes:
        left, bottom, wide, tall = ax.get_position().bounds
        ax.set_position((left, bottom * height / grown, wide, tall * height / grown))
    for artist in fig.get_children():  # the figure's own texts (its suptitle among them)
        if isinstance(artist, Text) and artist.get_transform() == fig.transFigure:
            x, y = artist.get_position()
            artist.set_position((x, y * height / grown))
    fig.set_size_inches(width, grown)
    fig.text(0.5, 1 - 0.1 / grown, text, ha="center", va="top", fontsize=9, color=WARNING_COLOR)


def figure_svg(fig: plt.Figure, scope: str = "") -> str:
    """The figure as inline SVG markup (for an HTML page): no XML prologue, text as text.
    Its ids made unique on the page: each prefixed by `scope` (every figure matplotlib makes
    has its "figure_1", "axes_1", ...), the references to them too, and a gid set on many
    elements (an arrow's label) a class instead; the packets' "pkt-" ids, which the page's
    script and the details read, stay as they are (a frame is in one figure)."""
    buffer = io.StringIO()
    try:
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    text = buffer.getvalue()
    return unique_ids(text[text.index("<svg") :], scope)


_TAG = re.compile(r"<[^>]+>")  # text is escaped (no "<" in it): a file's name in a title is no tag
_ID = re.compile(r' id="([^"]+)"')
_REFERENCE = re.compile(r'(url\(#|href="#)([^)"]+)')


def unique_ids(svg: str, scope: str) -> str:
    """`svg` with ids unique on a page of several figures (figure_svg): read and rewritten
    inside tags only."""
    counts = Counter(ident for tag in _TAG.findall(svg) for ident in _ID.findall(tag))
    owned = {ident for ident, count in counts.items() if count == 1 and not ident.startswith("pkt-")}

    def renamed(match: re.Match[str]) -> str:
        ident = match.group(1)
        if ident.startswith("pkt-"):
            return match.group(0)
        if counts[ident] > 1:
            return f' class="{ident}"'
        return f' id="{scope}{ident}"'

    def referred(match: re.Match[str]) -> str:
        return match.group(1) + (scope + match.group(2) if match.group(2) in owned else match.group(2))

    def in_tag(match: re.Match[str]) -> str:
        tag = _ID.sub(renamed, match.group(0))
        return _REFERENCE.sub(referred, tag) if scope else tag

    return _TAG.sub(in_tag, svg)
