"""Networks: shapes for points and images, time conditioning, clear errors."""

from __future__ import annotations

import pytest
import torch

from fmstudio.core.models import MLP, FourierTimeEmbedding, UNet, build_model


@pytest.mark.parametrize("t", [torch.tensor(0.3), torch.rand(16)], ids=["scalar-t", "batch-t"])
def test_mlp_shapes_and_time_dependence(t):
    model = MLP(hidden=32, depth=2, activation="gelu")
    x = torch.randn(16, 2)
    out = model(x, t)
    assert out.shape == (16, 2)
    assert not torch.allclose(model(x, torch.zeros(16)), model(x, torch.ones(16)))


@pytest.mark.parametrize(
    ("channels", "size", "mults"), [(1, 8, (1, 2)), (1, 28, (1, 2, 2)), (3, 32, (1, 2, 2))]
)
def test_unet_keeps_image_shape_and_trains(channels, size, mults):
    model = UNet(in_channels=channels, base_channels=16, channel_mults=mults)
    x = torch.randn(3, channels, size, size)
    out = model(x, torch.rand(3))
    assert out.shape == x.shape
    loss = out.square().mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_unet_rejects_bad_shapes_clearly():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        UNet(in_channels=2)
    model = UNet(in_channels=1, channel_mults=(1, 2, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.randn(2, 1, 10, 10), torch.rand(2))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.randn(2, 3, 8, 8), torch.rand(2))


def test_fourier_embedding_is_bounded_and_distinguishes_times():
    emb = FourierTimeEmbedding(16)
    e = emb(torch.linspace(0, 1, 50))
    assert e.shape == (50, 16) and e.abs().max() <= 1
    assert torch.cdist(e, e).add(torch.eye(50) * 10).min() > 1e-3


def test_build_model_from_config():
    assert isinstance(build_model({"kind": "mlp", "hidden": 8, "depth": 1}), MLP)
    assert isinstance(build_model({"kind": "unet", "channel_mults": [1, 2]}), UNet)
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model({"kind": "transformer"})
    with pytest.raises(ValueError, match="bad mlp model config"):
        build_model({"kind": "mlp", "widht": 3})
    with pytest.raises(ValueError, match="activation"):
        MLP(activation="swish")
