"""One t-slider with play for every time-dependent panel (field, trajectories).

Play sweeps t from t_min to t_max in `SWEEP_SECONDS`, driven by the wall clock (a late tick
jumps ahead instead of slowing the sweep), and stops at t_max so the final samples stay on
screen; pressing play again at the end rewinds to t_min first. The timer runs only while playing.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QSlider, QStyle, QToolButton, QWidget

from fmstudio.app.views.plot import make_label

SLIDER_STEPS = 1000
SWEEP_SECONDS = 2.5
FRAME_MS = 33


class TimeBar(QWidget):
    """Slider + play button + "t = 0.500" label; emits `timeChanged(t)` on every change."""

    timeChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeBar")
        self._t_min, self._t_max = 0.0, 1.0
        self._t = 1.0
        self._sweep_start_t = 0.0

        self.play_button = QToolButton()
        self.play_button.setObjectName("timePlay")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play t from noise (t_min) to data (t_max); click to pause")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeSlider")
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setToolTip("Time t of the flow: 0 is noise, 1 is data")
        self.label = make_label("timeLabel", "The time t shown by the field and trajectory views")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("t = 0.000") + 4)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)

        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()

        self.play_button.toggled.connect(self._on_play_toggled)
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderPressed.connect(self.stop)
        self._update_icon()
        self._show(self._t)

    # public API -----------------------------------------------------------------------------

    def time(self) -> float:
        return self._t

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def set_range(self, t_min: float, t_max: float) -> None:
        """The path's usable times (some paths avoid an endpoint); t keeps its place on the bar."""
        if not t_max > t_min:
            raise ValueError(f"t_max ({t_max}) must be greater than t_min ({t_min})")
        fraction = self._fraction(self._t)
        self._t_min, self._t_max = float(t_min), float(t_max)
        self.set_time(self._t_min + fraction * (self._t_max - self._t_min))
        if self.is_playing():  # carry on from here in the new units
            self._sweep_start_t = self._t
            self._clock.restart()

    def set_time(self, t: float) -> None:
        """Move to t (clamped to the range); emits `timeChanged` if t changed."""
        t = min(max(float(t), self._t_min), self._t_max)
        changed = t != self._t
        self._t = t
        self._show(t)
        if changed:
            self.timeChanged.emit(t)

    def play(self) -> None:
        self.play_button.setChecked(True)

    def stop(self) -> None:
        """Pause playback (t stays where it is)."""
        self.play_button.setChecked(False)

    # internals ------------------------------------------------------------------------------

    def _fraction(self, t: float) -> float:
        return (t - self._t_min) / (self._t_max - self._t_min)

    def _show(self, t: float) -> None:
        """Slider and label follow t without re-entering `_on_slider`."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(self._fraction(t) * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self.label.setText(f"t = {t:.3f}")

    def _on_slider(self, value: int) -> None:
        self.set_time(self._t_min + value / SLIDER_STEPS * (self._t_max - self._t_min))

    def _on_play_toggled(self, playing: bool) -> None:
        if playing:
            if self._t >= self._t_max:
                self.set_time(self._t_min)
            self._sweep_start_t = self._t
            self._clock.start()
            self._timer.start()
        else:
            self._timer.stop()
        self._update_icon()

    def _tick(self) -> None:
        span = self._t_max - self._t_min
        t = self._sweep_start_t + self._clock.elapsed() / 1000.0 / SWEEP_SECONDS * span
        self.set_time(t)
        if t >= self._t_max:
            self.stop()

    def _update_icon(self) -> None:
        playing = self.play_button.isChecked()
        pixmap = (
            QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        )
        self.play_button.setIcon(self.style().standardIcon(pixmap))
