"""Renderings of an Analysis: JSON (stable schema), text, sequence diagrams."""
