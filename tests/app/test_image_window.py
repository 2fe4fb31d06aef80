"""Image mode driven as a person drives it: digits train, the fixed-noise grid and the x_t strip
refresh, bits/dim comes in, sampling and every export work, a bad file is reported."""

from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from fmstudio.app.images import DEFAULT_CONFIG, ImageWindow
from fmstudio.core.io import load_flow
from fmstudio.live.protocol import SaveModel

CONFIG = dataclasses.replace(
    DEFAULT_CONFIG, steps=120, batch_size=32, held_out=64, warmup_steps=10, device="cpu"
)


def test_digits_train_and_the_views_fill(qtbot, tmp_path, record):
    window = ImageWindow(CONFIG)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.grid_view.picture is not None, timeout=60000)
    first = window.grid_view.picture.copy()
    assert window.target_view.picture is not None
    assert window.samples.shape == (64, 1, 8, 8)
    # the strip: 8 images (rows) × 9 times (columns) of 8×8 tiles with 1 px padding
    assert window.strip_view.picture.shape[:2] == (8 * 9 + 1, 9 * 9 + 1)

    qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state == "finished", timeout=120000)
    qtbot.waitUntil(lambda: window.bpd_view.values()[-1][0] == CONFIG.steps, timeout=60000)
    (_, untrained), (_, trained) = window.bpd_view.values()[0], window.bpd_view.values()[-1]
    assert 0.5 < trained < untrained  # bits/dim of held-out digits fell while training
    losses = window.loss_view.losses()
    assert len(losses) == CONFIG.steps and np.isfinite(losses).all()
    qtbot.waitUntil(lambda: not np.array_equal(window.grid_view.picture, first), timeout=20000)

    sampled = record(window.controller.sampled)
    window.sample()
    qtbot.waitUntil(lambda: bool(sampled.calls), timeout=30000)
    assert "sampled: midpoint, NFE 32" in window.grid_view.caption.text()
    assert window.samples.shape == (64, 1, 8, 8)

    grid = window.export_grid(tmp_path / "grid.png")
    with Image.open(grid) as image:
        assert image.width == (8 * (8 + 1) + 1) * 8 and image.mode == "L"  # tiles × 8
    files = window.export_images(tmp_path / "each")
    assert len(files) == 64
    saved = record(window.controller.saved)
    window.controller.send(SaveModel(str(tmp_path / "model")))
    qtbot.waitUntil(lambda: bool(saved.calls), timeout=30000)
    assert load_flow(tmp_path / "model").sample(2, steps=2).x.shape == (2, 1, 8, 8)
    window.close()


def test_a_corrupt_file_or_a_killed_process_is_reported_and_the_app_goes_on(qtbot, tmp_path):
    window = ImageWindow(CONFIG)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.grid_view.picture is not None, timeout=60000)
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03garbage")
    window.set_dataset(f"mnist:{bad}")
    qtbot.waitUntil(lambda: str(bad) in window.last_error, timeout=30000)
    assert not window.error.isHidden()
    window.set_dataset("digits")  # and a good dataset trains again
    assert window.error.isHidden()
    qtbot.waitUntil(lambda: window.step == 0 and window.target_view.picture is not None)

    dead = window.controller.process.pid  # the process dies (a crash, the OOM killer)
    os.kill(dead, signal.SIGKILL)
    qtbot.waitUntil(lambda: "killed by SIGKILL" in window.last_error, timeout=15000)
    qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)  # a new one trains
    qtbot.waitUntil(lambda: window.state == "training" and window.step > 0, timeout=60000)
    assert window.controller.process.pid != dead
    window.close()


def test_new_run_and_close_ask_before_dropping_a_trained_model(qtbot, answer_discard):
    from fmstudio.app.ask import Answer

    window = ImageWindow(dataclasses.replace(CONFIG, steps=5))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.grid_view.picture is not None, timeout=60000)
    qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state == "finished" and window.step == 5, timeout=60000)
    answer_discard.answers = [Answer.CANCEL, Answer.CANCEL]
    qtbot.mouseClick(window.findChild(object, "imageNewRun"), Qt.MouseButton.LeftButton)
    window.close()
    qtbot.wait(300)
    assert len(answer_discard.asked) == 2 and "5 steps" in answer_discard.asked[0]
    assert window.isVisible() and window.step == 5  # both cancelled: nothing lost
    window.close()  # Discard
    assert not window.isVisible()
