"""The layers keep to their places: the core computes every finding, the outputs only render
it, and what writes text never loads matplotlib."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import ROOT

OUTPUTS = sorted((ROOT / "analyzer" / "output").glob("*.py"))


def _imported_modules(path) -> set[str]:
    """Every module a file imports, at its top or inside a function (a lazy import counts too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", OUTPUTS, ids=lambda p: p.name)
def test_no_output_module_imports_a_finding(path) -> None:
    findings = sorted(m for m in _imported_modules(path) if m.startswith("analyzer.findings"))
    assert not findings, f"{path.name} computes findings instead of rendering them: imports {findings}"


def test_the_check_sees_imports_inside_functions(tmp_path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from analyzer.findings.zeek_conn import zeek_conn\n")
    assert "analyzer.findings.zeek_conn" in _imported_modules(module)


@pytest.mark.parametrize(
    "module",
    ["analyzer.output.mermaid", "analyzer.output.json_report", "analyzer.output.text_report",
     "analyzer.output.selection", "analyzer.output.labels"],
)  # fmt: skip
def test_text_outputs_do_not_load_matplotlib(module: str) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print('matplotlib' in sys.modules)"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    assert loaded == "False", f"importing {module} loads matplotlib"


def test_the_matplotlib_check_can_see_it() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, analyzer.output.sequence_diagram; print('matplotlib' in sys.modules)"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    assert loaded == "True"
