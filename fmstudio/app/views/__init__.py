"""The plots of the app: each a QWidget holding a styled `pg.PlotWidget` as `.plot`."""

from fmstudio.app.views.density import DensityView
from fmstudio.app.views.field import FieldView, arrow_segments
from fmstudio.app.views.loss import LossView
from fmstudio.app.views.plot import PlotView, make_plot, set_plot_bounds
from fmstudio.app.views.samples import SamplesView
from fmstudio.app.views.timebar import TimeBar
from fmstudio.app.views.trajectories import TrajectoryView

__all__ = [
    "DensityView",
    "FieldView",
    "LossView",
    "PlotView",
    "SamplesView",
    "TimeBar",
    "TrajectoryView",
    "arrow_segments",
    "make_plot",
    "set_plot_bounds",
]
