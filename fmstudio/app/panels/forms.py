"""Small widget builders shared by the side panels, so every control is made the same way.

Each builder sets the stable `objectName` tests and the main window look controls up by, and
the tooltip that explains what the control does. `widget_value` / `set_widget_value` /
`value_signal` read, write and watch any of these controls uniformly, which lets a panel
describe its fields as data instead of repeating per-widget code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from PySide6.QtCore import (
    QEvent,
    QObject,
    QRegularExpression,
    QSignalBlocker,
    Qt,
    Signal,
    SignalInstance,
)
from PySide6.QtGui import QRegularExpressionValidator, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

W = TypeVar("W", bound=QWidget)

HINT_STYLE = "color: #8a909c; font-size: 11px;"
ERROR_STYLE = "color: #ff6b6b;"
CHECKED_STYLE = (
    "QToolButton:checked { background-color: palette(highlight); "
    "color: palette(highlighted-text); border: 1px solid palette(highlight); "
    "border-radius: 3px; padding: 3px; }"
)
"""A checked mode button (source, brush) must read as "on" in dark palettes too."""
LOCKED_NOTE = "Locked while training: reset to change."

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)?([eE][+-]?\d*)?$")


class _WheelGuard(QObject):
    """Lets the wheel scroll the panel instead of changing a value the user never clicked.

    In a scrolled dock, spin boxes and combos otherwise swallow the wheel as the pointer passes
    over them and silently change settings. Ignoring the event passes it on to the parent.
    """

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


_WHEEL_GUARD: _WheelGuard | None = None


def _guard_wheel(widget: QWidget) -> None:
    global _WHEEL_GUARD
    if _WHEEL_GUARD is None:
        _WHEEL_GUARD = _WheelGuard()
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_WHEEL_GUARD)


def configure(widget: W, name: str, tip: str = "") -> W:
    """Give a widget its stable objectName and its tooltip; returns it for chaining."""
    widget.setObjectName(name)
    if tip:
        widget.setToolTip(tip)
    return widget


class ScientificSpinBox(QDoubleSpinBox):
    """A positive value spanning decades (learning rate, tolerances), shown as 2e-05.

    The arrows step along 1-2-5 per decade, so 1e-5 … 1e-1 is a dozen clicks instead of
    thousands, and any value can still be typed in plain or scientific notation.
    """

    _MANTISSAS = (1.0, 2.0, 5.0)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(15)  # storage precision only; the text is formatted below

    def textFromValue(self, value: float) -> str:
        text = f"{value:.3g}"
        return text.replace("e-0", "e-").replace("e+0", "e+")

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> QValidator.State:
        text = text.strip()
        if not _NUMBER.match(text):
            return QValidator.State.Invalid
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable
        return QValidator.State.Intermediate

    def stepBy(self, steps: int) -> None:
        value = max(self.value(), self.minimum(), 1e-300)
        index = self._floor_index(value)
        on_grid = math.isclose(self._grid(index), value, rel_tol=1e-6)
        index += steps if (steps > 0 or on_grid) else steps + 1
        self.setValue(min(max(self._grid(index), self.minimum()), self.maximum()))

    @classmethod
    def _grid(cls, index: int) -> float:
        exponent, j = divmod(index, len(cls._MANTISSAS))
        return float(f"{cls._MANTISSAS[j]}e{exponent}")

    @classmethod
    def _floor_index(cls, value: float) -> int:
        """Index of the largest 1-2-5 grid value not above `value`."""
        index = len(cls._MANTISSAS) * math.floor(math.log10(value)) + len(cls._MANTISSAS) - 1
        while cls._grid(index) > value * (1 + 1e-9):
            index -= 1
        return index


class OptionalSpinBox(QDoubleSpinBox):
    """A non-negative value that may be left to a default: any negative value reads as None.

    The minimum sits one step below 0 and displays as "default", so one arrow click goes from
    "default" to 0, which is itself a meaningful setting (e.g. I-CFM with no noise).
    """

    def __init__(self, maximum: float, step: float, decimals: int, default_text: str) -> None:
        super().__init__()
        self.setDecimals(decimals)
        self.setRange(-step, maximum)
        self.setSingleStep(step)
        self.setSpecialValueText(default_text)

    def optional_value(self) -> float | None:
        value = self.value()
        return None if value < 0 else value

    def set_optional_value(self, value: float | None) -> None:
        self.setValue(self.minimum() if value is None else value)

    def valueFromText(self, text: str) -> float:
        text = text.strip()
        if not text or text == self.specialValueText():
            return self.minimum()
        try:
            return max(float(text), self.minimum())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> QValidator.State:
        stripped = text.strip()
        special = self.specialValueText()
        if stripped == special:
            return QValidator.State.Acceptable
        if stripped and special.startswith(stripped):
            return QValidator.State.Intermediate
        return super().validate(text, pos)[0]


class OptionalIntSpinBox(QSpinBox):
    """A whole number that may be left to a default: the position one below the minimum
    reads as None and shows what None means ("stored size")."""

    def __init__(self, low: int, high: int, default_text: str) -> None:
        super().__init__()
        self.setRange(low - 1, high)
        self.setSpecialValueText(default_text)

    def optional_value(self) -> int | None:
        return None if self.value() == self.minimum() else self.value()

    def set_optional_value(self, value: int | None) -> None:
        self.setValue(self.minimum() if value is None else value)


class BigIntEdit(QLineEdit):
    """A whole number beyond a spin box's 32 bits (a 64-bit seed), typed in digits; it
    commits on Enter or when focus leaves, like the spin boxes."""

    valueChanged = Signal(int)

    def __init__(self, low: int, high: int) -> None:
        super().__init__()
        self._low, self._high, self._value = low, high, low
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,19}"), self))
        self.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.editingFinished.connect(self._commit)
        self.setText(str(low))

    def value(self) -> int:
        return self._value

    def setValue(self, value: int) -> None:
        self._value = min(max(int(value), self._low), self._high)
        self.setText(str(self._value))

    def _commit(self) -> None:
        old = self._value
        self.setValue(int(self.text() or self._low))
        if self._value != old:
            self.valueChanged.emit(self._value)


def _spin_common(box: QAbstractSpinBox, name: str, tip: str, special: str | None) -> None:
    configure(box, name, tip)
    box.setKeyboardTracking(False)  # one valueChanged per commit, not one per keystroke
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    if special:
        box.setSpecialValueText(special)
    _guard_wheel(box)


def int_spin(
    name: str,
    tip: str,
    lo: int,
    hi: int,
    value: int,
    *,
    step: int = 1,
    adaptive: bool = False,
    special: str | None = None,
) -> QSpinBox:
    """An integer field; `adaptive` steps by about a tenth of the value (batch size, steps)."""
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    if adaptive:
        box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        box.setGroupSeparatorShown(True)
    _spin_common(box, name, tip, special)
    return box


def float_spin(
    name: str,
    tip: str,
    lo: float,
    hi: float,
    value: float,
    *,
    decimals: int = 2,
    step: float = 0.05,
    special: str | None = None,
) -> QDoubleSpinBox:
    """A decimal field with a fixed step."""
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    _spin_common(box, name, tip, special)
    return box


def sci_spin(name: str, tip: str, lo: float, hi: float, value: float) -> ScientificSpinBox:
    """A decade-spanning positive field (see `ScientificSpinBox`)."""
    box = ScientificSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    _spin_common(box, name, tip, None)
    return box


def optional_spin(
    name: str,
    tip: str,
    maximum: float,
    *,
    step: float = 0.05,
    decimals: int = 3,
    default: str = "default",
) -> OptionalSpinBox:
    """A non-negative field whose lowest position means "use the default" (None), shown as
    `default`."""
    box = OptionalSpinBox(maximum, step, decimals, default or "default")
    _spin_common(box, name, tip, None)
    return box


def optional_int_spin(name: str, tip: str, low: int, high: int, default: str) -> QSpinBox:
    """A whole number in [low, high] or None, shown as `default` one below `low`."""
    box = OptionalIntSpinBox(low, high, default)
    _spin_common(box, name, tip, None)
    return box


def big_int_edit(name: str, tip: str, low: int, high: int) -> BigIntEdit:
    """A whole number in [low, high] beyond 32 bits (see `BigIntEdit`)."""
    edit = configure(BigIntEdit(low, high), name, tip)
    edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return edit


ComboItem = tuple[str, Any, str]
"""(label shown, value returned, per-item tooltip)."""


def combo(name: str, tip: str, items: Sequence[ComboItem | str]) -> QComboBox:
    """A choice whose items carry their real value as data (so labels can be friendly)."""
    box = configure(QComboBox(), name, tip)
    for item in items:
        add_combo_item(box, *((item, item, "") if isinstance(item, str) else item))
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    _guard_wheel(box)
    return box


def add_combo_item(box: QComboBox, label: str, value: Any, tip: str = "") -> None:
    box.addItem(label, value)
    if tip:
        box.setItemData(box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)


def set_combo_value(box: QComboBox, value: Any) -> bool:
    """Select the item whose data is `value`; False (selection unchanged) if there is none."""
    for i in range(box.count()):
        if box.itemData(i) == value:
            box.setCurrentIndex(i)
            return True
    return False


def widget_value(widget: QWidget) -> Any:
    """The value a field widget stands for (combo data, None for an optional at default)."""
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, (OptionalSpinBox, OptionalIntSpinBox)):
        return widget.optional_value()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox, BigIntEdit)):
        return widget.value()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    raise TypeError(f"no value for {type(widget).__name__}")


def set_widget_value(widget: QWidget, value: Any) -> None:
    """Show `value` in a field widget without emitting its signals."""
    with QSignalBlocker(widget):
        if isinstance(widget, QComboBox):
            set_combo_value(widget, value)
        elif isinstance(widget, (OptionalSpinBox, OptionalIntSpinBox)):
            widget.set_optional_value(value)
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox, BigIntEdit)):
            widget.setValue(value)
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        else:
            raise TypeError(f"cannot set {type(widget).__name__}")


def value_signal(widget: QWidget) -> SignalInstance:
    """The signal a field widget emits when the user commits a new value."""
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged
    if isinstance(widget, (QSpinBox, QDoubleSpinBox, BigIntEdit)):
        return widget.valueChanged
    if isinstance(widget, QCheckBox):
        return widget.toggled
    raise TypeError(f"no value signal for {type(widget).__name__}")


def tool_button(name: str, text: str, tip: str, *, checkable: bool = False) -> QToolButton:
    """A compact button that grows to share a row with its neighbours."""
    button = configure(QToolButton(), name, tip)
    button.setText(text)
    button.setCheckable(checkable)
    if checkable:
        button.setStyleSheet(CHECKED_STYLE)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


def push_button(name: str, text: str, tip: str) -> QPushButton:
    button = configure(QPushButton(text), name, tip)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


def hint_label(name: str, text: str = "", tip: str = "") -> QLabel:
    """A small grey read-only line (counts, hints, results) that wraps instead of clipping."""
    label = configure(QLabel(text), name, tip)
    label.setStyleSheet(HINT_STYLE)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def value_label(name: str, text: str = "", tip: str = "") -> QLabel:
    """A read-only value in the normal text colour (results), selectable for copying."""
    label = configure(QLabel(text), name, tip)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def error_label(name: str) -> QLabel:
    """A red line for validation messages; hidden while there is nothing to say."""
    label = configure(QLabel(), name)
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def show_error(label: QLabel, message: str | None) -> None:
    label.setText(message or "")
    label.setVisible(bool(message))


def section(title: str) -> tuple[QGroupBox, QFormLayout]:
    """A titled group with a two-column form that stays readable in a ~320 px dock."""
    box = QGroupBox(title)
    form = form_layout()
    box.setLayout(form)
    form.setContentsMargins(8, 6, 8, 6)
    return box, form


def form_layout() -> QFormLayout:
    """Label-field rows: left-aligned labels, fields taking the remaining width."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(4)
    form.setContentsMargins(0, 0, 0, 0)
    return form


def add_row(form: QFormLayout, label: str, field: QWidget) -> QLabel:
    """A labelled row whose label repeats the field's tooltip (people hover the words too)."""
    text = QLabel(label)
    text.setToolTip(field.toolTip())
    text.setBuddy(field)
    form.addRow(text, field)
    return text


def align_labels(labels: Sequence[QLabel]) -> None:
    """Give labels from separate forms one width, so the fields of stacked groups line up."""
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:
        label.setMinimumWidth(width)
