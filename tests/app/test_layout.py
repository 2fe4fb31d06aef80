"""Windows fit the screen they open on, and a saved layout can never break the window: it is
restored only while it fits, the Controls dock keeps a readable width, and View ▸ Reset layout
puts everything back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QAction

from fmstudio.app.screen import DECORATION, fitted_size
from fmstudio.app.window import CONTROLS_MIN_WIDTH, MainWindow

SCREENS = {"laptop": (1366, 768), "desktop": (1920, 1080)}


def make_window(qtbot, ini) -> MainWindow:
    w = MainWindow(QSettings(str(ini), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_a_squeezed_controls_dock_is_not_restored_and_reset_layout_mends_it(qtbot, tmp_path):
    ini = tmp_path / "prefs.ini"
    first = make_window(qtbot, ini)
    first.resize(780, 700)
    qtbot.wait(50)
    first.resizeDocks([first.docks["controls"]], [110], Qt.Orientation.Horizontal)
    first.docks["density"].hide()
    qtbot.wait(50)
    first.close()

    again = make_window(qtbot, ini)
    assert again.size().toTuple() == (780, 700)  # the remembered geometry, not a default
    tabs = again.tabs.tabBar()
    assert again.docks["controls"].width() >= CONTROLS_MIN_WIDTH
    assert tabs.width() >= tabs.sizeHint().width()  # no truncated tab titles
    assert not again.docks["density"].isVisible()

    again.findChild(QAction, "actionResetLayout").trigger()
    qtbot.wait(50)
    assert all(dock.isVisible() for dock in again.docks.values())
    assert not any(dock.isFloating() for dock in again.docks.values())
    assert again.docks["controls"].width() >= CONTROLS_MIN_WIDTH
    again.close()


def screen_env(screen: str, tmp_path) -> dict[str, str]:
    """Offscreen Qt on a virtual screen of the given size, with preferences under tmp_path."""
    width, height = SCREENS[screen]
    config = tmp_path / f"{screen}.json"
    config.write_text(
        json.dumps({"screens": [{"name": screen, "width": width, "height": height, "x": 0,
                                 "y": 0, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]})
    )  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


def run_on_screen(screen: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`fmstudio app ARGS` offscreen on a virtual screen of the given size."""
    return subprocess.run(
        [sys.executable, "-m", "fmstudio", "app", *args],
        capture_output=True, text=True, timeout=300, env=screen_env(screen, tmp_path),
    )  # fmt: skip


@pytest.mark.parametrize(("screen", "expected"), [((1366, 768), (1358, 728)), ((1920, 1080), None)])
def test_windows_take_their_size_shrunk_to_the_screen(screen, expected):
    area = QRect(0, 0, *screen)
    for preferred in ((1500, 950), (1400, 900)):
        assert fitted_size(preferred, area) == (expected or preferred)


def test_every_window_opens_within_a_laptop_screen(tmp_path):
    """Main, compare and image windows (opened from the menu) on a 1366 × 768 screen: inside
    it, using it, and never needing more than it has."""
    screen = "laptop"
    width, height = SCREENS[screen]
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("screen_probe.py")), str(tmp_path / "p.ini")],
        capture_output=True, text=True, timeout=300, env=screen_env(screen, tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["screen"] == [width, height]
    preferred = {"main": (1500, 950), "compare": (1500, 950), "images": (1400, 900)}
    for name, window in report["windows"].items():
        x, y, w, h = window["frame"]
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (name, window)
        room = (width - DECORATION[0], height - DECORATION[1])
        expected = (min(preferred[name][0], room[0]), min(preferred[name][1], room[1]))
        assert tuple(window["size"]) == expected, (name, window)
        assert window["minimum"][0] <= room[0] and window["minimum"][1] <= room[1], name


def test_the_main_window_remembers_its_size_on_a_larger_screen(tmp_path):
    shot = tmp_path / "again.png"
    args = ("--dataset", "moons", "--hidden", "32")
    first = run_on_screen("desktop", tmp_path, *args, "--size", "1366x740", "--screenshot",
                          str(tmp_path / "first.png"))  # fmt: skip
    assert first.returncode == 0, first.stderr
    again = run_on_screen("desktop", tmp_path, *args, "--screenshot", str(shot))
    assert again.returncode == 0, again.stderr
    with Image.open(shot) as image:
        assert image.size == (1366, 740)
