"""Time-conditioned networks v_θ(x, t): an MLP for points and a small U-Net for images."""

from fmstudio.core.models.embedding import FourierTimeEmbedding
from fmstudio.core.models.mlp import ACTIVATIONS, MLP
from fmstudio.core.models.registry import build_model
from fmstudio.core.models.unet import UNet

__all__ = ["ACTIVATIONS", "MLP", "FourierTimeEmbedding", "UNet", "build_model"]
