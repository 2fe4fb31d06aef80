"""Every menu action, shortcut and button of every window, used the way a person uses them.

A feature once shipped that no click could open (Ctrl+K passed `checked=False` into
`open_compare(spec)` and died in a TypeError) while its tests, which built the window
directly, passed. So here every QAction is triggered as a click triggers it and every button of
the windows they open is clicked, with the modal dialogs answered "cancel"; pytest-qt fails the
test on any exception raised in a slot.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QToolBar,
)

from fmstudio.app.compare_window import CompareWindow
from fmstudio.app.help_pages import HelpPage
from fmstudio.app.images import ImageWindow


@pytest.fixture
def no_dialogs(monkeypatch):
    """Every file or input dialog is cancelled at once (they are modal: nobody would answer)."""
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: ("", "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    for name in ("getItem", "getInt", "getText", "getDouble"):
        monkeypatch.setattr(QInputDialog, name, staticmethod(lambda *a, **k: (None, False)))


def user_actions(window: QMainWindow) -> list[QAction]:
    """What a person can reach: the window's shortcuts and every action of its menus (their
    sub-menus included) and tool bars. pyqtgraph's own context-menu actions are left out: they
    only work from the right-click menu that sets them up."""
    found: list[QAction] = list(window.actions())
    menus = [a.menu() for a in window.menuBar().actions() if a.menu()]
    while menus:
        menu = menus.pop()
        for action in menu.actions():
            (menus.append(action.menu()) if action.menu() else found.append(action))
    for bar in window.findChildren(QToolBar):
        found.extend(bar.actions())
    return list(dict.fromkeys(found))


def click_everything(qtbot, window: QMainWindow, skip: set[str] = frozenset()) -> list[str]:
    """Trigger each of the window's actions and click each of its enabled buttons; the names."""
    used = []
    for action in user_actions(window):
        if action.objectName() not in skip and action.isEnabled() and not action.isSeparator():
            action.trigger()
            used.append(action.objectName() or action.text())
            QApplication.processEvents()
    for button in window.findChildren(QAbstractButton):
        if button.isVisible() and button.isEnabled() and button.objectName() not in skip:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            used.append(button.objectName() or button.text())
            QApplication.processEvents()
    return used


def test_every_action_of_every_window_runs_like_a_click(qtbot, window, no_dialogs, small_config):
    """Main window, then compare mode by its shortcut (Ctrl+K), image mode by its action, every
    action and button of each, then Quit."""
    used = click_everything(qtbot, window, skip={"actionQuit", "actionCompare", "actionImages"})
    assert {"actionTrain", "actionReset", "actionResetLayout", "actionShortcuts"} <= set(used)

    window.findChild(QAction, "actionNewSession").trigger()  # the buttons left no target
    window.settings_panel.set_config(small_config)
    for page in window.findChildren(HelpPage):  # the Help pages took the focus: give it back
        page.close()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # compare mode
    compare = window.compare_window
    assert isinstance(compare, CompareWindow) and compare.isVisible()
    assert [p.name for p in compare.panels] == ["ot", "vp", "otcfm"]
    qtbot.waitUntil(lambda: all(p.config is not None for p in compare.panels), timeout=60000)
    compare.spec.setText("ot")  # Set up then reports its error instead of three new processes
    assert "compareStart" in click_everything(qtbot, compare)

    window.findChild(QAction, "actionImages").trigger()
    images = window.image_window
    assert isinstance(images, ImageWindow) and images.isVisible()
    assert "imageNewRun" in click_everything(qtbot, images, skip={"imageTrain"})

    window.findChild(QAction, "actionQuit").trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    assert not compare.isVisible() and not images.isVisible()


def test_help_lists_the_shortcuts_from_the_actions(qtbot, window):
    window.findChild(QAction, "actionShortcuts").trigger()
    page = window.findChild(HelpPage, "helpShortcuts")
    assert page is not None and page.isVisible()
    text = page.browser.toPlainText()
    for keys, name in (("Ctrl+K", "compare mode"), ("Space", "training"), ("Ctrl+E", "model")):
        assert keys in text and name in text
    window.findChild(QAction, "actionMaths").trigger()
    maths = window.findChild(HelpPage, "helpMaths").browser.toHtml()
    assert "eq. 8" in maths and "arxiv.org/abs/2210.02747" in maths


def test_undo_stroke_sits_in_the_edit_menu(window):
    menus = {m.objectName(): m for m in window.menuBar().findChildren(type(window.recent_menu))}
    edit = [a.objectName() for a in menus["menuEdit"].actions()]
    train = [a.objectName() for a in menus["menuTrain"].actions()]
    assert "actionUndoDrawing" in edit and "actionUndoDrawing" not in train
