"""Every setting of a run can be reached in the app, as a person reaches it: the forms are
generated from the settings' descriptions, so these tests walk the descriptions too."""

from __future__ import annotations

import dataclasses

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from fmstudio.app.images import ImageWindow
from fmstudio.core import path_specs
from fmstudio.core.config import LIVE_SETTINGS, SETTINGS
from fmstudio.core.schema import Applies


def _control(window: QWidget, name: str) -> QWidget | None:
    if name == "dataset":  # the whole data panel chooses the 2-D target
        return window.findChild(QWidget, "dataPanel") or window.findChild(
            QWidget, "setting_dataset"
        )
    return window.findChild(QWidget, f"setting_{name}")


def test_every_setting_has_a_control_in_the_window_that_trains_it(qtbot, window):
    for d in SETTINGS:
        if d.setting.applies & Applies.POINTS:
            assert _control(window, d.name) is not None, d.name
    window.findChild(QAction, "actionImages").trigger()  # Image mode, as the menu opens it
    images = window.image_window
    assert isinstance(images, ImageWindow)
    qtbot.addWidget(images)
    for d in SETTINGS:
        if d.setting.applies & Applies.IMAGES:
            assert _control(images, d.name) is not None, d.name
    images.close()


def test_the_form_shows_each_path_s_parameters_and_its_edits_reach_the_run(qtbot, window):
    """One window for the form's behaviour (each window costs a training process): a path
    shows the parameters it takes with its own help; settings 0.1.0 had no control for reach
    the run; every shown setting round-trips; live ones stay editable while training."""
    panel = window.settings_panel
    combo = panel.widget("path")
    for path in path_specs.ALL_PATHS:
        combo.setCurrentIndex(combo.findData(path))  # as a pick from the list does
        own = {d.name: d for d in path_specs.parameters(path)}
        for name in path_specs.all_parameter_names():
            assert panel.widget(name).isVisibleTo(panel) == (name in own), (path, name)
            if name in own:
                assert own[name].setting.help in panel.widget(name).toolTip()
    combo.setCurrentIndex(combo.findData("ot"))

    panel.widget("time_dim").setValue(16)  # a user's commit emits valueChanged
    activation = panel.widget("activation")
    activation.setCurrentIndex(activation.findData("tanh"))
    qtbot.waitUntil(  # edited before any step: the untrained model is rebuilt with them
        lambda: (
            (window.run_info.config.time_dim, window.run_info.config.activation) == (16, "tanh")
        ),
        timeout=30000,
    )

    changed = dataclasses.replace(
        panel.config(),
        path="vp", beta_min=0.2, beta_max=12.0, hidden=48, depth=2, activation="gelu",
        time_dim=8, optimizer="adamw", lr=3e-3, weight_decay=0.01, schedule="linear",
        warmup_steps=7, batch_size=96, steps=55, ema_decay=0.99, grad_clip=0.0, seed=2**40,
        ot_refresh=3, amp=False, sigma_max=4.0, sigma=0.3, sigma_min=0.02,
    )  # fmt: skip
    panel.set_config(changed)
    assert panel.config() == changed
    shown = {d.name for d in SETTINGS if d.setting.form and d.setting.applies & Applies.POINTS}
    assert set(panel.fields()) == shown

    window.toggle_training()
    qtbot.waitUntil(lambda: window.state == "training", timeout=30000)
    for name in panel.fields():
        assert panel.widget(name).isEnabled() == (name in LIVE_SETTINGS), name
    window.toggle_training()
    qtbot.waitUntil(lambda: window.state != "training", timeout=30000)
