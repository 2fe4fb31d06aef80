"""The run configuration: one flat, JSON-serialisable record that rebuilds a run exactly.

It is what a checkpoint's `config.json` stores, what the CLI flags fill in and what the app's
settings forms edit. Each field is described once, here, by its `Setting` (schema.py): the
checks of `validate`, the CLI flags, the forms, their tooltips and what may change mid-run are
all generated from these descriptions. A path's parameters are described by the path
(path_specs.py) and stored here flat, under their own names, as config.json always has.

Light on purpose: importing this module imports neither torch nor POT (the window reads it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fmstudio.core import choices, path_specs, schema
from fmstudio.core.data.images import is_image_spec
from fmstudio.core.data.limits import MAX_IMAGE_SIDE
from fmstudio.core.schema import Applies, Change, Choice, Group, check, described, setting

if TYPE_CHECKING:
    from fmstudio.core.data import Dataset2D
    from fmstudio.core.data.images import ImageDataset


class ConfigError(ValueError):
    """An impossible or unknown setting, named with the reason."""


def _path_parameter(name: str, default: Any, **changes: Any) -> Any:
    """A flat field for the path parameter `name`, described by the path(s) that take it."""
    return dataclasses.field(
        default=default, metadata={"setting": path_specs.flat_setting(name, **changes)}
    )


PATHS_OWN = "the path's own"
"""How a path parameter left at None reads: the chosen path's default applies."""
BIG = (1 << 31) - 1
"""Bound of step counts: what a 32-bit spin box holds, and more steps than any run takes."""


@dataclass
class TrainConfig:
    """Everything that defines a run; the defaults train checkerboard well in ~1 min on CPU."""

    dataset: str = setting(
        "checkerboard",
        "Dataset",
        "points: a preset name or a .npy/.csv/.png file; images: digits (offline), mnist:PATH, "
        "fashion-mnist:PATH, cifar10:PATH or folder:PATH",
        Group.DATA,
        form=False,
    )
    jitter: float = setting(
        0.0,
        "Noise",
        "Std of Gaussian noise added to the points (drawn points: each time a batch draws "
        "them); 0 = the points as they are.",
        Group.DATA,
        low=0.0,
        high=100.0,
        change=Change.LIVE,
        applies=Applies.POINTS,
        form=False,
    )
    scale: float = setting(
        1.0,
        "Scale",
        "Presets: multiply the points by this, about the origin where the noise N(0, I) sits.",
        Group.DATA,
        low=0.0,
        low_open=True,
        high=1000.0,
        applies=Applies.POINTS,
        form=False,
    )
    path: str = setting(
        "ot",
        "Path",
        "The probability path p_t(x | x1): how a noise point x0 (t = 0) is carried to a data "
        "point x1 (t = 1) during training; presets combine a path with a coupling. Its "
        "parameters may follow: ot:sigma_min=0.05.",
        Group.PATH,
        choices=tuple(
            Choice(
                name,
                f"{name} (preset)" if name in path_specs.PRESETS else name,
                path_specs.describe(name),
            )
            for name in path_specs.ALL_PATHS
        ),
    )
    coupling: str | None = setting(
        None,
        "Coupling",
        "How noise x0 and data x1 are paired in each minibatch before the path is applied; "
        "auto: independent, or the coupling a preset implies.",
        Group.PATH,
        choices=choices.COUPLINGS,
        none="auto (from path)",
    )
    sigma_min: float = _path_parameter("sigma_min", 0.0)
    sigma: float | None = _path_parameter("sigma", None, none=PATHS_OWN + " (icfm 0, sb 1)")
    sigma_max: float | None = _path_parameter("sigma_max", None, none="data diameter")
    beta_min: float = _path_parameter("beta_min", 0.1)
    beta_max: float = _path_parameter("beta_max", 20.0)
    hidden: int = setting(
        256,
        "Width",
        "Width of each hidden layer of the velocity network v(x, t): wider fits finer detail "
        "but trains slower.",
        Group.MODEL,
        low=1,
        high=1 << 16,
        step=32,
        applies=Applies.POINTS,
    )
    depth: int = setting(
        3,
        "Layers",
        "Number of hidden layers of the velocity MLP.",
        Group.MODEL,
        low=1,
        high=64,
        applies=Applies.POINTS,
    )
    activation: str = setting(
        "silu",
        "Activation",
        "The MLP's nonlinearity; a smooth one keeps the field differentiable, which exact "
        "likelihoods need.",
        Group.MODEL,
        choices=choices.ACTIVATIONS,
        applies=Applies.POINTS,
    )
    time_dim: int = setting(
        32,
        "Time features",
        "Size of the Fourier embedding of t that the MLP reads beside x (even): more features "
        "let the field change faster along t.",
        Group.MODEL,
        low=2,
        high=4096,
        step=2,
        applies=Applies.POINTS,
    )
    optimizer: str = setting(
        "adam", "Optimizer", "The optimizer of the weights.", Group.OPTIMISATION,
        choices=choices.OPTIMIZERS,
    )  # fmt: skip
    lr: float = setting(
        2e-3,
        "Learning rate",
        "Peak learning rate, reached after warm-up. Too high diverges, too low learns slowly.",
        Group.OPTIMISATION,
        low=0.0,
        low_open=True,
        high=1e6,
        log=True,
        change=Change.LIVE,
    )
    weight_decay: float = setting(
        0.0,
        "Weight decay",
        "Pulls the weights toward 0 each step (L2 for Adam, decoupled for AdamW); 0 = off.",
        Group.OPTIMISATION,
        low=0.0,
        high=10.0,
        zero="off",
        step=1e-4,
        decimals=5,
        change=Change.LIVE,
    )
    adam_beta2: float = setting(
        0.999,
        "Adam β₂",
        "Decay of Adam's running average of squared gradients: lower (0.95–0.99) adapts the "
        "step size sooner, which steadies small-batch training and a target that changes.",
        Group.OPTIMISATION,
        low=0.0,
        high=1.0,
        high_open=True,
        decimals=4,
        step=0.001,
        change=Change.LIVE,
    )
    schedule: str = setting(
        "cosine",
        "LR schedule",
        "Learning-rate schedule after warm-up: constant, or a decay to 0 at the last step.",
        Group.OPTIMISATION,
        choices=choices.SCHEDULES,
        change=Change.LIVE,
    )
    warmup_steps: int = setting(
        100,
        "Warm-up steps",
        "Steps over which the learning rate ramps linearly from 0 to its peak, which steadies "
        "the first updates.",
        Group.OPTIMISATION,
        low=0,
        high=BIG,
        change=Change.LIVE,
    )
    batch_size: int = setting(
        256,
        "Batch size",
        "Pairs (x0, x1) per training step: larger gives smoother gradients and better OT "
        "pairings, at more time per step.",
        Group.OPTIMISATION,
        low=2,
        high=1 << 20,
        change=Change.LIVE,
    )
    steps: int = setting(
        10000,
        "Steps",
        "Total training steps; the learning-rate schedule ends here. Raise it to train a run on.",
        Group.OPTIMISATION,
        low=1,
        high=BIG,
        change=Change.LIVE,
    )
    ema_decay: float = setting(
        0.999,
        "EMA decay",
        "Decay of the moving average of the weights that views and samples use: closer to 1 "
        "is smoother but lags behind training; 0 = no averaging.",
        Group.OPTIMISATION,
        low=0.0,
        high=1.0,
        high_open=True,
        decimals=5,
        step=0.001,
        change=Change.LIVE,
    )
    grad_clip: float = setting(
        1.0,
        "Grad clip",
        "Clip the gradient norm to this value each step, which guards against loss spikes; "
        "0 = off.",
        Group.OPTIMISATION,
        low=0.0,
        high=1e6,
        zero="off",
        step=0.5,
        change=Change.LIVE,
    )
    seed: int = setting(
        0,
        "Seed",
        "Random seed of the run (weights, data draws, noise): the same seed and settings "
        "reproduce a run.",
        Group.RUN,
        low=0,
        high=(1 << 63) - 1,
    )
    device: str = setting(
        "auto",
        "Device",
        "Where the model trains: auto picks a GPU when there is one, else the CPU; cuda:N "
        "picks a GPU.",
        Group.RUN,
        choices=choices.DEVICES,
        also=r"cuda:\d+",
        change=Change.RESUME,
    )
    ot_refresh: int = setting(
        1,
        "OT refresh",
        "With an OT or Sinkhorn coupling, reuse each coupled minibatch for this many steps "
        "(fresh t each time): pairing costs far more than a step. 1 = re-pair every step.",
        Group.OPTIMISATION,
        low=1,
        high=1 << 20,
        change=Change.LIVE,
    )
    image_size: int | None = setting(
        None,
        "Image size",
        "Resize images to this many pixels a side, or keep the size they are stored at.",
        Group.IMAGES,
        low=4,
        high=MAX_IMAGE_SIDE,
        none="stored size",
        applies=Applies.IMAGES,
    )
    channels: int | None = setting(
        None,
        "Channels",
        "Grayscale or colour; as stored: the dataset's own.",
        Group.IMAGES,
        choices=(Choice(1, "grayscale"), Choice(3, "RGB")),
        none="as stored",
        applies=Applies.IMAGES,
    )
    unet: str = setting(
        "tiny",
        "U-Net",
        "U-Net size: tiny trains on a CPU in minutes; small and base want a GPU.",
        Group.IMAGES,
        choices=choices.UNET_SIZES,
        applies=Applies.IMAGES,
    )
    held_out: int = setting(
        256,
        "Held out",
        "Images held out from training, on which bits/dim is measured.",
        Group.IMAGES,
        low=1,
        high=1 << 20,
        applies=Applies.IMAGES,
    )
    amp: bool = setting(
        True,
        "Mixed precision",
        "On a CUDA GPU, run the forward pass in bf16 autocast; off trains in fp32.",
        Group.RUN,
        flag="--no-amp",
        change=Change.RESUME,
    )

    def validate(self) -> TrainConfig:
        """Check every field against its description, then what ties fields together;
        returns self so calls chain. Raises ConfigError."""
        check(self, ConfigError)
        try:
            path, _ = path_specs.resolve_preset(self.path, self.coupling)
            path_specs.PATH_PARAMS[path](**self.path_params())
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        weights = self.hidden * (self.hidden * (self.depth - 1) + self.time_dim + 8)
        if weights > MAX_MLP_WEIGHTS:
            raise ConfigError(
                f"hidden {self.hidden} x depth {self.depth} makes an MLP of ~{weights:.1e} "
                f"weights, more than {MAX_MLP_WEIGHTS:.0e}: a 2-D flow needs far fewer"
            )
        if self.time_dim % 2:
            raise ConfigError(f"time_dim must be even, got {self.time_dim}")
        return self

    @property
    def path_name(self) -> str:
        return path_specs.resolve_preset(self.path, self.coupling)[0]

    @property
    def coupling_name(self) -> str:
        return path_specs.resolve_preset(self.path, self.coupling)[1]

    def path_params(self) -> dict[str, float]:
        """The parameters the chosen path takes, from the flat fields (None = path default)."""
        values = {d.name: getattr(self, d.name) for d in path_specs.parameters(self.path)}
        return {k: v for k, v in values.items() if v is not None}

    @property
    def is_image(self) -> bool:
        """Whether the dataset is images ('digits', 'mnist:PATH', ...) rather than 2-D points."""
        return is_image_spec(self.dataset)

    def make_dataset(self) -> Dataset2D | ImageDataset:
        """The dataset this config names (DatasetError if bad): 2-D points with their jitter
        and scale, or images at `image_size` with `channels`."""
        from fmstudio.core.data import resolve_dataset
        from fmstudio.core.data.images import resolve_images

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
        fields = {d.name: d for d in described(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise ConfigError(f"unknown config keys {sorted(unknown)}")
        for key, value in data.items():
            problem = fields[key].problem(value)
            if problem is not None:
                raise ConfigError(f"config key '{key}': {problem}")
        return cls(**data).validate()


RESUME_SETTINGS = schema.names_that_may(TrainConfig, Change.RESUME)
"""What a resumed run may change: how it goes on, not what it learns or from what."""
LIVE_SETTINGS = schema.names_that_may(TrainConfig, Change.LIVE)
"""What a running trainer takes between steps; the others shape the model, path or data."""
SETTINGS = described(TrainConfig)
"""Every setting of a run, described (schema.Described), in field order."""
MAX_MLP_WEIGHTS = 500_000_000
"""2 GB of fp32 weights (8 GB with Adam's moments and the EMA): beyond any 2-D flow."""
UNET_PRESETS: dict[str, tuple[int, tuple[int, ...]]] = {
    "tiny": (32, (1, 2)),
    "small": (64, (1, 2, 2)),
    "base": (128, (1, 2, 2, 2)),
}
"""U-Net sizes (base channels, channel multiplier per level), named as in `choices.UNET_SIZES`."""
