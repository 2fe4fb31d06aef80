"""Build a model from its JSON config, the one place a checkpoint's "model" entry is read."""

from __future__ import annotations

from typing import Any

from torch import nn

from fmstudio.core.models.mlp import MLP
from fmstudio.core.models.unet import UNet

_KINDS: dict[str, type[nn.Module]] = {"mlp": MLP, "unet": UNet}


def build_model(config: dict[str, Any]) -> nn.Module:
    """`{"kind": "mlp", "hidden": 256, ...}` → the module; unknown kinds or keys are errors."""
    params = dict(config)
    kind = params.pop("kind", None)
    cls = _KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {list(_KINDS)}")
    if "channel_mults" in params:
        params["channel_mults"] = tuple(params["channel_mults"])
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad {kind} model config {config}: {exc}") from None
