"""The side panels, driven as a person would: clicks, typing, and what they emit and show."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QListWidget,
    QWidget,
)

from fmstudio.app.panels.data import DataPanel
from fmstudio.app.panels.forms import ScientificSpinBox
from fmstudio.app.panels.sampling import SamplingPanel
from fmstudio.app.panels.settings import LOCKED_WHILE_TRAINING, SettingsPanel
from fmstudio.app.thumbnails import preset_icon, preset_pixmap
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import PRESETS
from fmstudio.core.session import DataSource
from fmstudio.core.solver_spec import SampleRequest, SolverSpec
from fmstudio.core.solvers import ADAPTIVE, FIXED_STEP

DATA_CONTROLS = (
    "sourcePreset",
    "sourceDraw",
    "sourceImage",
    "presetList",
    "drawBrush",
    "drawEraser",
    "brushSize",
    "brushDensity",
    "drawUndo",
    "drawClear",
    "drawJitter",
    "importPoints",
    "exportPoints",
    "drawCount",
    "loadImage",
    "imageName",
)
SETTINGS_FIELDS = (
    "path",
    "coupling",
    "sigma_min",
    "sigma",
    "hidden",
    "depth",
    "lr",
    "batch_size",
    "steps",
    "ema_decay",
    "grad_clip",
    "ot_refresh",
    "schedule",
    "warmup_steps",
    "seed",
    "device",
)
SAMPLING_CONTROLS = (
    "samplingSolver",
    "samplingSteps",
    "samplingNfeHint",
    "samplingAtol",
    "samplingRtol",
    "samplingCount",
    "samplingSeed",
    "sampleButton",
    "samplingNfe",
    "samplingW2",
    "samplingTime",
)


def shown(qtbot, panel: QWidget, height: int) -> QWidget:
    """The panel at the dock's width, shown, and closed after the test."""
    qtbot.addWidget(panel)
    panel.resize(320, height)
    panel.show()
    return panel


@pytest.fixture
def data_panel(qtbot) -> DataPanel:
    return shown(qtbot, DataPanel(), 600)


@pytest.fixture
def settings(qtbot) -> SettingsPanel:
    return shown(qtbot, SettingsPanel(), 700)


@pytest.fixture
def sampling(qtbot) -> SamplingPanel:
    return shown(qtbot, SamplingPanel(), 500)


def child(panel: QWidget, name: str) -> QWidget:
    widget = panel.findChild(QWidget, name)
    assert widget is not None, f"no control named {name}"
    return widget


def commit(qtbot, box: QWidget, text: str) -> None:
    """Type a new value into a spin box and press Enter, as a person edits a field."""
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


# -- every control exists, named and explained ----------------------------------------------


def test_every_control_has_its_object_name_and_a_tooltip(data_panel, settings, sampling):
    assert data_panel.objectName() == "dataPanel"
    assert settings.objectName() == "settingsPanel"
    assert sampling.objectName() == "samplingPanel"
    named = (
        [(data_panel, n) for n in DATA_CONTROLS]
        + [(settings, f"setting_{f}") for f in SETTINGS_FIELDS]
        + [(settings, "settingsError")]
        + [(sampling, n) for n in SAMPLING_CONTROLS]
    )
    for panel, name in named:
        widget = child(panel, name)
        if not isinstance(widget, QLabel):
            assert widget.toolTip(), f"{name} has no tooltip"


# -- thumbnails -----------------------------------------------------------------------------


def test_thumbnails_are_non_blank_cached_pictures_of_the_requested_size(qapp):
    pixmap = preset_pixmap("moons", 48)
    assert (pixmap.width(), pixmap.height()) == (48, 48)
    assert preset_pixmap("moons", 48) is pixmap  # cached per (name, size)
    assert preset_icon("moons", 48) is preset_icon("moons", 48)
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_ARGB32)
    colours = {image.pixel(x, y) for x in range(0, 48, 2) for y in range(0, 48, 2)}
    assert len(colours) > 5, "thumbnail looks blank"
    assert image.pixelColor(0, 0).alpha() == 0  # rounded corner stays transparent
    assert preset_pixmap("rings", 32).size().width() == 32


# -- data panel ------------------------------------------------------------------------------


def _click_item(qtbot, lst: QListWidget, name: str) -> None:
    for i in range(lst.count()):
        item = lst.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == name:
            rect = lst.visualItemRect(item)
            qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            return
    raise AssertionError(f"no preset {name}")


def test_gallery_lists_every_preset_with_an_icon(data_panel):
    lst = child(data_panel, "presetList")
    names = [lst.item(i).data(Qt.ItemDataRole.UserRole) for i in range(lst.count())]
    assert names == list(PRESETS)
    assert all(not lst.item(i).icon().isNull() for i in range(lst.count()))


@pytest.mark.parametrize("width", [280, 320, 360])
def test_gallery_shows_every_preset_without_scrolling(qtbot, data_panel, width):
    data_panel.resize(width, 600)
    qtbot.waitUntil(lambda: data_panel.width() == width, timeout=1000)
    lst = child(data_panel, "presetList")
    for i in range(lst.count()):
        assert lst.viewport().rect().contains(lst.visualItemRect(lst.item(i))), i


def test_clicking_a_preset_selects_the_preset_source_and_emits_its_name(qtbot, data_panel):
    qtbot.mouseClick(child(data_panel, "sourceDraw"), Qt.MouseButton.LeftButton)
    assert data_panel.source_kind() == "drawing"
    with qtbot.waitSignal(data_panel.presetChosen, timeout=1000) as blocker:
        _click_item(qtbot, child(data_panel, "presetList"), "spirals")
    assert blocker.args == ["spirals"]
    assert data_panel.source_kind() == "preset"
    assert data_panel.preset_name() == "spirals"
    assert child(data_panel, "sourcePreset").isChecked()
    assert data_panel.tool() == "none"  # drawing tools are off away from the drawing


def test_source_buttons_are_exclusive_and_show_the_right_tools(qtbot, data_panel):
    seen: list[str] = []
    data_panel.sourceChanged.connect(seen.append)
    draw_box = child(data_panel, "drawBrush").parentWidget()
    image_box = child(data_panel, "loadImage").parentWidget()
    assert not draw_box.isVisible() and not image_box.isVisible()
    qtbot.mouseClick(child(data_panel, "sourceDraw"), Qt.MouseButton.LeftButton)
    assert draw_box.isVisible() and not image_box.isVisible()
    qtbot.mouseClick(child(data_panel, "sourceImage"), Qt.MouseButton.LeftButton)
    assert image_box.isVisible() and not draw_box.isVisible()
    qtbot.mouseClick(child(data_panel, "sourcePreset"), Qt.MouseButton.LeftButton)
    assert seen == ["drawing", "image", "preset"]
    checked = [
        n for n in ("sourcePreset", "sourceDraw", "sourceImage") if child(data_panel, n).isChecked()
    ]
    assert checked == ["sourcePreset"]


def test_tool_buttons_are_exclusive_and_can_both_be_up(qtbot, data_panel):
    tools: list[str] = []
    data_panel.toolChanged.connect(tools.append)
    qtbot.mouseClick(child(data_panel, "sourceDraw"), Qt.MouseButton.LeftButton)
    assert data_panel.tool() == "brush"  # choosing Draw picks the brush up
    brush, eraser = child(data_panel, "drawBrush"), child(data_panel, "drawEraser")
    qtbot.mouseClick(eraser, Qt.MouseButton.LeftButton)
    assert eraser.isChecked() and not brush.isChecked()
    qtbot.mouseClick(eraser, Qt.MouseButton.LeftButton)  # click the checked one: put it down
    assert not eraser.isChecked() and data_panel.tool() == "none"
    qtbot.mouseClick(brush, Qt.MouseButton.LeftButton)
    assert tools == ["brush", "eraser", "none", "brush"]


def test_brush_settings_and_actions_emit_intent(qtbot, data_panel):
    qtbot.mouseClick(child(data_panel, "sourceDraw"), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(data_panel.brushSizeChanged, timeout=1000) as size:
        commit(qtbot, child(data_panel, "brushSize"), "0.75")
    assert size.args == [pytest.approx(0.75)] and data_panel.brush_size() == pytest.approx(0.75)
    with qtbot.waitSignal(data_panel.brushDensityChanged, timeout=1000) as density:
        commit(qtbot, child(data_panel, "brushDensity"), "50")
    assert density.args == [50] and data_panel.brush_density() == 50
    with qtbot.waitSignal(data_panel.jitterChanged, timeout=1000) as jitter:
        child(data_panel, "drawJitter").setValue(0.2)
    assert jitter.args == [pytest.approx(0.2)] and data_panel.jitter() == pytest.approx(0.2)
    assert data_panel.brush_size() == pytest.approx(0.75)
    data_panel.set_point_count(10, True)
    for name, signal in (
        ("drawUndo", data_panel.undoRequested),
        ("drawClear", data_panel.clearRequested),
        ("importPoints", data_panel.importRequested),
        ("exportPoints", data_panel.exportRequested),
    ):
        with qtbot.waitSignal(signal, timeout=1000):
            qtbot.mouseClick(child(data_panel, name), Qt.MouseButton.LeftButton)


def test_defaults_of_the_drawing_controls(data_panel):
    assert data_panel.brush_size() == pytest.approx(0.3)
    assert data_panel.brush_density() == 20
    assert data_panel.jitter() == pytest.approx(0.05)
    assert child(data_panel, "brushSize").minimum() == pytest.approx(0.05)
    assert child(data_panel, "brushSize").maximum() == pytest.approx(2.0)


def test_point_count_label_and_what_can_be_undone(data_panel):
    undo, clear, export = (child(data_panel, n) for n in ("drawUndo", "drawClear", "exportPoints"))
    assert not undo.isEnabled() and not clear.isEnabled() and not export.isEnabled()
    data_panel.set_point_count(1234, True)
    assert "1,234" in child(data_panel, "drawCount").text()
    assert undo.isEnabled() and clear.isEnabled() and export.isEnabled()
    data_panel.set_point_count(0, True)  # after a clear: undo brings the points back
    assert undo.isEnabled() and not clear.isEnabled() and not export.isEnabled()


def test_set_source_reflects_state_without_emitting(qtbot, data_panel):
    emitted: list = []
    for signal in (data_panel.sourceChanged, data_panel.presetChosen, data_panel.toolChanged):
        signal.connect(lambda *a: emitted.append(a))
    data_panel.set_source(DataSource("preset", "rings"))
    assert data_panel.source_kind() == "preset" and data_panel.preset_name() == "rings"
    assert child(data_panel, "presetList").currentItem().data(Qt.ItemDataRole.UserRole) == "rings"
    data_panel.set_source(DataSource("image", image="/some/where/cat.png"))
    assert data_panel.source_kind() == "image"
    assert child(data_panel, "sourceImage").isChecked()
    assert child(data_panel, "imageName").text() == "cat.png"
    data_panel.set_source(DataSource("drawing"))
    assert child(data_panel, "sourceDraw").isChecked()
    assert emitted == []
    with qtbot.waitSignal(data_panel.imageRequested, timeout=1000):
        qtbot.mouseClick(child(data_panel, "sourceImage"), Qt.MouseButton.LeftButton)
        qtbot.mouseClick(child(data_panel, "loadImage"), Qt.MouseButton.LeftButton)
    data_panel.set_image_name(None)
    assert "no image" in child(data_panel, "imageName").text().lower()


def test_clicking_the_current_preset_again_is_not_a_change(qtbot, data_panel):
    lst = child(data_panel, "presetList")
    _click_item(qtbot, lst, "moons")
    chosen: list[str] = []
    data_panel.presetChosen.connect(chosen.append)
    _click_item(qtbot, lst, data_panel.preset_name())
    assert chosen == []


# -- settings panel --------------------------------------------------------------------------

NON_DEFAULT = TrainConfig(
    dataset="spirals",
    path="icfm",
    coupling="ot",
    sigma=0.1,
    sigma_min=0.05,
    beta_max=15.0,
    hidden=128,
    depth=4,
    lr=3e-4,
    schedule="linear",
    warmup_steps=250,
    batch_size=512,
    steps=20000,
    ema_decay=0.995,
    grad_clip=0.0,
    seed=7,
    device="cpu",
    ot_refresh=4,
)


def test_settings_round_trip_a_non_default_config(settings):
    settings.set_config(NON_DEFAULT)
    assert settings.config() == NON_DEFAULT  # beta_max/dataset kept though no control shows them
    default_sigma = dataclasses.replace(NON_DEFAULT, path="sb", sigma=None, coupling="sinkhorn")
    settings.set_config(default_sigma)
    assert settings.config() == default_sigma
    assert child(settings, "setting_sigma").text() == "default (1)"


def test_set_config_emits_nothing(settings):
    seen: list = []
    settings.changed.connect(lambda *a: seen.append(a))
    settings.set_config(NON_DEFAULT)
    assert seen == []


@pytest.mark.parametrize(
    ("path", "sigma_min", "sigma"),
    [
        ("ot", True, False),
        ("vp", False, False),
        ("ve", False, False),
        ("cosine", False, False),
        ("icfm", False, True),
        ("sb", False, True),
        ("otcfm", False, True),
        ("sbcfm", False, True),
    ],
)
def test_only_the_parameters_of_the_chosen_path_are_shown(settings, path, sigma_min, sigma):
    settings.widget("path").setCurrentIndex(settings.widget("path").findData(path))
    assert child(settings, "setting_sigma_min").isVisible() == sigma_min
    assert child(settings, "setting_sigma").isVisible() == sigma


def test_sigma_tooltip_follows_the_path(settings):
    combo = settings.widget("path")
    combo.setCurrentIndex(combo.findData("sb"))
    assert "bridge" in child(settings, "setting_sigma").toolTip().lower()
    combo.setCurrentIndex(combo.findData("icfm"))
    assert "straight line" in child(settings, "setting_sigma").toolTip()


def test_training_locks_exactly_the_fields_that_need_a_reset(settings):
    settings.set_training(True)
    for field in SETTINGS_FIELDS:
        widget = child(settings, f"setting_{field}")
        locked = field in LOCKED_WHILE_TRAINING
        assert widget.isEnabled() != locked, field
        assert ("locked while training" in widget.toolTip().lower()) == locked, field
    settings.set_training(False)
    assert all(child(settings, f"setting_{f}").isEnabled() for f in SETTINGS_FIELDS)
    assert "locked" not in child(settings, "setting_path").toolTip().lower()


def test_invalid_edit_shows_the_error_and_config_raises(qtbot, settings):
    error = child(settings, "settingsError")
    combo = settings.widget("path")
    combo.setCurrentIndex(combo.findData("sb"))
    assert not error.isVisible()
    commit(qtbot, child(settings, "setting_sigma"), "0")
    assert error.isVisible() and "sigma" in error.text()
    with pytest.raises(ConfigError):
        settings.config()
    commit(qtbot, child(settings, "setting_sigma"), "0.5")
    assert not error.isVisible()
    assert settings.config().sigma == pytest.approx(0.5)


def test_user_edits_emit_field_and_value(qtbot, settings):
    seen: list = []
    settings.changed.connect(lambda field, value: seen.append((field, value)))
    commit(qtbot, child(settings, "setting_lr"), "5e-4")
    commit(qtbot, child(settings, "setting_batch_size"), "1024")
    settings.widget("schedule").setCurrentText("constant")
    coupling = settings.widget("coupling")
    coupling.setCurrentIndex(coupling.findData("sinkhorn"))
    coupling.setCurrentIndex(0)
    assert seen == [
        ("lr", pytest.approx(5e-4)),
        ("batch_size", 1024),
        ("schedule", "constant"),
        ("coupling", "sinkhorn"),
        ("coupling", None),
    ]
    assert settings.config().lr == pytest.approx(5e-4)


def test_choosing_a_preset_path_drops_a_conflicting_coupling(settings):
    seen: list = []
    settings.changed.connect(lambda field, value: seen.append((field, value)))
    coupling, path = settings.widget("coupling"), settings.widget("path")
    coupling.setCurrentIndex(coupling.findData("sinkhorn"))
    path.setCurrentIndex(path.findData("otcfm"))
    assert seen[-2:] == [("path", "otcfm"), ("coupling", None)]
    assert settings.config().coupling_name == "ot"


def test_learning_rate_steps_by_decades_and_takes_scientific_text(qtbot, settings):
    lr = child(settings, "setting_lr")
    assert isinstance(lr, ScientificSpinBox)
    lr.setValue(2e-3)
    lr.stepBy(1)
    assert lr.value() == pytest.approx(5e-3)
    lr.stepBy(-2)
    assert lr.value() == pytest.approx(1e-3)
    lr.setValue(3e-4)
    lr.stepBy(-1)
    assert lr.value() == pytest.approx(2e-4)
    commit(qtbot, lr, "1.5e-5")
    assert lr.value() == pytest.approx(1.5e-5)
    assert lr.text() == "1.5e-5"


def test_wheel_over_an_unfocused_field_leaves_it_alone(qapp, settings):
    hidden = child(settings, "setting_hidden")
    before = hidden.value()

    def wheel() -> None:
        point = QPointF(5, 5)
        event = QWheelEvent(
            point,
            point,
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        qapp.sendEvent(hidden, event)

    wheel()
    assert hidden.value() == before  # the wheel scrolls the dock instead
    settings.activateWindow()
    hidden.setFocus()
    wheel()
    assert hidden.value() > before


def test_device_choices_and_an_unknown_saved_device_round_trips(settings):
    combo = child(settings, "setting_device")
    assert isinstance(combo, QComboBox)
    assert [combo.itemData(i) for i in range(2)] == ["auto", "cpu"]
    cfg = TrainConfig(device="cuda:3")
    settings.set_config(cfg)
    assert settings.config().device == "cuda:3"


# -- sampling panel --------------------------------------------------------------------------


def test_sampling_request_matches_the_widgets(qtbot, sampling):
    assert sampling.request() == SampleRequest(2000, 0, SolverSpec.fixed("rk4", 20))
    commit(qtbot, child(sampling, "samplingSteps"), "50")
    commit(qtbot, child(sampling, "samplingCount"), "500")
    commit(qtbot, child(sampling, "samplingSeed"), "3")
    child(sampling, "samplingSolver").setCurrentText("euler")
    assert sampling.request() == SampleRequest(500, 3, SolverSpec.fixed("euler", 50))


@pytest.mark.parametrize("method", ADAPTIVE)
def test_adaptive_solvers_use_tolerances_not_steps(sampling, method):
    child(sampling, "samplingSolver").setCurrentText(method)
    assert not child(sampling, "samplingSteps").isEnabled()
    assert child(sampling, "samplingAtol").isEnabled()
    assert child(sampling, "samplingRtol").isEnabled()
    solver = sampling.request().solver
    assert solver.method == method and solver.adaptive and solver.steps is None


def test_fixed_step_solvers_use_steps_and_show_the_nfe(qtbot, sampling):
    for method in FIXED_STEP:
        child(sampling, "samplingSolver").setCurrentText(method)
        assert child(sampling, "samplingSteps").isEnabled()
        assert not child(sampling, "samplingAtol").isEnabled()
    child(sampling, "samplingSolver").setCurrentText("rk4")
    commit(qtbot, child(sampling, "samplingSteps"), "25")
    assert "= 100" in child(sampling, "samplingNfeHint").text()  # 4 stages × 25 steps


def test_a_request_round_trips_and_a_session_state_restores_what_it_holds(sampling):
    saved = SampleRequest(300, 9, SolverSpec("dopri5", atol=1e-4, rtol=1e-3))
    sampling.set_request(saved)
    assert sampling.request() == saved
    assert sampling.request().to_flat() == {
        "method": "dopri5", "steps": None, "atol": 1e-4, "rtol": 1e-3, "n": 300, "seed": 9
    }  # fmt: skip
    sampling.restore({"method": "heun", "steps": 12})  # a session keeps what it has
    assert sampling.request() == SampleRequest(300, 9, SolverSpec.fixed("heun", 12))


def test_sample_button_busy_state_and_results(qtbot, sampling):
    button = child(sampling, "sampleButton")
    assert isinstance(button, QAbstractButton)
    with qtbot.waitSignal(sampling.sampleRequested, timeout=1000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    sampling.show_busy(True)
    assert not button.isEnabled() and "sampling" in button.text().lower()
    sampling.show_busy(False)
    assert button.isEnabled()
    sampling.show_result(80, 0.01234, 0.42)
    assert child(sampling, "samplingNfe").text() == "80"
    assert child(sampling, "samplingW2").text() == "0.01234"
    assert child(sampling, "samplingTime").text() == "0.42 s"
    sampling.show_result(200, None, 0.001)
    assert child(sampling, "samplingW2").text() == "—"
