"""A small U-Net v_θ(x, t) for images up to 32×32 with 1 or 3 channels."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fmstudio.core.models.embedding import FourierTimeEmbedding


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3×3 convolutions with the time embedding added in between (scale-free FiLM)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.block1 = nn.Sequential(_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))
        self.emb = nn.Linear(emb_dim, c_out)
        self.block2 = nn.Sequential(_norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.block1(x) + self.emb(emb)[:, :, None, None]
        return self.block2(h) + self.skip(x)


class UNet(nn.Module):
    """Encoder–decoder with skip connections; each level halves the resolution.

    `channel_mults` sets the levels: (1, 2, 2) on 32×32 works at 32, 16 and 8 pixels. Image sides
    must be divisible by 2^(levels − 1); the check happens in `forward` with a clear message.
    """

    def __init__(
        self,
        in_channels: int = 1,
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        time_dim: int = 64,
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"the U-Net takes 1 or 3 channels, got {in_channels}")
        self.in_channels = in_channels
        self.levels = len(channel_mults)
        emb_dim = 4 * base_channels
        self.time_embed = nn.Sequential(
            FourierTimeEmbedding(time_dim), nn.Linear(time_dim, emb_dim), nn.SiLU()
        )
        self.stem = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        widths = [base_channels * m for m in channel_mults]
        self.down = nn.ModuleList()
        c = base_channels
        for w in widths:
            self.down.append(ResBlock(c, w, emb_dim))
            c = w
        self.pool = nn.AvgPool2d(2)
        self.mid = ResBlock(c, c, emb_dim)
        self.up = nn.ModuleList()
        for w in reversed(widths):
            self.up.append(ResBlock(c + w, w, emb_dim))
            c = w
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Sequential(_norm(c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        factor = 2 ** (self.levels - 1)
        if (
            x.dim() != 4
            or x.shape[1] != self.in_channels
            or x.shape[-1] % factor
            or x.shape[-2] % factor
        ):
            raise ValueError(
                f"expected images (B, {self.in_channels}, H, W) with H, W divisible by {factor}, "
                f"got {tuple(x.shape)}"
            )
        t = t.expand(len(x)) if t.dim() == 0 else t
        emb = self.time_embed(t).to(x.dtype)
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < self.levels - 1:
                h = self.pool(h)
        h = self.mid(h, emb)
        for i, block in enumerate(self.up):
            if i > 0:
                h = self.upsample(h)
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.head(h)
