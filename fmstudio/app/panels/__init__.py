"""The left-hand side panels: data source (data.py), training settings (settings.py, generated
from the settings' descriptions by controls.py) and sampling (sampling.py); forms.py makes
their controls.

They show state and emit intent only; the windows connect their signals, open dialogs and talk
to the training process. Import each from its module (this package re-exports nothing, so
importing `forms` does not import every panel).
"""
