"""Window sizes that fit the user's screen.

Every window has a size it looks best at (the main window 1500×950), but a laptop's 1366×768
screen is smaller than that, and a window larger than the screen hides its right-hand views and
its status bar off-screen. So windows open at their preferred size shrunk to the screen's
available area (less the window's borders and title bar), centred on it; `--size` asks for an
exact size instead, and a remembered geometry is kept only while it still fits its screen.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

DECORATION = (8, 40)
"""Room left for the window manager's borders and title bar, which `resize` does not count."""


def available_area(window: QWidget) -> QRect:
    """The usable area of the window's screen (the primary screen before it is shown)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fitted_size(preferred: tuple[int, int], area: QRect) -> tuple[int, int]:
    """`preferred`, shrunk to fit `area` with room for the window's decoration."""
    width, height = preferred
    return (
        min(width, max(1, area.width() - DECORATION[0])),
        min(height, max(1, area.height() - DECORATION[1])),
    )


def fit_to_screen(window: QWidget, preferred: tuple[int, int]) -> None:
    """Resize to `preferred` shrunk to the screen, and centre the window on the screen."""
    area = available_area(window)
    width, height = fitted_size(preferred, area)
    window.resize(width, height)
    window.move(
        area.x() + (area.width() - DECORATION[0] - width) // 2,
        area.y() + (area.height() - DECORATION[1] - height) // 2,
    )


def fits_screen(window: QWidget) -> bool:
    """Whether the window (as restored) lies within its screen's available area."""
    area = available_area(window)
    geometry = window.frameGeometry()
    return geometry.width() <= area.width() and geometry.height() <= area.height()
