"""Run by test_layout.py in a subprocess on a virtual screen of a given size: opens the main
window as `fmstudio` does, then compare and image mode through their menu actions, and prints
each window's frame size and minimum size as JSON. Not a test module itself."""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication


def main(ini: str) -> None:
    from fmstudio.app.window import MainWindow

    app = QApplication(sys.argv[:1])
    window = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    window.ask_before_discard = False
    window.show()
    try:
        report(app, window)
    finally:
        window.close()


def report(app: QApplication, window) -> None:
    window.findChild(QAction, "actionCompare").trigger()
    window.findChild(QAction, "actionImages").trigger()
    app.processEvents()
    sizes = {
        name: {
            "frame": list(w.frameGeometry().getRect()),
            "size": list(w.size().toTuple()),
            "minimum": list(w.minimumSizeHint().toTuple()),
        }
        for name, w in (
            ("main", window),
            ("compare", window.compare_window),
            ("images", window.image_window),
        )
    }
    screen = app.primaryScreen().availableGeometry()
    print(json.dumps({"screen": [screen.width(), screen.height()], "windows": sizes}))


if __name__ == "__main__":
    main(sys.argv[1])
