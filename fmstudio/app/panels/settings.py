"""The settings panel: a form over `TrainConfig`, generated from the settings' descriptions.

Each setting is described once (core/config.py, core/path_specs.py); this panel makes one
control per setting of the kind of run it edits (points or images), grouped as the schema
groups them, with the setting's help as tooltip. A path's parameters show only while that path
is chosen. The panel never trains: it reports edits through `changed`; what a running trainer
takes live and what waits for a new run also comes from the descriptions (`LOCKED_WHILE_TRAINING`).
"""

from __future__ import annotations

import dataclasses
import enum

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from fmstudio.app.panels import controls, forms
from fmstudio.core import choices, path_specs
from fmstudio.core.config import LIVE_SETTINGS, PATHS_OWN, SETTINGS, ConfigError, TrainConfig
from fmstudio.core.schema import Applies, Change, Described, by_group

FIRST_DEVICES = ("auto", "cpu")
"""What the device list holds until the training process says what this machine has."""
LOCKED_WHILE_TRAINING = tuple(d.name for d in SETTINGS if d.setting.change > Change.LIVE)
"""Settings that shape the model, the path, the data or the random stream (or, like the
device, need the run to restart): locked once a run has steps."""
PATH_PARAMETERS = frozenset(path_specs.all_parameter_names())


class EditEffect(enum.Enum):
    """What an edit of a setting does to the run on show."""

    LIVE = "live"
    """The running (or paused) trainer takes it at its next chunk of steps."""
    NEW_RUN = "new run"
    """Nothing is trained yet: a fresh model on the new settings replaces the untrained one."""
    LATER = "later"
    """It shapes a run that has steps: it waits for the next new run (the control is locked
    while training)."""


def edit_effect(name: str, *, has_steps: bool) -> EditEffect:
    """The effect of editing setting `name` on a run that has trained (or is training) or not."""
    if name in LIVE_SETTINGS:
        return EditEffect.LIVE
    return EditEffect.LATER if has_steps else EditEffect.NEW_RUN


def form_settings(applies: Applies) -> tuple[Described, ...]:
    """The settings a form for runs of this kind shows (the data panel edits the data)."""
    return tuple(d for d in SETTINGS if d.setting.form and d.setting.applies & applies)


class SettingsPanel(QWidget):
    """Edits a `TrainConfig`. Setters never emit; user edits emit `changed(field, value)`."""

    changed = Signal(str, object)
    """A field the user edited and its new value (None for 'auto'/'default')."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        applies: Applies = Applies.POINTS,
        config: TrainConfig | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self._base = config or TrainConfig()
        self._training = False
        self._settings = {d.name: d for d in form_settings(applies)}
        self._widgets = {name: self._control(d) for name, d in self._settings.items()}
        self._labels: dict[str, QLabel] = {}
        self._forms: dict[str, QFormLayout] = {}
        self._tips = {field: w.toolTip() for field, w in self._widgets.items()}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._error = forms.error_label("settingsError")
        layout.addWidget(self._error)
        for group, members in by_group(tuple(self._settings.values())):
            box, form = forms.section(group.value)
            for d in members:
                self._forms[d.name] = form
                self._labels[d.name] = forms.add_row(form, d.setting.label, self._widgets[d.name])
            if "path" in self._settings and group is self._settings["path"].setting.group:
                self._path_hint = forms.hint_label("settingsPathHint")
                form.addRow(self._path_hint)
            layout.addWidget(box)
        layout.addStretch(1)
        forms.align_labels(list(self._labels.values()))
        for field, widget in self._widgets.items():
            forms.value_signal(widget).connect(lambda *_, f=field: self._on_edit(f))
        self.set_config(self._base)

    def _control(self, d: Described) -> QWidget:
        if d.name != "device":
            return controls.control(d)
        return controls.control(d, [c for c in choices.DEVICES if c.value in FIRST_DEVICES])

    def set_devices(self, devices: tuple[str, ...]) -> None:
        """Offer the devices the training process found (the window itself has no torch to
        ask); the device shown stays as it is. Emits nothing."""
        box = self._widgets.get("device")
        if not isinstance(box, QComboBox):
            return
        shown = forms.widget_value(box)
        with QSignalBlocker(box):
            box.clear()
            for choice in choices.DEVICES:
                if choice.value in devices:
                    forms.add_combo_item(box, choice.label, choice.value, choice.help)
            for extra in [d for d in devices if d not in choices.names(choices.DEVICES)]:
                forms.add_combo_item(box, extra, extra, "")
        self.set_config(dataclasses.replace(self._collect(), device=shown))

    # -- reading and writing the config --------------------------------------------------------

    def widget(self, field: str) -> QWidget:
        """The control editing `field` (for the main window's shortcuts and tests)."""
        return self._widgets[field]

    def fields(self) -> tuple[str, ...]:
        """The settings this form edits, in the order shown."""
        return tuple(self._widgets)

    def set_config(self, cfg: TrainConfig) -> None:
        """Show `cfg` (fields without a control are kept for `config()`); emits nothing."""
        self._base = dataclasses.replace(cfg)
        device = self._widgets.get("device")
        if isinstance(device, QComboBox) and device.findData(cfg.device) < 0:
            # a session from a machine with other hardware
            forms.add_combo_item(
                device, f"{cfg.device} (not found here)", cfg.device, "not available here"
            )
        for field, widget in self._widgets.items():
            forms.set_widget_value(widget, getattr(cfg, field))
        self._path_changed()
        self._check(self._collect())

    def config(self) -> TrainConfig:
        """The config the form shows, validated; a ConfigError is also shown in red."""
        cfg = self._collect()
        self._check(cfg, reraise=True)
        return cfg

    def _collect(self) -> TrainConfig:
        values = {f: forms.widget_value(w) for f, w in self._widgets.items()}
        return dataclasses.replace(self._base, **values)

    def _check(self, cfg: TrainConfig, *, reraise: bool = False) -> None:
        try:
            cfg.validate()
        except ConfigError as exc:
            forms.show_error(self._error, str(exc))
            if reraise:
                raise
        else:
            forms.show_error(self._error, None)

    # -- user edits ----------------------------------------------------------------------------

    def _on_edit(self, field: str) -> None:
        edits = [field]
        if field == "path":
            path = forms.widget_value(self._widgets["path"])
            coupling = forms.widget_value(self._widgets["coupling"])
            preset = path_specs.PRESETS.get(path)
            if preset is not None and coupling not in (None, preset.coupling):
                # a preset fixes its coupling: fall back to auto rather than show an error
                forms.set_widget_value(self._widgets["coupling"], None)
                edits.append("coupling")
            self._path_changed()
        self._check(self._collect())
        for name in edits:
            self.changed.emit(name, forms.widget_value(self._widgets[name]))

    def _path_changed(self) -> None:
        """Show only the parameters the chosen path takes, each with that path's help."""
        if "path" not in self._widgets:
            return
        path = forms.widget_value(self._widgets["path"])
        own = {d.name: d for d in path_specs.parameters(path)}
        for name in PATH_PARAMETERS & set(self._widgets):
            widget = self._widgets[name]
            self._forms[name].setRowVisible(widget, name in own)
            if name in own:
                self._tips[name] = controls.tooltip(self._settings[name], own[name].setting.help)
                if self._settings[name].setting.none.startswith(PATHS_OWN):
                    widget.setSpecialValueText(f"default ({own[name].default:g})")
        self._path_hint.setText(path_specs.describe(path))
        self._refresh_tips()

    # -- training lock -------------------------------------------------------------------------

    def set_training(self, active: bool) -> None:
        """Lock the fields a running trainer cannot take; the others stay editable (live)."""
        self._training = active
        for field in LOCKED_WHILE_TRAINING:
            if field in self._widgets:
                self._widgets[field].setEnabled(not active)
                self._labels[field].setEnabled(not active)
        self._refresh_tips()

    def _refresh_tips(self) -> None:
        for field, widget in self._widgets.items():
            tip = self._tips[field]
            if self._training and field in LOCKED_WHILE_TRAINING:
                tip = f"{tip}\n\n{forms.LOCKED_NOTE}"
            widget.setToolTip(tip)
            self._labels[field].setToolTip(tip)
