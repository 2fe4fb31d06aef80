"""The sampling panel: choose an ODE solver and its budget, ask for samples, read the cost.

`request()` gives a `SampleRequest` (count, seed, `SolverSpec`), so the main window
passes it on to the training process; the result (NFE actually spent, W2 to the target, time) comes
back through `show_result`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from fmstudio.app.panels import forms
from fmstudio.core.solver_spec import (
    EVALS_PER_STEP,
    FIXED_STEP,
    SOLVERS,
    SampleRequest,
    SolverSpec,
)

DEFAULT_METHOD = "rk4"
SAMPLE_TEXT = "Sample"
BUSY_TEXT = "Sampling…"

SOLVER_HELP = {
    "euler": "Euler: 1 model evaluation per step, first order. Cheapest per step; needs "
    "straight flows (OT path, OT coupling) to be accurate with few steps.",
    "midpoint": "Midpoint: 2 evaluations per step, second order.",
    "heun": "Heun: 2 evaluations per step, second order.",
    "rk4": "Classic Runge–Kutta: 4 evaluations per step, fourth order.",
    "dopri5": "Dormand–Prince 5(4), adaptive: picks its own steps to meet atol/rtol "
    "(the paper's evaluation solver at 1e-5).",
    "bosh3": "Bogacki–Shampine 3(2), adaptive: cheaper per step than dopri5.",
    "tsit5": "Tsitouras 5(4), adaptive.",
    "adaptive_heun": "Heun–Euler 2(1), adaptive: cheap steps, many of them at tight tolerances.",
}


class SamplingPanel(QWidget):
    """Solver settings and a Sample button; emits `sampleRequested` and shows the outcome."""

    sampleRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("samplingPanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        labels: list[QLabel] = []
        box, form = forms.section("Solver")
        self._solver = forms.combo(
            "samplingSolver",
            "ODE solver that carries noise (t = 0) along the learned field to data (t = 1). "
            "Fixed-step solvers cost steps × stages model evaluations (NFE); adaptive ones "
            "choose their steps from atol/rtol.",
            [(name, name, SOLVER_HELP.get(name, "")) for name in SOLVERS],
        )
        self._steps = forms.int_spin(
            "samplingSteps",
            "Number of uniform time steps of a fixed-step solver. Fewer steps are faster but "
            "bend curved trajectories off course.",
            1,
            1000,
            20,
        )
        self._steps.setKeyboardTracking(True)  # keep the NFE hint in step with typing
        self._nfe_hint = forms.hint_label("samplingNfeHint")
        self._atol = forms.sci_spin(
            "samplingAtol",
            "Absolute error tolerance per step of an adaptive solver: smaller is more "
            "accurate and spends more evaluations.",
            1e-10,
            1.0,
            1e-5,
        )
        self._rtol = forms.sci_spin(
            "samplingRtol",
            "Relative error tolerance per step of an adaptive solver: smaller is more "
            "accurate and spends more evaluations.",
            1e-10,
            1.0,
            1e-5,
        )
        for label, widget in (
            ("Solver", self._solver),
            ("Steps", self._steps),
            ("", self._nfe_hint),
            ("atol", self._atol),
            ("rtol", self._rtol),
        ):
            labels.append(forms.add_row(form, label, widget))
        layout.addWidget(box)

        box, form = forms.section("Samples")
        self._count = forms.int_spin(
            "samplingCount",
            "How many samples to draw (and compare with the target by W2).",
            10,
            100_000,
            2000,
            adaptive=True,
        )
        self._seed = forms.int_spin(
            "samplingSeed",
            "Seed of the starting noise x0: the same seed gives the same samples, so solvers "
            "can be compared on identical starting points.",
            0,
            2**31 - 1,
            0,
        )
        labels.append(forms.add_row(form, "Count", self._count))
        labels.append(forms.add_row(form, "Seed", self._seed))
        layout.addWidget(box)

        self._button = forms.push_button(
            "sampleButton",
            SAMPLE_TEXT,
            "Draw samples with the current model (EMA weights) and these solver settings.",
        )
        self._button.setMinimumHeight(28)
        self._button.clicked.connect(self.sampleRequested)
        layout.addWidget(self._button)

        box, form = forms.section("Result")
        self._nfe = forms.value_label(
            "samplingNfe", "—", "Model evaluations the solve actually spent (NFE)."
        )
        self._w2 = forms.value_label(
            "samplingW2",
            "—",
            "Exact 2-Wasserstein distance between the samples and as many target points: lower "
            "is closer. Compare solvers by this, not by the loss. 'perfect' is the mean W2 "
            "between independent draws of the target of that size: what a perfect model scores, "
            "since finite samples never match exactly (a model can land a little under it).",
        )
        self._time = forms.value_label("samplingTime", "—", "Wall-clock time of the solve.")
        labels.append(forms.add_row(form, "NFE", self._nfe))
        labels.append(forms.add_row(form, "W2", self._w2))
        labels.append(forms.add_row(form, "Time", self._time))
        layout.addWidget(box)
        layout.addStretch(1)
        forms.align_labels(labels)

        self._solver.currentIndexChanged.connect(self._update_solver)
        self._steps.valueChanged.connect(self._update_solver)
        forms.set_combo_value(self._solver, DEFAULT_METHOD)
        self._update_solver()

    def _update_solver(self) -> None:
        """Offer the budget that applies to the solver: steps, or tolerances."""
        method = self.method()
        fixed = method in FIXED_STEP
        self._steps.setEnabled(fixed)
        self._atol.setEnabled(not fixed)
        self._rtol.setEnabled(not fixed)
        if fixed:
            stages = EVALS_PER_STEP[method]
            steps = self._steps.value()
            self._nfe_hint.setText(f"NFE = {steps} steps × {stages} stages = {steps * stages}")
        else:
            self._nfe_hint.setText("NFE chosen by the solver to meet atol/rtol.")

    def method(self) -> str:
        return self._solver.currentData()

    def request(self) -> SampleRequest:
        """The sampling run the panel describes (its spin boxes only hold valid values)."""
        method = self.method()
        if method in FIXED_STEP:
            solver = SolverSpec.fixed(method, self._steps.value())
        else:
            solver = SolverSpec(method, atol=self._atol.value(), rtol=self._rtol.value())
        return SampleRequest(self._count.value(), self._seed.value(), solver)

    def set_request(self, request: SampleRequest) -> None:
        """Show `request`; emits nothing."""
        self.restore(request.to_flat())

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a saved request (a session's view state, `SampleRequest.to_flat`); missing
        keys are left as they are. Emits nothing; an unknown method is ignored rather than
        failing a session load."""
        method = state.get("method")
        if method in SOLVERS:
            forms.set_widget_value(self._solver, method)
        for key, widget in (
            ("steps", self._steps),
            ("atol", self._atol),
            ("rtol", self._rtol),
            ("n", self._count),
            ("seed", self._seed),
        ):
            value = state.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                forms.set_widget_value(widget, type(widget.value())(value))
        self._update_solver()

    def show_busy(self, busy: bool) -> None:
        """While a solve runs, the button is off and says so (one solve at a time)."""
        self._button.setEnabled(not busy)
        self._button.setText(BUSY_TEXT if busy else SAMPLE_TEXT)

    def show_result(
        self, nfe: int, w2: float | None, seconds: float, floor: float | None = None
    ) -> None:
        """Show what the last solve cost and how close it came (W2 None: not measured), next to
        the W2 `floor`: what draws of the target itself score, i.e. a perfect model."""
        self._nfe.setText(f"{nfe:,}")
        text = "—" if w2 is None else f"{w2:.4g}"
        self._w2.setText(text if floor is None else f"{text} (perfect ≈ {floor:.4g})")
        self._time.setText(f"{seconds:.2f} s" if seconds >= 0.01 else f"{seconds * 1e3:.1f} ms")
