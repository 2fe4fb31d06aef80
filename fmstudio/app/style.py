"""Colours and pens shared by every view, so the panels read as one app."""

from __future__ import annotations

BACKGROUND = "#14161a"
FOREGROUND = "#c8ccd4"
GRID_ALPHA = 0.15

TARGET = (120, 170, 255, 90)
"""Target points: a pale blue cloud behind the samples."""
SAMPLES = (255, 150, 50, 200)
"""Model samples and particles: orange, drawn on top."""
NOISE = (200, 200, 200, 120)
TRAJECTORY = (255, 210, 140, 95)
"""Trajectories: many faint curves read as a flow."""
MARGINAL = (255, 90, 200, 230)
"""The exact marginal field (eq. 8) overlaid on the learned one."""
CONDITIONAL = (240, 240, 240, 170)
"""Conditional paths of coupled pairs: white, over the orange learned trajectories."""
COMPARE_COLORS = ("#ff9632", "#6fa8ff", "#5ad28c", "#e070e0")
"""One colour per configuration in compare mode's chart."""
LOSS = (255, 150, 50, 80)
LOSS_SMOOTH = (255, 190, 110, 255)
BRUSH = (255, 255, 255, 160)
SPEED_COLORMAP = "viridis"
DENSITY_COLORMAP = "inferno"


def apply_theme(app) -> None:
    """Fusion with a dark palette, so the controls match the dark plots on every platform."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    palette = QPalette()
    roles = QPalette.ColorRole
    colors = {
        roles.Window: "#1e2127",
        roles.WindowText: FOREGROUND,
        roles.Base: "#16181d",
        roles.AlternateBase: "#23262d",
        roles.ToolTipBase: "#2b2f37",
        roles.ToolTipText: FOREGROUND,
        roles.Text: FOREGROUND,
        roles.Button: "#2a2e36",
        roles.ButtonText: FOREGROUND,
        roles.BrightText: "#ff6b6b",
        roles.Highlight: "#e08a2e",
        roles.HighlightedText: "#101214",
        roles.Link: "#6fa8ff",
        roles.PlaceholderText: "#7a808c",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#6b707a"))
    app.setPalette(palette)
