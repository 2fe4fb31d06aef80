"""Start-up timing for `benchmarks/bench_startup.py`: when FMSTUDIO_STARTUP_LOG names a file,
the app appends one JSON line per milestone (the window shown, the first picture drawn) with
the wall-clock time, and with FMSTUDIO_STARTUP_QUIT=1 it quits after the first picture.

Without the variable every call here is a no-op, so the app pays nothing for it.
"""

from __future__ import annotations

import json
import os
import time

from PySide6.QtWidgets import QApplication

LOG = "FMSTUDIO_STARTUP_LOG"
QUIT = "FMSTUDIO_STARTUP_QUIT"
_seen: set[str] = set()


def mark(milestone: str) -> None:
    """Record `milestone` once (the first time it happens), if start-up is being timed."""
    path = os.environ.get(LOG)
    if not path or milestone in _seen:
        return
    _seen.add(milestone)
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"milestone": milestone, "time": time.time()}) + "\n")
    if milestone == FIRST_PICTURE and os.environ.get(QUIT) == "1":
        QApplication.closeAllWindows()


WINDOW_SHOWN = "window shown"
FIRST_PICTURE = "first picture"
