"""One control per setting, made from its description (core/schema.py): a combo for a fixed
list of values, a check box for on/off, a spin box within the setting's bounds (a 1-2-5 one for
learning rates, one whose lowest position means "auto" for a setting that may be None).

Every control is named `setting_<name>` and carries the setting's help, bounds and when it
applies as its tooltip, so the forms of both windows are generated rather than written.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QCheckBox, QWidget

from fmstudio.app.panels import forms
from fmstudio.core.schema import Change, Choice, Described

INT32_MAX = (1 << 31) - 1
"""Beyond this a QSpinBox cannot count: larger ranges get a text field (`BigIntEdit`)."""
FLOAT_FIELD_MAX = 1e9
"""The top of a float field whose setting has no upper bound."""
WHEN = {
    Change.LIVE: "Applied live, at the next chunk of steps.",
    Change.RESUME: "Takes effect when the run resumes.",
    Change.NEW_RUN: "",
}


def object_name(name: str) -> str:
    return f"setting_{name}"


def tooltip(d: Described, help: str | None = None) -> str:
    """The setting's help (or a path's own `help` for a shared parameter), its range and
    when a change takes effect."""
    s = d.setting
    parts = [help or s.help]
    if s.low is not None or s.high is not None:
        parts.append(f"Range {s.bounds_text()}.")
    if WHEN[s.change]:
        parts.append(WHEN[s.change])
    return " ".join(parts)


def control(d: Described, choices: Sequence[Choice] | None = None) -> QWidget:
    """The control of setting `d` showing its default; `choices` replaces the setting's own
    (the devices this machine has)."""
    s, name, tip = d.setting, object_name(d.name), tooltip(d)
    items = choices if choices is not None else s.choices
    if items:
        none = [(s.none or "auto", None, "")] if d.optional else []
        widget: QWidget = forms.combo(name, tip, none + [(c.label, c.value, c.help) for c in items])
    elif d.base is bool:
        widget = forms.configure(QCheckBox(), name, tip)
    elif d.base is int:
        widget = _int_control(d, name, tip)
    elif s.log:
        widget = forms.sci_spin(name, tip, float(s.low or 0.0), float(s.high or 1.0), d.default)
    elif d.optional:
        widget = forms.optional_spin(
            name, tip, _float_high(d), step=s.step or 0.05, decimals=s.decimals, default=s.none
        )
    else:
        widget = forms.float_spin(
            name, tip, float(s.low or 0.0), _float_high(d), d.default or 0.0,
            decimals=s.decimals, step=s.step or 0.05, special=s.zero or None,
        )  # fmt: skip
    forms.set_widget_value(widget, d.default)
    return widget


def _float_high(d: Described) -> float:
    return float(d.setting.high if d.setting.high is not None else FLOAT_FIELD_MAX)


def _int_control(d: Described, name: str, tip: str) -> QWidget:
    s = d.setting
    low, high = int(s.low or 0), int(s.high if s.high is not None else INT32_MAX)
    if high > INT32_MAX:
        return forms.big_int_edit(name, tip, low, high)
    if d.optional:
        return forms.optional_int_spin(name, tip, low, high, s.none or "auto")
    return forms.int_spin(
        name, tip, low, high, d.default, step=int(s.step or 1), adaptive=high > 10_000,
        special=s.zero or None,
    )  # fmt: skip
