"""The one question the app asks before it throws work away.

Reset, New session, Open and Quit replace the trained model and the drawing. When either holds
work that was not saved, the window asks first: Save, Discard or Cancel. The question is a
module-level function so that tests (and any scripted start that has nobody to answer) can
replace it; a modal dialog nobody answers would hang them.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget


class Answer(Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


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
