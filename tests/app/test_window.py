"""The whole app driven as a person drives it: pick, draw, train, pause, sample, export, close."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pictures import ink_fraction, renderers_agree
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QListWidget,
    QToolButton,
)
from qtdrive import Recorder, drag

from fmstudio.app.files import GIF_FRAMES
from fmstudio.app.window import MainWindow
from fmstudio.cli import main as cli_main
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import load_points
from fmstudio.core.evaluate import held_out_target
from fmstudio.core.io import load_trainer
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.solver_spec import SampleRequest, SolverSpec

FAST = TrainConfig(
    hidden=64,
    depth=2,
    batch_size=256,
    steps=1000,
    lr=5e-3,
    ema_decay=0.99,
    warmup_steps=20,
    device="cpu",
)


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    w.runs = Recorder(w.controller.runStarted)
    qtbot.waitUntil(lambda: w.run_info is not None, timeout=20000)
    yield w
    w.close()


def use_config(window, qtbot, config: TrainConfig = FAST) -> None:
    """Settings as the panel would hold them, then Reset (a fresh model on them)."""
    runs = len(window.runs.calls)
    window.settings_panel.set_config(config)
    window.new_run()
    qtbot.waitUntil(lambda: len(window.runs.calls) > runs, timeout=20000)


def click(qtbot, window, name: str, kind=QAbstractButton) -> None:
    widget = window.findChild(kind, name)
    assert widget is not None, name
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def train_until(qtbot, window, state="finished", timeout=60000) -> None:
    if window.state != "training":
        window.toggle_training()
    qtbot.waitUntil(lambda: window.state == state, timeout=timeout)


def live_w2(window) -> float:
    samples = window.samples_view.samples
    target = window.run_info.target[: len(samples)]
    return wasserstein2(samples, target)


def test_opens_on_a_preset_with_a_picture_before_any_training(window, qtbot):
    assert window.source.kind == "preset" and window.source.name == "checkerboard"
    qtbot.waitUntil(lambda: window.samples_view.samples is not None, timeout=20000)
    assert window.step == 0 and window.state == "idle"
    assert window.trajectory_view.trajectories is not None
    assert window.findChild(QAbstractButton, "timePlay") is not None


def test_every_interactive_control_has_an_object_name(window):
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QAbstractSlider, QListWidget)
    unnamed = []
    for kind in kinds:
        for widget in window.findChildren(kind):
            internal = widget.objectName().startswith("qt_") or type(widget).__module__.startswith(
                "pyqtgraph"
            )
            dock_button = isinstance(widget, QToolButton) and widget.parent().inherits(
                "QDockWidget"
            )
            scroll = isinstance(widget, QAbstractSlider) and widget.inherits("QScrollBar")
            if not widget.objectName() and not (internal or dock_button or scroll):
                unnamed.append(f"{type(widget).__name__} {widget.toolTip() or widget.parent()}")
    assert unnamed == []


def test_pick_a_preset_train_and_the_samples_approach_the_target(window, qtbot):
    gallery = window.data_panel.findChild(QListWidget, "presetList")
    item = next(
        gallery.item(i)
        for i in range(gallery.count())
        if gallery.item(i).data(Qt.ItemDataRole.UserRole) == "moons"
    )
    rect = gallery.visualItemRect(item)
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.run_info.config.dataset == "moons", timeout=20000)
    use_config(window, qtbot)
    qtbot.waitUntil(lambda: window.samples_view.samples is not None, timeout=20000)
    before = live_w2(window)
    train_until(qtbot, window)
    qtbot.waitUntil(lambda: window.step == FAST.steps, timeout=10000)
    losses = window.loss_view.losses()
    assert len(losses) == FAST.steps
    assert np.mean(losses[-50:]) < 0.85 * np.mean(losses[:20])  # CFM loss has a high floor
    after = live_w2(window)
    assert after < 0.5 * before, (before, after)
    assert window.progress.value() == FAST.steps


def test_draw_a_stroke_and_it_becomes_the_target(window, qtbot):
    click(qtbot, window, "sourceDraw")
    assert window.source.kind == "drawing" and window.samples_view.tool == "brush"
    stroke = [(x, 1.5) for x in np.linspace(-2.0, 2.0, 12)]
    drag(window.samples_view, stroke)
    assert len(window.drawing) == 12 * window.data_panel.brush_density()
    qtbot.waitUntil(lambda: window.run_info.config.dataset == "drawing", timeout=20000)
    target = window.run_info.target
    assert abs(np.median(target[:, 1]) - 1.5) < 0.3 and target[:, 0].min() > -2.6
    click(qtbot, window, "drawEraser")
    drag(window.samples_view, [(0.0, 1.5)])
    erased = len(window.drawing)
    assert erased < 12 * window.data_panel.brush_density()
    click(qtbot, window, "drawUndo")
    assert len(window.drawing) == 12 * window.data_panel.brush_density()
    click(qtbot, window, "drawClear")
    assert len(window.drawing) == 0


def test_drawing_while_training_retargets_the_live_run(window, qtbot):
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 100000}))
    train_until(qtbot, window, state="training")
    qtbot.waitUntil(lambda: window.step > 10, timeout=20000)
    click(qtbot, window, "sourceDraw")
    drag(window.samples_view, [(3.0, 3.0), (3.2, 3.0)])
    qtbot.waitUntil(lambda: window.run_info.target[:, 0].mean() > 2.5, timeout=20000)
    assert window.state == "training"  # the model kept training, now toward the drawing
    window.toggle_training()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=10000)


def test_pause_and_resume_with_the_keyboard(window, qtbot):
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 100000}))
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.state == "training" and window.step > 5, timeout=20000)
    assert window.action_train.text() == "Pause"
    QTest.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.state == "paused", timeout=10000)
    qtbot.wait(300)  # the paused picture (sent right after the state) arrives
    step = window.step
    qtbot.wait(500)
    assert window.step == step  # nothing trains while paused
    assert not window.settings_panel.widget("hidden").isEnabled()  # locked mid-run
    assert window.settings_panel.widget("lr").isEnabled()
    QTest.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.step > step + 5, timeout=20000)
    window.toggle_training()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=10000)


def test_sample_with_two_solvers_shows_nfe_w2_and_time(window, qtbot, record):
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 150}))
    train_until(qtbot, window)
    panel = window.sampling_panel
    results = record(window.controller.sampled)
    panel.set_request(SampleRequest(500, 1, SolverSpec.fixed("euler", 8)))
    click(qtbot, window, "sampleButton")
    qtbot.waitUntil(lambda: len(results.calls) == 1, timeout=20000)
    assert results.last.nfe == 8
    assert panel.findChild(QLabel, "samplingNfe").text().startswith("8")
    w2_text = panel.findChild(QLabel, "samplingW2").text()  # W2 next to two target draws' W2
    assert w2_text == f"{results.last.w2:.4g} (perfect ≈ {results.last.w2_floor:.4g})", w2_text
    panel.set_request(SampleRequest(500, 1, SolverSpec.tolerance("dopri5", 1e-4)))
    QTest.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(results.calls) == 2, timeout=30000)
    adaptive = results.last
    assert adaptive.solver.method == "dopri5" and adaptive.nfe > 8
    assert adaptive.w2 is not None and adaptive.w2 > 0
    assert np.allclose(window.samples_view.samples, adaptive.trajectories.samples)


def test_exports_write_files_that_read_back(window, qtbot, tmp_path):
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 60}))
    train_until(qtbot, window)
    files = window.files
    model = tmp_path / "model"
    files.export_model(model)
    qtbot.waitUntil(lambda: (model / "config.json").exists(), timeout=10000)
    assert cli_main(["sample", str(model), "--n", "50", "--out", str(tmp_path / "s.npy")]) == 0
    assert load_points(tmp_path / "s.npy").shape == (50, 2)

    for name in ("samples.npy", "samples.csv"):
        files.export_samples(tmp_path / name)
        assert load_points(tmp_path / name).shape == window.samples_view.samples.shape
    for view in window.views:
        files.export_view(view, tmp_path / f"{view}.png")
        with Image.open(tmp_path / f"{view}.png") as image:
            assert image.width >= 800
    files.export_view("field", tmp_path / "field.svg")
    assert "<svg" in (tmp_path / "field.svg").read_text()
    files.export_animation(tmp_path / "flow.gif", frames=6)
    with Image.open(tmp_path / "flow.gif") as gif:
        assert gif.n_frames == 6
    files.screenshot(tmp_path / "window.png")
    with Image.open(tmp_path / "window.png") as shot:
        assert shot.size[0] >= 1000
    assert window.last_error is None


def test_session_round_trip_restores_settings_drawing_and_model(window, qtbot, tmp_path):
    click(qtbot, window, "sourceDraw")
    drag(window.samples_view, [(x, -1.0) for x in np.linspace(-1.0, 1.0, 6)])
    drawn = np.array(window.drawing.points)
    config = TrainConfig(**{**FAST.to_dict(), "steps": 40, "lr": 1e-3})
    use_config(window, qtbot, config)
    train_until(qtbot, window)
    session = tmp_path / "my.fmstudio.json"
    window.files.save_session(session)
    qtbot.waitUntil(lambda: (tmp_path / "my.model" / "config.json").exists(), timeout=10000)
    assert json.loads(session.read_text())["model"] == "my.model"

    window.files.new_session()
    qtbot.waitUntil(lambda: window.run_info.config.dataset == "checkerboard", timeout=20000)
    assert len(window.drawing) == 0
    window.files.open_session(session)
    qtbot.waitUntil(lambda: window.step == 40, timeout=20000)
    assert np.allclose(window.drawing.points, drawn)
    assert window.source.kind == "drawing"
    assert window.settings_panel.config().lr == 1e-3
    assert window.prefs.recent_sessions()[0] == str(session.resolve())
    assert window.recent_menu.actions()[0].text() == session.name


def test_bad_files_and_settings_show_an_error_and_the_app_goes_on(window, qtbot, tmp_path):
    bad_model = tmp_path / "bad"
    bad_model.mkdir()
    (bad_model / "config.json").write_text("{ not json")
    window.files.open_model(bad_model)
    assert "Cannot open the model" in window.last_error
    assert window.banner_row.isVisible()
    (tmp_path / "pts.csv").write_text("x,y\n1,2,3\n")
    window.files.import_points(tmp_path / "pts.csv")
    assert "pts.csv" in window.last_error
    window.files.open_session(tmp_path / "missing.json")
    assert "not found" in window.last_error
    window.files.export_view("loss", tmp_path / "loss.bmp")
    assert "must end in" in window.last_error
    click(qtbot, window, "errorClose")
    assert not window.banner_row.isVisible()
    use_config(window, qtbot)  # still works


def test_a_diverging_run_is_reported_and_the_app_goes_on(window, qtbot):
    config = TrainConfig(**{**FAST.to_dict(), "lr": 0.09, "grad_clip": 0.0, "warmup_steps": 0})
    use_config(window, qtbot, config)
    window.change_setting("lr", 1e6)
    window.toggle_training()
    qtbot.waitUntil(lambda: "diverged" in (window.last_error or ""), timeout=30000)
    assert window.state == "paused" and window.banner_row.isVisible()
    # (that the kept weights are the last finite ones is checked in test_engine)
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 30}))
    train_until(qtbot, window)  # the app goes on: a fresh run trains to the end


def test_close_while_training_stops_training_cleanly(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    w.show()
    qtbot.waitUntil(lambda: w.run_info is not None, timeout=20000)
    w.settings_panel.set_config(TrainConfig(**{**FAST.to_dict(), "steps": 100000}))
    w.new_run()
    w.toggle_training()
    qtbot.waitUntil(lambda: w.step > 5, timeout=20000)
    w.close()
    assert w.controller.thread is None  # joined, not abandoned
    assert not w.controller.process.is_alive()
    assert QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat).value("geometry")


def test_hiding_a_view_stops_its_computation(window, qtbot):
    window.docks["field"].close()
    window.docks["density"].close()
    qtbot.waitUntil(
        lambda: "field" not in window.controller.views and "density" not in window.controller.views
    )
    window.action_marginal.setChecked(True)
    assert "marginal" not in window.controller.views  # its view is hidden
    window.docks["field"].show()
    qtbot.waitUntil(lambda: "marginal" in window.controller.views)
    assert window.field_view.show_marginal.isChecked()


def test_preset_noise_and_scale_reshape_the_target(window, qtbot):
    before = window.run_info.target.std()
    window.findChild(QDoubleSpinBox, "setting_scale").setValue(2.0)
    qtbot.waitUntil(lambda: window.run_info.config.scale == 2.0, timeout=20000)
    assert window.run_info.target.std() == pytest.approx(2.0 * before, rel=0.05)
    window.findChild(QDoubleSpinBox, "setting_jitter").setValue(0.5)
    qtbot.waitUntil(lambda: window.run_info.config.jitter == 0.5, timeout=20000)
    assert window.current_config().scale == 2.0


def test_reset_while_training_starts_over_cleanly(window, qtbot):
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 100000}))
    train_until(qtbot, window, state="training")
    qtbot.waitUntil(lambda: window.step > 20, timeout=20000)
    runs = len(window.runs.calls)
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(window.runs.calls) > runs, timeout=20000)
    qtbot.waitUntil(lambda: window.step == 0 and window.state != "training", timeout=20000)
    assert len(window.loss_view.losses()) == 0 and window.last_error is None
    assert window.settings_panel.widget("hidden").isEnabled()  # a fresh run: unlocked again


def test_the_density_view_switches_to_the_exact_likelihood(window, qtbot):
    box = window.findChild(QAbstractButton, "densityExact")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert window.action_likelihood.isChecked()
    qtbot.waitUntil(lambda: "likelihood" in window.controller.views)
    kind = window.findChild(QLabel, "densityKind")
    qtbot.waitUntil(lambda: kind.text() == "exact likelihood", timeout=30000)


def test_drawn_points_round_trip_through_csv_and_npy(window, qtbot, tmp_path):
    click(qtbot, window, "sourceDraw")
    drag(window.samples_view, [(x, 0.5) for x in np.linspace(-1.0, 1.0, 5)])
    drawn = np.array(window.drawing.points)
    for name in ("drawn.csv", "drawn.npy"):
        window.files.export_points(tmp_path / name)
        click(qtbot, window, "drawClear")
        window.files.import_points(tmp_path / name)
        assert np.allclose(window.drawing.points, drawn, atol=1e-6)
    assert window.last_error is None


def test_an_image_becomes_the_target_density(window, qtbot, tmp_path):
    ink = Image.new("L", (40, 40), 255)
    ink.paste(0, (0, 0, 20, 20))  # only the top-left quarter is dark
    ink.save(tmp_path / "ink.png")
    window.use_image(str(tmp_path / "ink.png"))
    qtbot.waitUntil(lambda: window.run_info.config.dataset.endswith("ink.png"), timeout=20000)
    target = window.run_info.target
    assert (target[:, 0] < 0).all() and (target[:, 1] > 0).all()
    assert window.source.kind == "image"
    assert window.findChild(QLabel, "imageName").text() == "ink.png"


def test_conditional_paths_overlay_the_learned_trajectories(window, qtbot):
    box = window.findChild(QAbstractButton, "trajectoryShowConditional")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "conditional" in window.controller.views)
    item = window.trajectory_view.conditional_item

    def drawn() -> bool:
        x = item.getData()[0]
        return item.isVisible() and x is not None and len(x) > 0

    qtbot.waitUntil(drawn, timeout=20000)


def pick_preset(qtbot, window, name: str) -> None:
    """Click a preset's thumbnail in the data panel's gallery."""
    gallery = window.data_panel.findChild(QListWidget, "presetList")
    row = next(
        i for i in range(gallery.count()) if gallery.item(i).data(Qt.ItemDataRole.UserRole) == name
    )
    rect = gallery.visualItemRect(gallery.item(row))
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_an_exported_model_names_the_data_it_was_trained_on(window, qtbot, tmp_path, capsys):
    """Train on a drawing, switch the target to a preset after the run, export: the model
    still says (and `fmstudio eval` measures against) the drawing."""
    click(qtbot, window, "sourceDraw")
    drag(window.samples_view, [(x, 2.0) for x in np.linspace(-1.0, 1.0, 6)])
    drawn = np.array(window.drawing.points)
    use_config(window, qtbot, TrainConfig(**{**FAST.to_dict(), "steps": 40}))
    train_until(qtbot, window)
    pick_preset(qtbot, window, "moons")
    qtbot.waitUntil(lambda: window.run_info.config.dataset == "moons", timeout=20000)
    model = tmp_path / "model"
    window.files.ask = lambda *args, **kwargs: str(model)
    window.findChild(QAction, "actionExportModel").trigger()
    qtbot.waitUntil(lambda: (model / "config.json").exists(), timeout=10000)

    trainer = load_trainer(model)
    assert np.array_equal(trainer.dataset.points, drawn)
    target = held_out_target(model, 2000, seed=1).numpy()
    assert np.abs(target[:, 1] - 2.0).max() < 1.0  # the stroke at y = 2, not the moons
    assert cli_main(["eval", str(model), "--n", "300", "--nll-n", "20", "--solver", "euler",
                     "--steps", "4"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["w2"] > 0
    assert window.last_error is None


def test_exported_svgs_look_the_same_in_another_renderer(window, qtbot, tmp_path):
    """librsvg (as ImageMagick, Inkscape 0.x) has no non-scaling strokes: a plot's 1 px pens
    must not come out as thick as the plot's scale (the field used to be a solid block)."""
    qtbot.waitUntil(lambda: window.trajectory_view.trajectories is not None, timeout=20000)
    for view in ("field", "trajectories", "samples"):
        path = tmp_path / f"{view}.svg"
        window.files.ask = lambda *args, p=path, **kwargs: str(p)
        window.findChild(QAction, f"actionExportView_{view}").trigger()
        renderers_agree(path)
    assert window.last_error is None


def test_the_trajectory_animation_has_the_size_asked_for(window, qtbot, tmp_path):
    qtbot.waitUntil(lambda: window.trajectory_view.trajectories is not None, timeout=20000)
    gif = tmp_path / "flow.gif"
    window.files.ask = lambda *args, **kwargs: str(gif)
    window.files.ask_item = lambda title, label, items, current=0: items[0]  # the smallest
    window.findChild(QAction, "actionExportAnimation").trigger()
    with Image.open(gif) as image:
        assert image.size == (480, 480) and image.n_frames == GIF_FRAMES
        image.seek(image.n_frames - 1)  # t = 1: the particles sit on the target
        assert 0.02 < ink_fraction(image) < 0.8
    window.files.export_animation(tmp_path / "wide.gif", frames=3, size=(720, 400))
    with Image.open(tmp_path / "wide.gif") as image:
        assert image.size == (720, 400) and image.n_frames == 3
    assert window.last_error is None


def test_the_animation_keeps_the_conditional_paths_when_they_are_shown(window, qtbot, tmp_path):
    qtbot.waitUntil(lambda: window.trajectory_view.trajectories is not None, timeout=20000)

    def white_pixels(name: str) -> int:
        window.files.export_animation(tmp_path / name, frames=2, size=(480, 480))
        with Image.open(tmp_path / name) as image:
            rgb = np.asarray(image.convert("RGB"), dtype=int)
        return int((rgb.min(axis=2) > 200).sum())

    plain = white_pixels("plain.gif")
    window.trajectory_view.show_conditional.setChecked(True)
    qtbot.waitUntil(lambda: window.trajectory_view.conditional is not None, timeout=20000)
    assert white_pixels("conditional.gif") > plain + 200
