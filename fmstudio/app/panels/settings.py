"""The settings panel: a form over `TrainConfig`, grouped the way a run is thought about.

Fields are described once (name → widget, group, label) and read/written generically, so the
panel cannot drift from the config. It never trains: it reports edits through `changed` and the
main window decides what a running trainer can take live (`LIVE_SETTINGS`) and what waits for
a reset (`LOCKED_WHILE_TRAINING`).
"""

from __future__ import annotations

import dataclasses

import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from fmstudio.app.panels import forms
from fmstudio.core.config import ALL_PATHS, SCHEDULES, ConfigError, TrainConfig
from fmstudio.core.couplings import COUPLINGS
from fmstudio.core.paths import PRESETS, resolve_preset

LOCKED_WHILE_TRAINING = (
    "path",
    "coupling",
    "sigma_min",
    "sigma",
    "hidden",
    "depth",
    "seed",
    "device",
)
"""Fields that shape the model, the path or the random stream: changing them needs a new run."""

PATH_HELP = {
    "ot": "Optimal-transport path (eqs. 20–23): μ_t = t·x1, σ_t = 1 − (1 − σ_min)·t. "
    "Straight conditional paths with a constant target.",
    "vp": "Variance-preserving diffusion path (eqs. 18–19, β_min = 0.1, β_max = 20). "
    "Singular at t = 1: training and sampling stop at 1 − 10⁻³.",
    "ve": "Variance-exploding diffusion path (eqs. 16–17): p_t(x|x1) = N(x1, σ_{1−t}²). "
    "Starts from ≈ N(0, σ_max²); σ_max defaults to the data's largest pairwise distance.",
    "cosine": "Cosine path: α_t = sin(πt/2), σ_t = cos(πt/2). Variance-preserving with "
    "bounded velocity.",
    "icfm": "I-CFM (Tong et al. 2023): x_t = t·x1 + (1 − t)·x0 + σ·ε, target x1 − x0.",
    "sb": "Schrödinger-bridge path: Brownian bridge σ_t = σ·√(t(1 − t)) around the straight "
    "line; singular at both ends, so t stays in [10⁻³, 1 − 10⁻³].",
    "otcfm": "Preset OT-CFM: the icfm path with exact minibatch optimal-transport pairs.",
    "sbcfm": "Preset SB-CFM: the sb path with entropic (Sinkhorn) pairs, regularization 2σ².",
}

COUPLING_HELP = {
    "independent": "Random pairs q(x0)·q(x1): the paper's setting.",
    "ot": "Exact optimal transport within each minibatch (assignment on squared distances): "
    "straighter flows that need fewer solver steps, but slower training steps.",
    "sinkhorn": "Entropic OT (Sinkhorn) with regularization 2σ² (σ of the path; 1 if it has "
    "none or σ = 0); pairs drawn from the plan.",
}

SIGMA_HELP = {
    "icfm": "σ: std of the extra Gaussian noise around the straight line, "
    "x_t = t·x1 + (1 − t)·x0 + σ·ε. 'default' = 0: no noise, exact straight paths.",
    "sb": "σ: noise level of the Brownian bridge, σ_t = σ·√(t(1 − t)); also sets the "
    "Sinkhorn regularization 2σ². Must be > 0; 'default' = 1.",
}

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Path", ("path", "coupling", "sigma_min", "sigma")),
    ("Model", ("hidden", "depth")),
    (
        "Optimisation",
        (
            "lr",
            "schedule",
            "warmup_steps",
            "batch_size",
            "steps",
            "ema_decay",
            "grad_clip",
            "ot_refresh",
        ),
    ),
    ("Run", ("seed", "device")),
)

LABELS = {
    "path": "Path",
    "coupling": "Coupling",
    "sigma_min": "σ_min",
    "sigma": "σ",
    "hidden": "Width",
    "depth": "Layers",
    "lr": "Learning rate",
    "schedule": "LR schedule",
    "warmup_steps": "Warm-up steps",
    "batch_size": "Batch size",
    "steps": "Steps",
    "ema_decay": "EMA decay",
    "grad_clip": "Grad clip",
    "ot_refresh": "OT refresh",
    "seed": "Seed",
    "device": "Device",
}


def available_devices() -> list[str]:
    """ "auto" and "cpu", plus the accelerators torch can actually use on this machine."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def _path_items() -> list[forms.ComboItem]:
    return [
        (f"{name} (preset)" if name in PRESETS else name, name, PATH_HELP.get(name, ""))
        for name in ALL_PATHS
    ]


def _make_widgets(d: TrainConfig) -> dict[str, QWidget]:
    """One widget per editable field, named `setting_<field>`, showing the defaults `d`."""

    def n(field: str) -> str:
        return f"setting_{field}"

    return {
        "path": forms.combo(
            n("path"),
            "The probability path p_t(x | x1): how a noise point x0 (t = 0) is carried to a data "
            "point x1 (t = 1) during training. Presets combine a path with a coupling.",
            _path_items(),
        ),
        "coupling": forms.combo(
            n("coupling"),
            "How noise x0 and data x1 are paired in each minibatch before the path is applied. "
            "'auto' takes the path's own: independent, or the coupling a preset implies.",
            [("auto (from path)", None, "independent, or the coupling the preset implies")]
            + [(c, c, COUPLING_HELP[c]) for c in COUPLINGS],
        ),
        "sigma_min": forms.float_spin(
            n("sigma_min"),
            "σ_min: width of the OT path's Gaussians at t = 1 (eq. 20, σ_t = 1 − (1 − σ_min)·t); "
            "0 = exact straight-line paths ending on the data points. In [0, 1).",
            0.0,
            0.999,
            d.sigma_min,
            decimals=3,
            step=0.01,
        ),
        "sigma": forms.optional_spin(n("sigma"), SIGMA_HELP["icfm"], 10.0),
        "hidden": forms.int_spin(
            n("hidden"),
            "Width of each hidden layer of the velocity network v(x, t): wider fits finer "
            "detail but trains slower.",
            1,
            4096,
            d.hidden,
            step=32,
        ),
        "depth": forms.int_spin(
            n("depth"), "Number of hidden layers of the velocity MLP.", 1, 16, d.depth
        ),
        "lr": forms.sci_spin(
            n("lr"),
            "Peak learning rate of Adam, reached after warm-up (arrows step 1-2-5 per decade). "
            "Too high diverges, too low learns slowly. Applied live.",
            1e-5,
            1e-1,
            d.lr,
        ),
        "schedule": forms.combo(
            n("schedule"),
            "Learning-rate schedule after warm-up: constant, or a cosine / linear decay to 0 at "
            "the last step. Applied live.",
            list(SCHEDULES),
        ),
        "warmup_steps": forms.int_spin(
            n("warmup_steps"),
            "Steps over which the learning rate ramps linearly from 0 to its peak, which "
            "steadies the first updates. Applied live.",
            0,
            1_000_000,
            d.warmup_steps,
            adaptive=True,
        ),
        "batch_size": forms.int_spin(
            n("batch_size"),
            "Pairs (x0, x1) per training step: larger gives smoother gradients and better OT "
            "pairings, at more time per step. Applied live.",
            2,
            65_536,
            d.batch_size,
            adaptive=True,
        ),
        "steps": forms.int_spin(
            n("steps"),
            "Total training steps; the learning-rate schedule ends here. Raise it to keep "
            "training a run. Applied live.",
            1,
            10_000_000,
            d.steps,
            adaptive=True,
        ),
        "ema_decay": forms.float_spin(
            n("ema_decay"),
            "Decay of the exponential moving average of the weights that the views and samples "
            "use: closer to 1 is smoother but lags behind training; 0 = no averaging. "
            "Applied live.",
            0.0,
            0.99999,
            d.ema_decay,
            decimals=5,
            step=0.001,
        ),
        "grad_clip": forms.float_spin(
            n("grad_clip"),
            "Clip the gradient norm to this value each step, which guards against loss "
            "spikes; 'off' (0) disables clipping. Applied live.",
            0.0,
            1000.0,
            d.grad_clip,
            step=0.5,
            special="off",
        ),
        "ot_refresh": forms.int_spin(
            n("ot_refresh"),
            "With an OT or Sinkhorn coupling, reuse each coupled minibatch for this many "
            "steps (fresh t each time): pairing costs far more than a step. 1 = re-pair every "
            "step. No effect with independent pairs.",
            1,
            1000,
            d.ot_refresh,
        ),
        "seed": forms.int_spin(
            n("seed"),
            "Random seed of the run (weights, data draws, noise): the same seed and settings "
            "reproduce a run.",
            0,
            2**31 - 1,
            d.seed,
        ),
        "device": forms.combo(
            n("device"),
            "Where the model trains: 'auto' picks a GPU when there is one, else the CPU.",
            available_devices(),
        ),
    }


class SettingsPanel(QWidget):
    """Edits a `TrainConfig`. Setters never emit; user edits emit `changed(field, value)`."""

    changed = Signal(str, object)
    """A field the user edited and its new value (None for 'auto'/'default')."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self._base = TrainConfig()
        self._training = False
        self._widgets = _make_widgets(self._base)
        self._labels: dict[str, QLabel] = {}
        self._forms: dict[str, QFormLayout] = {}
        self._tips = {field: w.toolTip() for field, w in self._widgets.items()}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._error = forms.error_label("settingsError")
        layout.addWidget(self._error)
        for title, fields in GROUPS:
            box, form = forms.section(title)
            for field in fields:
                self._forms[field] = form
                self._labels[field] = forms.add_row(form, LABELS[field], self._widgets[field])
            if title == "Path":
                self._path_hint = forms.hint_label("settingsPathHint")
                form.addRow(self._path_hint)
            layout.addWidget(box)
        layout.addStretch(1)
        forms.align_labels(list(self._labels.values()))
        for field, widget in self._widgets.items():
            forms.value_signal(widget).connect(lambda *_, f=field: self._on_edit(f))
        self.set_config(self._base)

    # -- reading and writing the config --------------------------------------------------------

    def widget(self, field: str) -> QWidget:
        """The control editing `field` (for the main window's shortcuts and tests)."""
        return self._widgets[field]

    def set_config(self, cfg: TrainConfig) -> None:
        """Show `cfg` (fields without a control are kept for `config()`); emits nothing."""
        self._base = dataclasses.replace(cfg)
        device = self._widgets["device"]
        assert isinstance(device, QComboBox)
        if device.findData(cfg.device) < 0:  # a session from a machine with other hardware
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
            if path in PRESETS and coupling not in (None, PRESETS[path][1]):
                # a preset fixes its coupling: fall back to auto rather than show an error
                forms.set_widget_value(self._widgets["coupling"], None)
                edits.append("coupling")
            self._path_changed()
        self._check(self._collect())
        for name in edits:
            self.changed.emit(name, forms.widget_value(self._widgets[name]))

    def _path_changed(self) -> None:
        """Show only the parameters the chosen path takes, with help for that path."""
        path = forms.widget_value(self._widgets["path"])
        base_path = resolve_preset(path, None)[0]
        self._forms["sigma_min"].setRowVisible(self._widgets["sigma_min"], base_path == "ot")
        self._forms["sigma"].setRowVisible(self._widgets["sigma"], base_path in SIGMA_HELP)
        self._tips["sigma"] = SIGMA_HELP.get(base_path, SIGMA_HELP["icfm"])
        self._path_hint.setText(PATH_HELP.get(path, ""))
        self._refresh_tips()

    # -- training lock -------------------------------------------------------------------------

    def set_training(self, active: bool) -> None:
        """Lock the fields a running trainer cannot take; the others stay editable (live)."""
        self._training = active
        for field in LOCKED_WHILE_TRAINING:
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
