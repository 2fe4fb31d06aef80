"""A run directory's header, config.json, without torch: its file names, the JSON reader and
writer every fmstudio file goes through, and `read_header`, which checks the format and the
fields and rebuilds the TrainConfig.

The window reads headers (File ▸ Open model shows what a run is) and writes sessions through
these, so they live apart from the checkpoint code in `io.py`, which imports torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fmstudio.core import run_dir
from fmstudio.core.atomic import atomic_write
from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.errors import CheckpointError
from fmstudio.core.safe_read import FileRefused, read_capped

FORMAT = "fmstudio-checkpoint"
VERSION = 1
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.safetensors"
POINTS_FILE = "data.npy"
DENSITY_FILE = "data.png"
MAX_JSON_BYTES = 1 << 20
OWNED_FILES = (CONFIG_FILE, MODEL_FILE, STATE_FILE, POINTS_FILE, DENSITY_FILE)
"""Every file a save writes: the ones a new save lacks are deleted when it lands."""
MAX_SIDE = 4096
"""The largest image side a checkpoint's data_shape may name."""


def write_json(path: str | os.PathLike, data: Any) -> None:
    atomic_write(path, json_writer(data))


def json_writer(data: Any) -> run_dir.Writer:
    blob = (json.dumps(data, indent=2) + "\n").encode("utf-8")
    return lambda handle: handle.write(blob)


def read_json(path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object from a regular file of at most `max_bytes`, or CheckpointError (a FIFO,
    a device or a file that is too large or nested too deeply is refused before it is read
    whole)."""
    path = Path(path)
    try:
        data = json.loads(read_capped(path, max_bytes).decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(path, "file not found") from None
    except FileRefused as exc:
        raise CheckpointError(path, str(exc)) from None
    except RecursionError:
        raise CheckpointError(path, "JSON nested too deeply") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, too-long integers
        raise CheckpointError(path, f"not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, "expected a JSON object")
    return data


def read_header(directory: str | os.PathLike) -> dict[str, Any]:
    """config.json of a run directory, with its format and fields checked."""
    path = run_dir.locate(directory, CONFIG_FILE)
    header = read_json(path)
    if header.get("format") != FORMAT:
        raise CheckpointError(path, f"not an fmstudio checkpoint (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise CheckpointError(path, f"unsupported checkpoint version {header.get('version')!r}")
    for key, kind in (("config", dict), ("model", dict), ("path", dict), ("step", int)):
        if not isinstance(header.get(key), kind):
            raise CheckpointError(path, f"'{key}' is missing or malformed")
    if not isinstance(header.get("generation"), (str, type(None))) or header["step"] < 0:
        raise CheckpointError(path, "'generation' or 'step' is malformed")
    try:
        header["config"] = TrainConfig.from_dict(header["config"])
    except ConfigError as exc:
        raise CheckpointError(path, str(exc)) from None
    header["data_shape"] = _data_shape(header, path)
    _locate_saved_data(header["config"], Path(directory))
    return header


def _locate_saved_data(config: TrainConfig, directory: Path) -> None:
    """Data saved beside the model is named relative to the run directory (so the folder can
    move): point the config at the file where the directory is now. A name without such a
    file (an older run's own file, relative to where it was trained) is left as it is."""
    if config.dataset in (POINTS_FILE, DENSITY_FILE):
        saved = run_dir.locate(directory, config.dataset)
        if saved.is_file():
            config.dataset = str(saved.resolve())


def _data_shape(header: dict[str, Any], path: Path) -> tuple[int, ...]:
    """One sample's shape from config.json, checked against the model it feeds: (dim,) for
    an MLP, (in_channels, H, W) for a U-Net with sides of at most MAX_SIDE."""
    shape = header.get("data_shape", [header.get("data_dim", 2)])
    model = header["model"]
    kind = model.get("kind")
    if kind not in ("mlp", "unet"):
        raise CheckpointError(path, f"unknown model kind {kind!r}; choose one of mlp, unet")
    fits = (
        isinstance(shape, list)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
        and (
            (kind == "mlp" and shape == [model.get("dim", 2)])
            or (
                kind == "unet"
                and len(shape) == 3
                and shape[0] == model.get("in_channels")
                and all(1 <= v <= MAX_SIDE for v in shape[1:])
            )
        )
    )
    if not fits:
        raise CheckpointError(path, f"data_shape {shape!r} does not fit the {kind} model")
    return tuple(shape)
