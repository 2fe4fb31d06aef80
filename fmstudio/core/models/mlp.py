"""The 2-D model: an MLP on [x, embed(t)]."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fmstudio.core.models.embedding import FourierTimeEmbedding

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


class MLP(nn.Module):
    """v_θ(x, t) for points: `depth` hidden layers of `hidden` units.

    Smooth activations (SiLU, the default) keep the field differentiable, which the exact
    divergence of the likelihood needs; ReLU is offered for comparison.
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 256,
        depth: int = 3,
        activation: str = "silu",
        time_dim: int = 32,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation '{activation}'; choose one of {list(ACTIVATIONS)}"
            )
        if dim < 1 or hidden < 1 or depth < 1:
            raise ValueError(f"dim, hidden and depth must be >= 1, got {dim}, {hidden}, {depth}")
        self.dim = dim
        self.time_embed = FourierTimeEmbedding(time_dim)
        layers: list[nn.Module] = []
        width = dim + time_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        t = t.expand(len(x)) if t.dim() == 0 else t
        return self.net(torch.cat([x, self.time_embed(t).to(x.dtype)], dim=1))
