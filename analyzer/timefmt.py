"""Durations written the way people read them: µs on loopback, ms on a LAN, s for timeouts."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    magnitude = abs(seconds)
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if magnitude < 1:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds:.3f} s"
