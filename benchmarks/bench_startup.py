"""How fast fmstudio starts, measured from the user's command on a fresh interpreter.

- `fmstudio --help`: the CLI's parser alone (it must import neither torch nor POT);
- the window visible: `fmstudio` until the main window is shown and the event loop runs;
- the first picture: until the untrained model's first snapshot is drawn (the training
  process imports torch meanwhile, in parallel with the window);
- what the window's process imported: torch, POT and scipy must not be among its modules.

Each figure is the median of `--repeats` runs, beside `python -c pass` (the interpreter's own
start) measured in the same run. The app reports its milestones through FMSTUDIO_STARTUP_LOG
(`fmstudio/app/startup.py`) and quits after the first picture.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_startup --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import emit

GOALS = {"help_s": 0.5, "window_s": 1.5, "first_picture_s": 3.0}
"""Issue 12's goals on the 2-core machine."""
HEAVY = ("torch", "ot", "scipy", "sklearn", "torchdiffeq", "safetensors")


def _wall(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def _app_milestones(home: Path) -> dict[str, float]:
    """One start of `fmstudio` (a fresh profile in `home`): seconds from launch to each
    milestone the app logged."""
    log = home / "startup.jsonl"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "FMSTUDIO_STARTUP_LOG": str(log),
        "FMSTUDIO_STARTUP_QUIT": "1",
    }
    launched = time.time()
    subprocess.run(
        [sys.executable, "-m", "fmstudio", "app", "--size", "1366x768"],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    marks = [json.loads(line) for line in log.read_text().splitlines()]
    return {m["milestone"]: m["time"] - launched for m in marks}


def _window_imports() -> list[str]:
    """The heavy modules the window's process has loaded once its windows are built."""
    code = (
        "import os, sys; os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import fmstudio.cli, fmstudio.app.main, fmstudio.app.compare_window, fmstudio.app.images\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().replace("'", '"'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = [sys.executable, "-c", "pass"]
    help_cmd = [sys.executable, "-m", "fmstudio", "--help"]
    results: dict[str, object] = {
        "python_s": round(statistics.median(_wall(python) for _ in range(args.repeats)), 3),
        "help_s": round(statistics.median(_wall(help_cmd) for _ in range(args.repeats)), 3),
    }
    with tempfile.TemporaryDirectory() as home:
        starts = [_app_milestones(Path(home)) for _ in range(args.repeats)]
    for key, milestone in (("window_s", "window shown"), ("first_picture_s", "first picture")):
        results[key] = round(statistics.median(s[milestone] for s in starts), 3)
    results["window_process_imports"] = _window_imports()
    results["goals"] = GOALS
    results["met"] = (
        all(results[k] <= goal for k, goal in GOALS.items())
        and not results["window_process_imports"]
    )
    emit("startup", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
