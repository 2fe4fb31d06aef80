"""The scripted start: command line in, trained app and screenshots out, clean exit."""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image


def run_app(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # keep the user's QSettings untouched
    return subprocess.run(
        [sys.executable, "-m", "fmstudio", "app", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_scripted_start_trains_samples_and_saves_screenshots(tmp_path):
    result = run_app(
        "--dataset", "moons", "--steps", "60", "--hidden", "32", "--train", "--sample",
        "--marginal", "--time", "0.5", "--size", "1200x800",
        "--screenshot", str(tmp_path / "window.png"), "--shots", str(tmp_path / "views"),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "window.png") as shot:
        assert shot.size == (1200, 800)
        assert shot.convert("L").getextrema()[1] > 100  # not a blank window
    names = sorted(p.name for p in (tmp_path / "views").iterdir())
    assert names == [f"{v}.png" for v in ("density", "field", "loss", "samples", "trajectories")]


def test_scripted_start_with_a_bad_dataset_fails_clearly(tmp_path):
    result = run_app("--dataset", str(tmp_path / "none.csv"), "--train", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "none.csv" in result.stderr


def test_scripted_compare_trains_reflows_and_shoots_the_comparison(tmp_path):
    out = tmp_path / "export"
    result = run_app(
        "--dataset", "moons", "--steps", "20", "--hidden", "32", "--compare", "ot,vp",
        "--train", "--reflow", "ot", "--size", "1200x800",
        "--screenshot", str(tmp_path / "compare.png"), "--shots", str(out),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "compare.png") as shot:
        assert shot.size == (1200, 800)
    table = (out / "table.csv").read_text()
    assert [line.split(",")[0] for line in table.splitlines()[1:]] == ["ot", "vp", "reflow(ot)"]
    assert (out / "compare.svg").exists() and (out / "w2_vs_nfe.csv").exists()
