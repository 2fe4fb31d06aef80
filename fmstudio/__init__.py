"""fmstudio: train, sample and inspect Flow Matching models (Lipman et al., ICLR 2023).

The notebook API re-exports the engine's main entry points; everything else lives in
`fmstudio.core.*` modules named for what they hold.
"""

from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import DatasetError, make_preset, resolve_dataset
from fmstudio.core.flow import FlowModel
from fmstudio.core.io import CheckpointError, load_flow, load_trainer, save_checkpoint
from fmstudio.core.marginal import marginal_velocity
from fmstudio.core.metrics import energy_distance, sliced_wasserstein, wasserstein2
from fmstudio.core.paths import make_path
from fmstudio.core.solvers import SOLVERS, solve
from fmstudio.core.training import DivergenceError, Trainer

__version__ = "0.1.0"

__all__ = [
    "SOLVERS",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DivergenceError",
    "FlowModel",
    "TrainConfig",
    "Trainer",
    "energy_distance",
    "load_flow",
    "load_trainer",
    "make_path",
    "make_preset",
    "marginal_velocity",
    "resolve_dataset",
    "save_checkpoint",
    "sliced_wasserstein",
    "solve",
    "wasserstein2",
]
