"""Writing matplotlib figures: beside the target, then renamed into place, so that a reader
never finds half a file; the format follows the suffix (SVG keeps text as text)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.rcParams["svg.fonttype"] = "none"
# Every text drawn is literal: a traced call's bytes, a file or command name may hold two "$",
# which matplotlib would otherwise read as mathtext (and fail on).
plt.rcParams["text.parse_math"] = False


def save_figure(fig: plt.Figure, output: Path, metadata: dict | None = None) -> Path:
    """metadata: as matplotlib's savefig takes it ({"Date": None}: an SVG without the date)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial" + output.suffix)
    try:
        fig.savefig(partial, dpi=150, format=output.suffix.lstrip(".") or "svg", metadata=metadata)
    finally:
        plt.close(fig)
    partial.replace(output)
    return output


def figure_svg(fig: plt.Figure) -> str:
    """The figure as inline SVG markup (for an HTML page): no XML prologue, text as text."""
    buffer = io.StringIO()
    try:
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]
