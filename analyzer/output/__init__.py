"""Renderings of an Analysis: JSON (stable schema), text, sequence diagrams."""

# What drawing loads (matplotlib, numpy, PIL by way of these), imported ahead with Ctrl-C
# and SIGTERM held (analyzer.interrupts.import_uninterrupted): html_report draws every
# chart; the backends are loaded as a figure is saved, PIL's plugins as the first PNG is.
DRAWING_MODULES = (
    "analyzer.output.html_report",
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_svg",
    "PIL.features",
    *(f"PIL.{kind}ImagePlugin" for kind in ("Bmp", "Gif", "Jpeg", "Ppm")),
)
