"""The Help menu's pages: the keyboard shortcuts (read off the window's own actions, so the list
cannot drift from what the keys do) and what each view shows, with the equation it draws and a
link to the paper that defines it.

The pages are non-modal windows: the user can keep them open beside the plots they explain.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QTextBrowser, QVBoxLayout, QWidget

PAPER = "https://arxiv.org/abs/2210.02747"
"""Lipman et al., Flow Matching for Generative Modeling (ICLR 2023): the equation numbers."""
OT_CFM = "https://arxiv.org/abs/2302.00482"
"""Tong et al., Improving and generalizing flow-based generative models with minibatch OT."""
RECTIFIED = "https://arxiv.org/abs/2209.03003"
"""Liu et al., Flow Straight and Fast: rectified flow and reflow."""

VIEW_MATHS: tuple[tuple[str, str, str], ...] = (
    (
        "Samples vs target",
        "Model samples x₁ = φ₁(x₀): fixed noise x₀ ~ N(0, I) carried along the learned field "
        "by the ODE d/dt φₜ(x) = vₜ(φₜ(x)) (eqs. 1–2), over points of the target q(x₁).",
        PAPER,
    ),
    (
        "Loss",
        "The Conditional Flow Matching loss E‖vₜ(x) − uₜ(x|x₁)‖² (eq. 9), whose gradient "
        "equals that of the Flow Matching loss (eq. 5, Theorem 2). Its floor differs by path "
        "and coupling: compare paths by W2 and NFE, not by loss.",
        PAPER,
    ),
    (
        "Vector field",
        "The learned vₜ(x) at the slider's t; 'exact' overlays the marginal field uₜ(x) of "
        "eq. 8, a softmax-weighted average of the conditional fields (eq. 15, or eq. 21 for "
        "the OT path) over the target points: what the network learns to match.",
        PAPER,
    ),
    (
        "Trajectories",
        "Noise particles integrated from t = 0 to t = 1. 'conditional' adds the conditional "
        "paths ψₜ(x₀) = σₜx₀ + μₜ(x₁) (eq. 11; straight lines for OT, eq. 22) of pairs "
        "coupled as in training: independent, or by exact minibatch OT (OT-CFM).",
        OT_CFM,
    ),
    (
        "Model density",
        "A histogram of model samples, or the exact likelihood by the instantaneous change "
        "of variables: log p₁(x) = log p₀(x₀) − ∫ div vₜ(xₜ) dt (appendix C).",
        PAPER,
    ),
    (
        "Compare mode",
        "W2 to fresh target points against the number of function evaluations (NFE); "
        "straightness E∫‖(x₁ − x₀) − vₜ(xₜ)‖² dt, which reflow drives towards 0.",
        RECTIFIED,
    ),
)


def shortcuts_html(actions: Iterable[QAction]) -> str:
    """A table of every action that has a shortcut, in menu order."""
    rows = []
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            text = html.escape((action.statusTip() or action.text()).replace("&", ""))
            rows.append(f"<tr><td><b>{html.escape(keys)}</b></td><td>{text}</td></tr>")
    return "<h3>Keyboard shortcuts</h3><table cellpadding='3'>" + "".join(rows) + "</table>"


def maths_html() -> str:
    """What each view draws, with the equation numbers and a link to the paper."""
    rows = [
        f"<p><b>{html.escape(title)}</b>: {html.escape(text)} "
        f"<a href='{url}'>{html.escape(url)}</a></p>"
        for title, text, url in VIEW_MATHS
    ]
    intro = (
        "<h3>What each view shows</h3><p>t = 0 is noise N(0, I), t = 1 is data. Equation "
        f"numbers are those of Lipman et al. (<a href='{PAPER}'>{PAPER}</a>).</p>"
    )
    return intro + "".join(rows)


class HelpPage(QDialog):
    """A non-modal page of rich text whose links open in the browser."""

    def __init__(self, parent: QWidget, name: str, title: str, text: str) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        self.resize(560, 480)
