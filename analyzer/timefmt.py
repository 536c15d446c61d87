"""Durations written the way people read them: µs on loopback, ms on a LAN, s for timeouts."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    magnitude = abs(seconds)
    # The unit is chosen by the rounded figure: 999.9 µs (a float's 1 ms, as timestamps'
    # differences often are) is "1.000 ms", not "1000 µs".
    if round(magnitude * 1e6) < 1000:
        return f"{seconds * 1e6:.0f} µs"
    if round(magnitude * 1e6) < 1_000_000:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds:.3f} s"


def since(seconds: float) -> str:
    """A time after a reference, signed: +1.234 ms; -9.993 s where the capture's clock went back."""
    return ("-" if seconds < 0 else "+") + format_duration(abs(seconds))
