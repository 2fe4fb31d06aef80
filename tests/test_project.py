"""Project rules that a reviewer would otherwise check by hand: layering and lint."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "shiboken6")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_never_imports_qt_in_its_source():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] in QT_MODULES
        )
        for path in (ROOT / "fmstudio" / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_whole_core_and_cli_loads_no_qt():
    code = (
        "import sys, pkgutil, importlib, fmstudio.core as core, fmstudio.cli\n"
        "for m in pkgutil.walk_packages(core.__path__, 'fmstudio.core.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff(args):
    ruff = str(Path(sys.executable).parent / "ruff")  # installed with the test extras
    result = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_window_and_the_cli_s_help_import_neither_torch_nor_pot(tmp_path):
    """The window's process draws and edits; torch and POT load in the training process only
    (issue 12: the window opens at once). Built for real: the main window, image mode and
    compare mode, each with its training process running."""
    code = (
        "import os, sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import fmstudio.cli\n"
        "fmstudio.cli.build_parser()\n"
        "from fmstudio.app.window import MainWindow\n"
        f"w = MainWindow(QSettings({str(tmp_path / 'p.ini')!r}, QSettings.Format.IniFormat))\n"
        "w.show(); w.open_images(); w.open_compare('ot,vp')\n"
        "for _ in range(50): app.processEvents()\n"
        "heavy = sorted(m for m in ('torch', 'ot', 'torchdiffeq', 'safetensors')"
        " if m in sys.modules)\n"
        "for win in (w.image_window, w.compare_window, w): win.close()\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _import_graph() -> dict[str, set[str]]:
    """fmstudio's modules and the fmstudio modules each imports (anywhere in its source)."""
    modules = {}
    for path in (ROOT / "fmstudio").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def test_no_import_cycle_and_layers_one_way():
    """core ← live ← app and cli: no module imports a layer above its own, app never imports
    the CLI, and no two modules import each other, directly or around a loop."""
    graph = _import_graph()
    layer = {"core": 0, "live": 1, "app": 2, "cli": 2}
    for name, deps in graph.items():
        own = layer.get(name.split(".")[1], -1) if name.count(".") else -1
        for dep in deps:
            above = layer.get(dep.split(".")[1], -1) if dep.count(".") else -1
            assert above <= own or own == -1, f"{name} imports {dep}"
            assert not (name.startswith("fmstudio.app") and dep == "fmstudio.cli"), name
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        seen[name] = 1
        for dep in sorted(graph[name]):
            assert seen.get(dep) != 1, "import cycle: " + " -> ".join([*path, name, dep])
            if dep not in seen:
                visit(dep, [*path, name])
        seen[name] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name, [])
