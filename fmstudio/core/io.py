"""Checkpoints as safetensors + JSON: nothing in a model file can run code.

A run directory holds
- `config.json`: format tag, the TrainConfig, the model and path configs, the step;
- `model.safetensors`: the EMA weights, which sampling uses;
- `train_state.safetensors` (resumable runs): raw weights, Adam moments, the data pool, the
  RNG state and the loss history;
- `data.npy` or `data.png` when the model was trained on data no name reproduces: a drawing or
  a point file (its points), or an image density (its weights as a grey image).

The config names the data the model's last steps drew from (`Trainer.trained_on`): a preset by
name, jitter and scale, saved data by its file name relative to the run directory, so the
folder can be moved and `fmstudio eval` still measures against the points the model learned.
Run directories from before data files name a drawing 'drawing': its points are in the pool.

Every file is written atomically (`atomic.atomic_write`), `config.json` last, so a crash or
Ctrl-C never leaves a half-written checkpoint under the real names. Loading checks the format
tag, every key, shape and dtype before any weight is copied; anything off raises
`CheckpointError` naming the file and the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor, nn

from fmstudio.core.atomic import atomic_write
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import Dataset2D, ImageDataset, ImageDensity, PointSet, PresetDataset
from fmstudio.core.distributed import DistContext
from fmstudio.core.flow import FlowModel
from fmstudio.core.models import build_model
from fmstudio.core.paths import make_path

if TYPE_CHECKING:
    from fmstudio.core.training import TrainingData

FORMAT = "fmstudio-checkpoint"
VERSION = 1
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.safetensors"
POINTS_FILE = "data.npy"
DENSITY_FILE = "data.png"
MAX_JSON_BYTES = 1 << 20


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, hostile or does not match its config."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def write_json(path: str | os.PathLike, data: Any) -> None:
    text = json.dumps(data, indent=2) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def write_tensors(path: str | os.PathLike, tensors: dict[str, Tensor]) -> None:
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda handle: handle.write(save(flat)))


def read_json(path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object from a file of bounded size, or CheckpointError."""
    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise CheckpointError(path, "file is too large to be a config")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, "expected a JSON object")
    return data


def read_tensors(path: str | os.PathLike) -> dict[str, Tensor]:
    """Tensors from a safetensors file (which holds data only), or CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(path, f"not a valid safetensors file ({exc})") from None


def load_weights(module: nn.Module, tensors: dict[str, Tensor], path: str | os.PathLike) -> None:
    """Copy weights into `module` after checking that keys, shapes and dtypes all match."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(
            path, f"weights do not match the model (missing {missing}, extra {extra})"
        )
    for key, ref in expected.items():
        got = tensors[key]
        if got.shape != ref.shape or got.dtype != ref.dtype:
            expected_desc = f"{ref.dtype} {tuple(ref.shape)}"
            raise CheckpointError(
                path, f"'{key}' is {got.dtype} {tuple(got.shape)}, expected {expected_desc}"
            )
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise CheckpointError(path, f"'{key}' holds NaN or inf")
    module.load_state_dict(tensors)


def save_checkpoint(directory: str | os.PathLike, trainer, *, resumable: bool = True) -> Path:
    """Write a run directory from a Trainer (see the module docstring for its layout).

    What it records as the data is what the model's last steps drew from
    (`Trainer.trained_on`), even if the trainer was given another target since.
    """
    directory = Path(directory)
    data = trainer.trained_on
    write_tensors(directory / MODEL_FILE, trainer.ema.model.state_dict())
    if resumable:
        write_tensors(directory / STATE_FILE, _train_state(trainer, data))
    write_json(
        directory / CONFIG_FILE,
        {
            "format": FORMAT,
            "version": VERSION,
            "config": {**trainer.config.to_dict(), **_save_data(directory, data.dataset)},
            "model": trainer.model_config(),
            "path": trainer.path.config(),
            "step": trainer.step_count,
            "ema_updates": trainer.ema.updates,
            "elapsed_s": trainer.elapsed,
            "optimizer": trainer.optimizer.state_dict()["param_groups"] if resumable else None,
            "data_shape": list(trainer.data_shape),
        },
    )
    return directory


def _save_data(directory: Path, dataset: Dataset2D | ImageDataset) -> dict[str, Any]:
    """The config fields that name `dataset`, writing it beside the model when no name can
    reproduce it: a preset by its name, jitter and scale; a point set (a drawing, a point
    file) as `POINTS_FILE`; an image density as `DENSITY_FILE`, its weights as grey levels
    (exact to 1/255 of the darkest pixel; it reloads at `ImageDensity.from_file`'s extent, the
    one every front end uses). Image sets and other datasets: as the config names them."""
    if isinstance(dataset, PresetDataset):
        return {
            "dataset": dataset.name,
            "jitter": float(dataset.jitter),
            "scale": float(dataset.scale),
        }
    if isinstance(dataset, PointSet):
        points = dataset.points
        atomic_write(directory / POINTS_FILE, lambda h: np.save(h, points, allow_pickle=False))
        return {"dataset": POINTS_FILE, "jitter": float(dataset.jitter), "scale": 1.0}
    if isinstance(dataset, ImageDensity):
        ink = dataset.weights / dataset.weights.max()
        grey = Image.fromarray(np.rint(255.0 * (1.0 - ink)).astype(np.uint8), mode="L")
        atomic_write(directory / DENSITY_FILE, lambda handle: grey.save(handle, format="PNG"))
        return {"dataset": DENSITY_FILE, "jitter": 0.0, "scale": 1.0}
    return {}


def _train_state(trainer, data: TrainingData) -> dict[str, Tensor]:
    """Everything a resume needs besides the EMA weights; `data` is `trainer.trained_on`."""
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    for index, state in trainer.optimizer.state_dict()["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value)
    if trainer.images is None:  # image runs reload their images from the dataset spec
        tensors["data.pool"] = data.pool
    if data.noise is not None:
        tensors["data.noise"] = data.noise
    tensors["rng.generator"] = trainer.generator.get_state()
    tensors["losses"] = torch.tensor(trainer.losses, dtype=torch.float64)
    if trainer.coupled is not None:
        tensors["coupled.x0"], tensors["coupled.x1"] = trainer.coupled
    return tensors


def read_header(directory: str | os.PathLike) -> dict[str, Any]:
    """config.json of a run directory, with its format and fields checked."""
    path = Path(directory) / CONFIG_FILE
    header = read_json(path)
    if header.get("format") != FORMAT:
        raise CheckpointError(path, f"not an fmstudio checkpoint (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise CheckpointError(path, f"unsupported checkpoint version {header.get('version')!r}")
    for key, kind in (("config", dict), ("model", dict), ("path", dict), ("step", int)):
        if not isinstance(header.get(key), kind):
            raise CheckpointError(path, f"'{key}' is missing or malformed")
    try:
        header["config"] = TrainConfig.from_dict(header["config"])
    except ConfigError as exc:
        raise CheckpointError(path, str(exc)) from None
    _locate_saved_data(header["config"], Path(directory))
    return header


def _locate_saved_data(config: TrainConfig, directory: Path) -> None:
    """Data saved beside the model is named relative to the run directory (so the folder can
    move): point the config at the file where the directory is now. A name without such a
    file (an older run's own file, relative to where it was trained) is left as it is."""
    saved = directory / config.dataset
    if config.dataset in (POINTS_FILE, DENSITY_FILE) and saved.is_file():
        config.dataset = str(saved.resolve())


def load_flow(directory: str | os.PathLike, device: str | torch.device = "cpu") -> FlowModel:
    """Rebuild the EMA model and its path from a run directory, ready to sample (a device that
    is not there is a RuntimeError saying so, before anything is read)."""
    from fmstudio.core.training import resolve_device

    device = resolve_device(str(device))
    directory = Path(directory)
    header = read_header(directory)
    try:
        model = build_model(header["model"])
        params = {k: v for k, v in header["path"].items() if k != "name"}
        path = make_path(header["path"].get("name", ""), **params)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(directory / CONFIG_FILE, str(exc)) from None
    load_weights(model, read_tensors(directory / MODEL_FILE), directory / MODEL_FILE)
    return FlowModel(model.to(device).eval(), path, data_shape(header, directory))


def data_shape(header: dict[str, Any], directory: Path) -> tuple[int, ...]:
    """One sample's shape from config.json ((2,) for points, (C, H, W) for images)."""
    shape = header.get("data_shape", [header.get("data_dim", 2)])
    if not (
        isinstance(shape, list)
        and len(shape) in (1, 3)
        and all(isinstance(v, int) and 1 <= v <= 4096 for v in shape)
    ):
        raise CheckpointError(directory / CONFIG_FILE, f"bad data_shape {shape!r}")
    return tuple(shape)


def load_trainer(directory: str | os.PathLike, dist: DistContext | None = None, **overrides: Any):
    """Resume a run: rebuild the Trainer and restore weights, Adam, EMA, pool, RNG and losses.

    `overrides` may change fields that do not alter the model (steps, device, lr, ...).

    `dist` (a `distributed.DistContext`) resumes a torchrun run: every rank loads the same
    weights, Adam state, EMA and losses. The checkpoint holds rank 0's pool and RNG only, so
    rank 0 continues exactly, and rank r > 0 redraws its own pool (as a fresh run would) and
    seeds its generator with `seed + r + step`, so its batches differ from those of the first
    part of the run and from the other ranks'.
    """
    from fmstudio.core.data import DatasetError, PointSet
    from fmstudio.core.training import Trainer

    directory = Path(directory)
    header = read_header(directory)
    state_path = directory / STATE_FILE
    state = read_tensors(state_path)
    config: TrainConfig = header["config"]
    for key, value in overrides.items():
        setattr(config, key, value)
    pool = state.get("data.pool")
    if config.is_image:
        try:  # image runs keep no copy of their images: the dataset must be readable
            dataset = config.make_dataset()
        except DatasetError as exc:
            raise CheckpointError(directory, f"cannot reload the run's images: {exc}") from None
    else:
        if pool is None or pool.dim() != 2:
            raise CheckpointError(state_path, "the data pool is missing")
        try:  # the original dataset, for fresh target points; the saved pool if its file is gone
            dataset = config.make_dataset()
        except DatasetError:
            dataset = PointSet(pool.numpy(), name=config.dataset)
    noise = state.get("data.noise")
    if noise is not None and (pool is None or noise.shape != pool.shape):
        raise CheckpointError(state_path, "the reflow noise does not match the data pool")
    main = dist is None or dist.is_main
    if not main and noise is None:
        pool = None  # the saved pool is rank 0's: draw this rank's own
    trainer = Trainer(config, dataset=dataset, pool=pool, noise=noise, dist=dist)
    model_state = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    load_weights(trainer.model, model_state, state_path)
    load_weights(trainer.ema.model, read_tensors(directory / MODEL_FILE), directory / MODEL_FILE)
    _restore_optimizer(trainer, state, header, state_path)
    if main:
        trainer.generator.set_state(state["rng.generator"])
    else:
        trainer.generator.manual_seed(config.seed + dist.rank + header["step"])
    trainer.losses = state["losses"].tolist()
    if main and "coupled.x0" in state and "coupled.x1" in state:
        trainer.coupled = (
            state["coupled.x0"].to(trainer.device),
            state["coupled.x1"].to(trainer.device),
        )
    trainer.step_count = header["step"]
    trainer.ema.updates = int(header.get("ema_updates", header["step"]))
    trainer.elapsed = float(header.get("elapsed_s", 0.0))
    return trainer


def _restore_optimizer(trainer, state: dict[str, Tensor], header: dict, path: Path) -> None:
    groups = header.get("optimizer")
    if not isinstance(groups, list):
        raise CheckpointError(path, "optimizer settings are missing")
    per_param: dict[int, dict[str, Tensor]] = {}
    for key, value in state.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    try:
        trainer.optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(path, f"optimizer state does not match the model ({exc})") from None
