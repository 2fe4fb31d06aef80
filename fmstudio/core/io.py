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

A save is atomic as a whole (`run_dir`: the files are written beside the old save and switched
in at one rename; a crash at any moment leaves the last complete save, recovered on the next
load), and every file of one save carries the same random `generation` (config.json's field,
the safetensors files' metadata), so files of two saves are never loaded together.

Loading trusts nothing in the directory: config.json and the other files must be regular files
of bounded size; the config is validated; the model is first built on the `meta` device to
compare its shapes with the file's header (so a config cannot make us allocate more than the
file holds); every weight's key, shape, dtype and finiteness is checked before it is copied,
and a resume checks every tensor of the training state against the rebuilt optimizer
(`state_checks`). Anything off raises `CheckpointError` naming the file and the reason.
"""

from __future__ import annotations

import array
import dataclasses
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import Tensor, nn

from fmstudio.core import run_dir, state_checks
from fmstudio.core.atomic import atomic_write
from fmstudio.core.config import LIVE_SETTINGS, RESUME_SETTINGS, ConfigError, TrainConfig
from fmstudio.core.data import Dataset2D, ImageDataset, ImageDensity, PointSet, PresetDataset
from fmstudio.core.distributed import DistContext
from fmstudio.core.errors import CheckpointError
from fmstudio.core.flow import FlowModel
from fmstudio.core.models import build_model
from fmstudio.core.paths import make_path
from fmstudio.core.run_header import (
    CONFIG_FILE,
    DENSITY_FILE,
    FORMAT,
    MAX_JSON_BYTES,
    MAX_SIDE,
    MODEL_FILE,
    OWNED_FILES,
    POINTS_FILE,
    STATE_FILE,
    VERSION,
    json_writer,
    read_header,
    read_json,
    write_json,
)
from fmstudio.core.safe_read import FileRefused, regular_size

if TYPE_CHECKING:
    from fmstudio.core.training import TrainingData

__all__ = [
    "CONFIG_FILE",
    "DENSITY_FILE",
    "FORMAT",
    "MAX_JSON_BYTES",
    "MAX_SIDE",
    "MODEL_FILE",
    "OWNED_FILES",
    "POINTS_FILE",
    "STATE_FILE",
    "VERSION",
    "CheckpointError",
    "load_flow",
    "load_trainer",
    "read_header",
    "read_json",
    "save_checkpoint",
    "write_json",
]


def write_tensors(
    path: str | os.PathLike, tensors: dict[str, Tensor], generation: str | None = None
) -> None:
    """One safetensors file, atomically, tagged with a save's `generation` (tools and tests
    that rewrite one file of a run; a save writes all of them through `save_checkpoint`)."""
    atomic_write(path, _tensor_writer(tensors, generation))


def _tensor_writer(tensors: dict[str, Tensor], generation: str | None) -> run_dir.Writer:
    """Serialised now (a snapshot of the state at the call), written when the save runs."""
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    blob = save(flat, metadata=None if generation is None else {"generation": generation})
    return lambda handle: handle.write(blob)


def _open_tensors(path: Path, generation: str | None):
    """A safetensors file opened lazily, after checking it is a regular file of this save."""
    try:
        regular_size(path)
        handle = safe_open(str(path), framework="pt", device="cpu")
    except FileNotFoundError:
        raise CheckpointError(path, "file not found") from None
    except FileRefused as exc:
        raise CheckpointError(path, str(exc)) from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(path, f"not a valid safetensors file ({exc})") from None
    saved = (handle.metadata() or {}).get("generation")
    if generation is not None and saved != generation:
        raise CheckpointError(
            path,
            "belongs to another save than config.json (files of two runs mixed: a copy, or two "
            "processes writing one folder)",
        )
    return handle


def read_tensors(path: str | os.PathLike, generation: str | None = None) -> dict[str, Tensor]:
    """Tensors from a safetensors file (which holds data only) of the save `generation`
    (None: a save from before generations), or CheckpointError."""
    path = Path(path)
    handle = _open_tensors(path, generation)
    try:
        names = handle.keys()
        return {key: handle.get_tensor(key) for key in names}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(path, f"not a valid safetensors file ({exc})") from None


def tensor_shapes(path: str | os.PathLike, generation: str | None = None) -> dict[str, tuple]:
    """The shape of every tensor in a safetensors file, from its header alone."""
    handle = _open_tensors(Path(path), generation)
    names = handle.keys()
    return {key: tuple(handle.get_slice(key).get_shape()) for key in names}


def check_layout(
    expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], path: str | os.PathLike
) -> None:
    """Same keys and shapes, or CheckpointError naming the first difference."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise CheckpointError(
            path, f"weights do not match the model (missing {missing}, extra {extra})"
        )
    for key, shape in expected.items():
        if tuple(found[key]) != tuple(shape):
            raise CheckpointError(path, f"'{key}' is {tuple(found[key])}, expected {tuple(shape)}")


def load_weights(module: nn.Module, tensors: dict[str, Tensor], path: str | os.PathLike) -> None:
    """Copy weights into `module` after checking that keys, shapes and dtypes all match."""
    expected = module.state_dict()
    check_layout(
        {k: tuple(v.shape) for k, v in expected.items()},
        {k: tuple(v.shape) for k, v in tensors.items()},
        path,
    )
    for key, ref in expected.items():
        state_checks.check_tensor(tensors, key, path, shape=tuple(ref.shape), dtype=ref.dtype)
    module.load_state_dict(tensors)


def build_checked(model_config: dict[str, Any], weights: Path, generation: str | None) -> nn.Module:
    """The model of `model_config`, built only once its shapes match the weights file's
    header: built first on the meta device (no memory), so a config that names a huge model
    is refused for what the file holds, not after allocating it."""
    try:
        with torch.device("meta"):
            skeleton = build_model(model_config)
        shapes = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(weights.parent / CONFIG_FILE, f"bad model config: {exc}") from None
    check_layout(shapes, tensor_shapes(weights, generation), weights)
    return build_model(model_config)


def save_checkpoint(directory: str | os.PathLike, trainer, *, resumable: bool = True) -> Path:
    """Write a run directory from a Trainer, atomically as a whole (see the module docstring
    for its layout).

    What it records as the data is what the model's last steps drew from
    (`Trainer.trained_on`), even if the trainer was given another target since.
    """
    directory = Path(directory)
    data = trainer.trained_on
    generation = secrets.token_hex(8)
    files = {MODEL_FILE: _tensor_writer(trainer.ema.model.state_dict(), generation)}
    if resumable:
        files[STATE_FILE] = _tensor_writer(_train_state(trainer, data), generation)
    data_fields, data_files = _save_data(data.dataset)
    files.update(data_files)
    files[CONFIG_FILE] = json_writer(
        {
            "format": FORMAT,
            "version": VERSION,
            "generation": generation,
            "config": {**trainer.config.to_dict(), **data_fields},
            "model": trainer.model_config(),
            "path": trainer.path.config(),
            "step": trainer.step_count,
            "ema_updates": trainer.ema.updates,
            "elapsed_s": trainer.elapsed,
            "optimizer": trainer.optimizer.state_dict()["param_groups"] if resumable else None,
            "data_shape": list(trainer.data_shape),
        }
    )
    run_dir.write_run(directory, files, OWNED_FILES)
    return directory


def _save_data(
    dataset: Dataset2D | ImageDataset,
) -> tuple[dict[str, Any], dict[str, run_dir.Writer]]:
    """The config fields that name `dataset`, and the files to write beside the model when no
    name can reproduce it: a preset by its name, jitter and scale; a point set (a drawing, a point
    file) as `POINTS_FILE`; an image density as `DENSITY_FILE`, its weights as grey levels
    (exact to 1/255 of the darkest pixel; it reloads at `ImageDensity.from_file`'s extent, the
    one every front end uses). Image sets and other datasets: as the config names them."""
    if isinstance(dataset, PresetDataset):
        fields = {"dataset": dataset.name, "jitter": float(dataset.jitter)}
        return {**fields, "scale": float(dataset.scale)}, {}
    if isinstance(dataset, PointSet):
        points = dataset.points.copy()
        fields = {"dataset": POINTS_FILE, "jitter": float(dataset.jitter), "scale": 1.0}
        return fields, {POINTS_FILE: lambda h: np.save(h, points, allow_pickle=False)}
    if isinstance(dataset, ImageDensity):
        ink = dataset.weights / dataset.weights.max()
        grey = Image.fromarray(np.rint(255.0 * (1.0 - ink)).astype(np.uint8), mode="L")
        fields = {"dataset": DENSITY_FILE, "jitter": 0.0, "scale": 1.0}
        return fields, {DENSITY_FILE: lambda handle: grey.save(handle, format="PNG")}
    return {}, {}


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


def load_flow(directory: str | os.PathLike, device: str | torch.device = "cpu") -> FlowModel:
    """Rebuild the EMA model and its path from a run directory, ready to sample (a device that
    is not there is a RuntimeError saying so, before anything is read)."""
    from fmstudio.core.training import resolve_device

    device = resolve_device(str(device))
    directory = Path(directory)
    run_dir.try_recover(directory)
    header = read_header(directory)
    generation = header.get("generation")
    weights = run_dir.locate(directory, MODEL_FILE)
    model = build_checked(header["model"], weights, generation)
    try:
        params = {k: v for k, v in header["path"].items() if k != "name"}
        path = make_path(header["path"].get("name", ""), **params)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(run_dir.locate(directory, CONFIG_FILE), str(exc)) from None
    load_weights(model, read_tensors(weights, generation), weights)
    return FlowModel(model.to(device).eval(), path, header["data_shape"])


def load_trainer(directory: str | os.PathLike, dist: DistContext | None = None, **overrides: Any):
    """Resume a run: rebuild the Trainer and restore weights, Adam, EMA, pool, RNG and losses.

    `overrides` may change the settings a run can change as it goes (`RESUME_SETTINGS`:
    steps, lr, device, ...); the others would make another run, and are a ConfigError.
    Every tensor of the saved state is checked before it is loaded (see `state_checks`).

    `dist` (a `distributed.DistContext`) resumes a torchrun run: every rank loads the same
    weights, Adam state, EMA and losses. The checkpoint holds rank 0's pool and RNG only, so
    rank 0 continues exactly, and rank r > 0 redraws its own pool (as a fresh run would) and
    seeds its generator with `seed + r + step`, so its batches differ from those of the first
    part of the run and from the other ranks'.
    """
    from fmstudio.core.training import Trainer

    directory = Path(directory)
    run_dir.try_recover(directory)
    header = read_header(directory)
    generation = header.get("generation")
    saved = dataclasses.replace(header["config"])
    config = _resume_config(header["config"], overrides)
    if config.model_config(header["data_shape"]) != header["model"]:
        raise CheckpointError(
            run_dir.locate(directory, CONFIG_FILE), "its 'model' does not match its 'config'"
        )
    weights = run_dir.locate(directory, MODEL_FILE)
    build_checked(header["model"], weights, generation)  # shapes first: no huge allocation
    state_path = run_dir.locate(directory, STATE_FILE)
    state = read_tensors(state_path, generation)
    pool, noise = _saved_data(state, header["data_shape"], config, state_path)
    dataset = _resume_dataset(config, pool, directory)
    main = dist is None or dist.is_main
    if not main and noise is None:
        pool = None  # the saved pool is rank 0's: draw this rank's own
    trainer = Trainer(config, dataset=dataset, pool=pool, noise=noise, dist=dist)
    model_state = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    load_weights(trainer.model, model_state, state_path)
    load_weights(trainer.ema.model, read_tensors(weights, generation), weights)
    _restore_optimizer(trainer, state, header, state_path)
    _restore_rest(trainer, state, header, state_path, dist)
    live = {k: v for k, v in overrides.items() if k in LIVE_SETTINGS and getattr(saved, k) != v}
    trainer.update_settings(**live)  # what lives in the restored state too (weight decay, pool)
    return trainer


def _resume_config(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """The saved config with the settings a resume may change, validated again."""
    for key, value in overrides.items():
        if key not in RESUME_SETTINGS and getattr(config, key) != value:
            raise ConfigError(
                f"{key} cannot change when a run resumes (this run's is {getattr(config, key)!r});"
                f" a resume may change {', '.join(RESUME_SETTINGS)}"
            )
        setattr(config, key, value)
    return config.validate()


def _saved_data(
    state: dict[str, Tensor], shape: tuple[int, ...], config: TrainConfig, path: Path
) -> tuple[Tensor | None, Tensor | None]:
    """The saved data pool and reflow noise, checked: points (N, dim), finite; image runs
    keep no pool (their images reload from the dataset)."""
    if config.is_image:
        if "data.pool" in state or "data.noise" in state:
            raise CheckpointError(path, "an image run's state holds a data pool")
        return None, None
    pool = state_checks.check_tensor(
        state, "data.pool", path, shape=(None, *shape), dtype=torch.float32
    )
    noise = None
    if "data.noise" in state:
        noise = state_checks.check_tensor(
            state, "data.noise", path, shape=tuple(pool.shape), dtype=torch.float32
        )
    return pool, noise


def _resume_dataset(config: TrainConfig, pool: Tensor | None, directory: Path):
    """The run's dataset (fresh target points, images); for points, the saved pool stands in
    when the dataset's file is gone."""
    from fmstudio.core.data import DatasetError, PointSet

    try:
        return config.make_dataset()
    except DatasetError as exc:
        if pool is None:  # image runs keep no copy of their images: the dataset must be readable
            raise CheckpointError(directory, f"cannot reload the run's images: {exc}") from None
        return PointSet(pool.numpy(), name=config.dataset)


def _restore_optimizer(trainer, state: dict[str, Tensor], header: dict, path: Path) -> None:
    """Adam's state, every tensor checked against the parameter it belongs to first (a wrong
    shape reaching fused Adam is an out-of-bounds write, not an exception)."""
    optimizer = trainer.optimizer
    groups = state_checks.param_groups(optimizer, header.get("optimizer"), path)
    per_param = state_checks.optimizer_state(optimizer, state, path)
    try:
        optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(path, f"optimizer state does not match the model ({exc})") from None


def _restore_rest(
    trainer, state: dict[str, Tensor], header: dict, path: Path, dist: DistContext | None
) -> None:
    """RNG, losses, the cached coupled batch and the counters, each checked."""
    main = dist is None or dist.is_main
    size = trainer.generator.get_state().numel()
    rng = state_checks.check_tensor(state, "rng.generator", path, shape=(size,), dtype=torch.uint8)
    if main:
        try:
            trainer.generator.set_state(rng)
        except RuntimeError as exc:
            raise CheckpointError(
                path, f"'rng.generator' is not a generator state ({exc})"
            ) from None
    else:
        trainer.generator.manual_seed(trainer.config.seed + dist.rank + header["step"])
    losses = state.get("losses")
    if losses is None or losses.dim() != 1 or losses.dtype != torch.float64:
        raise CheckpointError(path, "'losses' is missing or malformed")
    trainer.losses = array.array("d", losses.tolist())
    if main and "coupled.x0" in state and "coupled.x1" in state:
        batch = (None, *header["data_shape"])
        x0 = state_checks.check_tensor(state, "coupled.x0", path, shape=batch, dtype=torch.float32)
        x1 = state_checks.check_tensor(
            state, "coupled.x1", path, shape=tuple(x0.shape), dtype=torch.float32
        )
        trainer.coupled = (x0.to(trainer.device), x1.to(trainer.device))
    ema_updates, elapsed = header.get("ema_updates", header["step"]), header.get("elapsed_s", 0.0)
    if not (isinstance(ema_updates, int) and ema_updates >= 0) or not (
        isinstance(elapsed, (int, float)) and 0 <= elapsed < float("inf")
    ):
        raise CheckpointError(
            path.with_name(CONFIG_FILE), "'ema_updates' or 'elapsed_s' is malformed"
        )
    trainer.step_count = header["step"]
    trainer.ema.updates = ema_updates
    trainer.elapsed = float(elapsed)
