"""The desktop app: PySide6 widgets and pyqtgraph views over `fmstudio.core`.

Widgets show state and send intent; the training process (`engine.py`, `process.py`) owns the
model and computes every picture's data with core functions (`core.view_maths`). Nothing here
does the math.
"""
