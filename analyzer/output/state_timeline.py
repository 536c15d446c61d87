"""State timeline: each endpoint's TCP states as bars over time, on the ladder's time axis.

Time is compressed the way the ladder compresses it (a step per moment, a break with the
real elapsed time for silences), so microsecond handshakes and second-long waits are both
readable. Where the sidecar has kernel snapshots, a tick marks each moment the kernel
reported the same state the bar shows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from analyzer.analysis import ConnectionAnalysis
from analyzer.connections import Side
from analyzer.output.figures import save_figure
from analyzer.output.sequence_diagram import layout_moments
from analyzer.output.text_report import format_endpoint
from analyzer.sidecar import Sidecar
from analyzer.timefmt import format_duration

STATE_COLORS = {
    "CLOSED": "#eeeeee",
    "LISTEN": "#dfe9f5",
    "SYN_SENT": "#fde0b6",
    "SYN_RCVD": "#fde0b6",
    "ESTABLISHED": "#b9e3b9",
    "FIN_WAIT_1": "#f7c6c6",
    "FIN_WAIT_2": "#f3aeae",
    "CLOSE_WAIT": "#f3d5f3",
    "CLOSING": "#e9a3e9",
    "LAST_ACK": "#dcb9f0",
    "TIME_WAIT": "#c9c9f5",
    "UNKNOWN": "#ffffff",  # hatched: the capture cannot tell (analyzer/arrivals.py)
}
HATCH = {"UNKNOWN": "///"}


def draw_state_timeline(result: ConnectionAnalysis, output: Path, sidecar: Sidecar | None = None) -> Path:
    return save_figure(timeline_figure(result, sidecar), output)


def timeline_figure(result: ConnectionAnalysis, sidecar: Sidecar | None = None) -> plt.Figure:
    connection = result.connection
    snapshots = [s for s in sidecar["snapshots"] if s["time"] >= connection.first_time] if sidecar else []
    layout = layout_moments(
        [(s.time, ("pkt", s.frame)) for s in connection.segments]
        + [(snapshot["time"], ("snap", i)) for i, snapshot in enumerate(snapshots)]
    )
    breaks = layout.breaks
    end = max(layout.at.values()) + 1.0
    fig, ax = plt.subplots(figsize=(max(8.0, min(24.0, end * 0.45)), 3.2))
    rows: dict[Side, float] = {"client": 1.0, "server": 0.0}
    for side, y in rows.items():
        history = result.states[side]
        for index, (time, state) in enumerate(history):
            start = layout.y_at(time) if index else 0.0
            stop = layout.y_at(history[index + 1][0]) if index + 1 < len(history) else end
            if stop <= start:
                continue  # held for no visible span
            ax.barh(y, stop - start, left=start, height=0.6, color=STATE_COLORS.get(state.value, "#ffffff"),
                    edgecolor="#555555", linewidth=0.6, hatch=HATCH.get(state.value))  # fmt: skip
            if stop - start >= 1.6:
                ax.text((start + stop) / 2, y, state.value, ha="center", va="center", fontsize=8,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1} if state.value in HATCH else None)  # fmt: skip
        if not history:
            ax.text(
                end / 2,
                y,
                "state unknown (sent nothing)",
                ha="center",
                va="center",
                fontsize=8,
                style="italic",
            )
    confirmed = result.kernel.confirmed if result.kernel is not None else []
    for time, side in confirmed:
        ax.plot([layout.y_at(time)], [rows[side] + 0.38], marker="v", color="#2ca02c", markersize=6)
    for x, gap, _before in breaks:
        ax.axvline(x, color="#999999", linestyle=(0, (2, 3)), linewidth=0.8)
        ax.text(x, 1.55, f"≈{format_duration(gap)}", ha="center", va="bottom", fontsize=7, color="#555555")
    # Short states get no label inside their bar: the legend names every colour shown.
    shown = list(dict.fromkeys(state.value for side in rows for _t, state in result.states[side]))
    handles = [
        Patch(
            facecolor=STATE_COLORS.get(name, "#ffffff"),
            edgecolor="#555555",
            hatch=HATCH.get(name),
            label=name + (" (a segment may not have arrived)" if name in HATCH else ""),
        )
        for name in shown
    ]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_yticks([1.0, 0.0])
    ax.set_yticklabels([
        f"client\n{format_endpoint(connection.client, connection.family)}",
        f"server\n{format_endpoint(connection.server, connection.family)}",
    ])  # fmt: skip
    ax.set_ylim(-0.6, 1.9)
    ax.set_xlim(0, end)
    ax.set_xticks([])
    ax.set_xlabel("time →  (one step per packet or snapshot; dotted lines: silences, with their real length)")
    title = f"#{connection.id} TCP states"
    if sidecar:
        title = f"{sidecar.get('scenario', '')}: {title}"
    if confirmed:
        title += "   ▼ the kernel reported the same state"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
