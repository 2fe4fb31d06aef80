"""The left-hand side panels: data source, training settings and sampling.

They show state and emit intent only; the main window connects their signals, opens dialogs
and talks to the training process.
"""

from fmstudio.app.panels.data import DataPanel
from fmstudio.app.panels.sampling import SamplingPanel
from fmstudio.app.panels.settings import LOCKED_WHILE_TRAINING, SettingsPanel

__all__ = ["LOCKED_WHILE_TRAINING", "DataPanel", "SamplingPanel", "SettingsPanel"]
