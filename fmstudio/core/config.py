"""The run configuration: one flat, JSON-serialisable record that rebuilds a run exactly.

It is what a checkpoint's `config.json` stores, what the CLI flags fill in and what the app's
settings panel edits. `validate` turns every impossible setting into one clear `ConfigError`
before any tensor is allocated.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from fmstudio.core.couplings import COUPLINGS
from fmstudio.core.data import Dataset2D, resolve_dataset
from fmstudio.core.data.images import MAX_IMAGE_SIDE, ImageDataset, is_image_spec, resolve_images
from fmstudio.core.models.mlp import ACTIVATIONS
from fmstudio.core.paths import PATHS, PRESETS, resolve_preset


class ConfigError(ValueError):
    """An impossible or unknown setting, named with the reason."""


@dataclass
class TrainConfig:
    """Everything that defines a run; the defaults train checkerboard well in ~1 min on CPU."""

    dataset: str = "checkerboard"
    jitter: float = 0.0
    scale: float = 1.0
    path: str = "ot"
    coupling: str | None = None
    sigma_min: float = 0.0
    sigma: float | None = None
    sigma_max: float | None = None
    beta_min: float = 0.1
    beta_max: float = 20.0
    hidden: int = 256
    depth: int = 3
    activation: str = "silu"
    time_dim: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 100
    batch_size: int = 256
    steps: int = 10000
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    ot_refresh: int = 1
    image_size: int | None = None
    channels: int | None = None
    unet: str = "tiny"
    held_out: int = 256
    amp: bool = True

    def validate(self) -> TrainConfig:
        """Check every field; returns self so calls chain. Raises ConfigError."""
        try:
            path, coupling = resolve_preset(self.path, self.coupling)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if coupling not in COUPLINGS:
            raise ConfigError(f"unknown coupling '{coupling}'; choose one of {list(COUPLINGS)}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation '{self.activation}'; choose {list(ACTIVATIONS)}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value}")
        for name, (low, high) in SIZE_LIMITS.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")
        weights = self.hidden * (self.hidden * (self.depth - 1) + self.time_dim + 8)
        if weights > MAX_MLP_WEIGHTS:
            raise ConfigError(
                f"hidden {self.hidden} x depth {self.depth} makes an MLP of ~{weights:.1e} "
                f"weights, more than {MAX_MLP_WEIGHTS:.0e}: a 2-D flow needs far fewer"
            )
        checks = [
            (self.time_dim >= 2 and self.time_dim % 2 == 0, "time_dim must be even and >= 2"),
            (self.optimizer in ("adam", "adamw"), "optimizer must be 'adam' or 'adamw'"),
            (self.lr > 0, "lr must be > 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.schedule in SCHEDULES, f"schedule must be one of {list(SCHEDULES)}"),
            (0.0 <= self.ema_decay < 1.0, "ema_decay must be in [0, 1)"),
            (self.grad_clip >= 0, "grad_clip must be >= 0 (0 disables clipping)"),
            (self.jitter >= 0, "jitter must be >= 0"),
            (self.scale > 0, "scale must be > 0"),
            (0.0 <= self.sigma_min < 1.0, "sigma_min must be in [0, 1)"),
            (self.sigma is None or self.sigma >= 0, "sigma must be >= 0"),
            (self.sigma_max is None or self.sigma_max > 0, "sigma_max must be > 0"),
            (0 < self.beta_min <= self.beta_max, "need 0 < beta_min <= beta_max"),
            (
                self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
                "device must be auto, cpu, cuda, cuda:N or mps",
            ),
            (self.channels in (None, 1, 3), "channels must be 1 or 3"),
            (self.unet in UNET_PRESETS, f"unet must be one of {list(UNET_PRESETS)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        if path == "sb" and self.sigma == 0:
            raise ConfigError("the Schrödinger-bridge path needs sigma > 0")
        return self

    @property
    def path_name(self) -> str:
        return resolve_preset(self.path, self.coupling)[0]

    @property
    def coupling_name(self) -> str:
        return resolve_preset(self.path, self.coupling)[1]

    def path_params(self) -> dict[str, float]:
        """The parameters the chosen path takes, from the flat fields (None = path default)."""
        name = self.path_name
        params: dict[str, float | None] = {
            "ot": {"sigma_min": self.sigma_min},
            "vp": {"beta_min": self.beta_min, "beta_max": self.beta_max},
            "ve": {"sigma_max": self.sigma_max},
            "cosine": {},
            "icfm": {"sigma": self.sigma},
            "sb": {"sigma": self.sigma},
        }[name]
        return {k: v for k, v in params.items() if v is not None}

    @property
    def is_image(self) -> bool:
        """Whether the dataset is images ('digits', 'mnist:PATH', ...) rather than 2-D points."""
        return is_image_spec(self.dataset)

    def make_dataset(self) -> Dataset2D | ImageDataset:
        """The dataset this config names (DatasetError if bad): 2-D points with their jitter
        and scale, or images at `image_size` with `channels`."""
        if self.is_image:
            return resolve_images(self.dataset, size=self.image_size, channels=self.channels)
        return resolve_dataset(self.dataset, jitter=self.jitter, scale=self.scale)

    def model_config(self, shape: tuple[int, ...] = (2,)) -> dict[str, Any]:
        """An MLP for points of shape (d,), a U-Net (`unet` preset) for images (C, H, W)."""
        if len(shape) == 1:
            return {
                "kind": "mlp",
                "dim": int(shape[0]),
                "hidden": self.hidden,
                "depth": self.depth,
                "activation": self.activation,
                "time_dim": self.time_dim,
            }
        channels, height, width = (int(v) for v in shape)
        base, mults = UNET_PRESETS[self.unet]
        while len(mults) > 1 and (height % 2 ** (len(mults) - 1) or width % 2 ** (len(mults) - 1)):
            mults = mults[:-1]  # each level halves the image: keep the levels its size allows
        return {
            "kind": "unet",
            "in_channels": channels,
            "base_channels": base,
            "channel_mults": list(mults),
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from JSON; unknown keys and wrong types are a ConfigError, never ignored."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise ConfigError(f"unknown config keys {sorted(unknown)}")
        for key, value in data.items():
            if not _type_ok(fields[key].type, value):
                raise ConfigError(f"config key '{key}' has a bad value {_shorten(value)}")
        return cls(**data).validate()


SCHEDULES = ("constant", "cosine", "linear")
RESUME_SETTINGS = (
    "steps", "lr", "schedule", "warmup_steps", "batch_size", "ema_decay", "grad_clip",
    "ot_refresh", "device", "amp",
)  # fmt: skip
"""What a resumed run may change: how it goes on, not what it learns or from what."""
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    "hidden": (1, 1 << 16),
    "depth": (1, 64),
    "time_dim": (2, 4096),
    "batch_size": (2, 1 << 20),
    "steps": (1, 1 << 31),
    "warmup_steps": (0, 1 << 31),
    "ot_refresh": (1, 1 << 20),
    "held_out": (1, 1 << 20),
    "image_size": (4, MAX_IMAGE_SIDE),
    "seed": (0, (1 << 63) - 1),
}
"""Bounds of the size settings: past them a run cannot fit in memory or finish, and a config
file that names such a size is refused before anything is allocated."""
MAX_MLP_WEIGHTS = 500_000_000
"""2 GB of fp32 weights (8 GB with Adam's moments and the EMA): beyond any 2-D flow."""
UNET_PRESETS: dict[str, tuple[int, tuple[int, ...]]] = {
    "tiny": (32, (1, 2)),
    "small": (64, (1, 2, 2)),
    "base": (128, (1, 2, 2, 2)),
}
"""U-Net sizes (base channels, channel multiplier per level): tiny trains 8×8 digits on a
laptop CPU in minutes; small suits 28×28 on a GPU or a patient CPU; base is for 32×32 RGB."""
ALL_PATHS = sorted(PATHS) + sorted(PRESETS)


def _shorten(value: Any, limit: int = 80) -> str:
    """A bad value as a message shows it: a 100 000-element list is not a one-line error."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}… ({type(value).__name__})"


def _type_ok(annotation: str, value: Any) -> bool:
    """Type check of a JSON value against a field annotation written as a string."""
    allowed: list[type] = []
    for part in str(annotation).split("|"):
        part = part.strip()
        allowed += {
            "str": [str],
            "int": [int],
            "float": [float, int],
            "bool": [bool],
            "None": [type(None)],
        }[part]
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, tuple(allowed))
