"""The one question the app asks before it throws work away.

Reset, New session, Open and Quit replace the trained model and the drawing. When either holds
work that was not saved, the window asks first: Save, Discard or Cancel. The question is a
module-level function so that tests (and any scripted start that has nobody to answer) can
replace it; a modal dialog nobody answers would hang them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget


class Answer(Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


@dataclass
class SavedStep:
    """The step at which a window's model was last saved, to tell whether dropping the model
    loses training. A fresh model has nothing to lose and an opened one is on disk, so a new
    run takes the step of its first snapshot (`step` is None until then)."""

    step: int | None = 0

    def run_started(self) -> None:
        self.step = None

    def seen(self, step: int) -> None:
        if self.step is None:
            self.step = step

    def saved(self, step: int) -> None:
        self.step = step

    def unsaved(self, step: int) -> bool:
        return self.step is not None and step > self.step


def ask_discard(parent: QWidget, message: str) -> Answer:
    """Save / Discard / Cancel, with Save the default (Escape cancels)."""
    buttons = QMessageBox.StandardButton
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Unsaved work",
        message,
        buttons.Save | buttons.Discard | buttons.Cancel,
        parent,
    )
    box.setObjectName("askDiscard")
    box.setDefaultButton(buttons.Save)
    box.setEscapeButton(buttons.Cancel)
    choice = box.exec()
    return {buttons.Save: Answer.SAVE, buttons.Discard: Answer.DISCARD}.get(
        buttons(choice), Answer.CANCEL
    )
