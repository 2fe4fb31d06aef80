"""fmstudio: train, sample and inspect Flow Matching models (Lipman et al., ICLR 2023).

The notebook API re-exports the engine's main entry points; everything else lives in
`fmstudio.core.*` modules named for what they hold. The re-exports load on first use
(PEP 562), so that `import fmstudio.cli` or the window do not import torch before they need it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigError": "fmstudio.core.config",
    "TrainConfig": "fmstudio.core.config",
    "DatasetError": "fmstudio.core.data",
    "make_preset": "fmstudio.core.data",
    "resolve_dataset": "fmstudio.core.data",
    "FlowModel": "fmstudio.core.flow",
    "CheckpointError": "fmstudio.core.io",
    "load_flow": "fmstudio.core.io",
    "load_trainer": "fmstudio.core.io",
    "save_checkpoint": "fmstudio.core.io",
    "marginal_velocity": "fmstudio.core.marginal",
    "energy_distance": "fmstudio.core.metrics",
    "sliced_wasserstein": "fmstudio.core.metrics",
    "wasserstein2": "fmstudio.core.metrics",
    "make_path": "fmstudio.core.paths",
    "SOLVERS": "fmstudio.core.solvers",
    "solve": "fmstudio.core.solvers",
    "DivergenceError": "fmstudio.core.training",
    "Trainer": "fmstudio.core.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fmstudio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
