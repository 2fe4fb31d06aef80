"""Sinusoidal features of t, so a small network can resolve fast changes of the field in time."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class FourierTimeEmbedding(nn.Module):
    """t ∈ [0, 1] → [sin(2π f_k t), cos(2π f_k t)] with geometric frequencies f_k ∈ [1, max_freq].

    Raw t alone makes an MLP's field nearly linear in time; the VP path's target changes by
    orders of magnitude near t = 1, which low frequencies cannot follow.
    """

    def __init__(self, dim: int = 32, max_freq: float = 64.0) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"time embedding dim must be even and >= 2, got {dim}")
        freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2))
        self.register_buffer("freqs", 2 * math.pi * freqs, persistent=False)
        self.dim = dim

    def forward(self, t: Tensor) -> Tensor:
        angles = t.reshape(-1, 1) * self.freqs
        return torch.cat([angles.sin(), angles.cos()], dim=1)
