"""A saved session: the settings, the target (preset, drawing or image) and where the model is.

One JSON file a person can read and diff. Drawn points are stored in it; the trained model is a
run directory (safetensors + JSON, see `io`) beside it, referenced by a relative path so the
pair can be moved together. Nothing in a session file can run code.

A session may come from anywhere (a download, a colleague), so loading trusts none of it: the
file is a regular one of bounded size, every field is type-checked, and the model must be a
folder inside the session's own folder (no absolute path, no `..`, no symlink leading out): a
session never makes the app load a model from elsewhere. An image target is resolved beside
the session and must be a regular image file. Every problem is one short `SessionError`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmstudio.core.config import ConfigError, TrainConfig
from fmstudio.core.data import (
    Dataset2D,
    DatasetError,
    ImageDensity,
    PointSet,
    PresetDataset,
    validate_points,
)
from fmstudio.core.data.drawing import MAX_POINTS
from fmstudio.core.errors import CheckpointError
from fmstudio.core.run_header import read_json, write_json
from fmstudio.core.safe_read import FileRefused, regular_size

FORMAT = "fmstudio-session"
VERSION = 1
MAX_SESSION_BYTES = 16 << 20
"""A full drawing (`drawing.MAX_POINTS` points) takes about 13 MB of JSON; at worst a file this
size parses into a few hundred MB of Python objects."""
MAX_REASON = 300
"""Characters of a reason kept in a SessionError: a banner line, not a file's worth of repr."""
INT_RANGE = (-(2**31), 2**31 - 1)
"""What an integer view value may be: the app's controls hold 32-bit integers."""
SOURCE_KINDS = ("preset", "drawing", "image")
SAMPLING_FIELDS: dict[str, type] = {
    "method": str,
    "steps": int,
    "atol": float,
    "rtol": float,
    "n": int,
    "seed": int,
}
"""The sampling panel's request as a session keeps it (each may be null)."""


class SessionError(ValueError):
    """A session file that cannot be read, named with the reason (cut to `MAX_REASON`)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 1] + "…"
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class DataSource:
    """Where the training points come from: a preset by name, the drawing, or an image file."""

    kind: str = "preset"
    name: str = "checkerboard"
    image: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown data source '{self.kind}'; choose one of {SOURCE_KINDS}")

    def dataset(
        self, drawing: np.ndarray | None = None, jitter: float = 0.0, scale: float = 1.0
    ) -> Dataset2D:
        """The Dataset2D to train on; a drawing needs its points. Presets take jitter and
        scale, drawings the jitter; an image is used as it is."""
        if self.kind == "preset":
            return PresetDataset(self.name, jitter=jitter, scale=scale)
        if self.kind == "image":
            if not self.image:
                raise DatasetError("no image file chosen")
            return ImageDensity.from_file(self.image)
        if drawing is None or len(drawing) < 2:
            raise DatasetError("the drawing needs at least 2 points: draw some first")
        return PointSet(drawing, jitter=jitter, name="drawing")

    @property
    def label(self) -> str:
        """The dataset name a checkpoint records (`config.dataset`)."""
        if self.kind == "image" and self.image:
            return self.image
        return self.name if self.kind == "preset" else "drawing"


@dataclass
class Session:
    config: TrainConfig = field(default_factory=TrainConfig)
    source: DataSource = field(default_factory=DataSource)
    points: np.ndarray | None = None
    """The drawn points (N, 2), if any (kept even when another source is selected)."""
    model_dir: Path | None = None
    """The run directory of the trained model, absolute once loaded."""
    view: dict[str, Any] = field(default_factory=dict)
    """Display preferences: 't', 'brush' (numbers) and 'sampling' (`SAMPLING_FIELDS`)."""


def save_session(path: str | os.PathLike, session: Session) -> None:
    """Write the session atomically; the model directory is stored relative to the file, and
    must be inside its folder (what `load_session` accepts)."""
    path = Path(path)
    model = None
    if session.model_dir is not None:
        folder = path.resolve().parent
        directory = Path(session.model_dir).resolve()
        if not directory.is_relative_to(folder):
            raise SessionError(path, f"the model {directory} is not inside the session's folder")
        model = directory.relative_to(folder).as_posix()
    points = None if session.points is None else np.asarray(session.points).tolist()
    write_json(
        path,
        {
            "format": FORMAT,
            "version": VERSION,
            "config": session.config.to_dict(),
            "source": {
                "kind": session.source.kind,
                "name": session.source.name,
                "image": session.source.image,
            },
            "points": points,
            "model": model,
            "view": session.view,
        },
    )


def load_session(path: str | os.PathLike) -> Session:
    """Read and check a session file; every problem is one SessionError naming the file."""
    path = Path(path)
    try:
        data = read_json(path, max_bytes=MAX_SESSION_BYTES)
    except CheckpointError as exc:
        raise SessionError(path, exc.reason) from None
    except MemoryError:
        raise SessionError(path, "not enough memory to read it") from None
    if data.get("format") != FORMAT:
        raise SessionError(path, f"not an fmstudio session (format {_brief(data.get('format'))})")
    if data.get("version") != VERSION:
        raise SessionError(path, f"unsupported session version {_brief(data.get('version'))}")
    folder = path.resolve().parent
    try:
        return Session(
            config=TrainConfig.from_dict(data.get("config")),
            source=_read_source(data.get("source"), folder),
            points=_read_points(data.get("points")),
            model_dir=_model_dir(data.get("model"), folder),
            view=_read_view(data.get("view")),
        )
    except (ConfigError, DatasetError, ValueError, TypeError, RecursionError) as exc:
        raise SessionError(path, str(exc) or type(exc).__name__) from None


def _brief(value: Any) -> str:
    """A value as an error message shows it: containers by kind, scalars by a short repr."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _read_source(raw: Any, folder: Path) -> DataSource:
    if not isinstance(raw, dict):
        raise ValueError("'source' must be a JSON object")
    kind, name, image = raw.get("kind"), raw.get("name", "checkerboard"), raw.get("image")
    if not isinstance(kind, str) or not isinstance(name, str):
        raise ValueError("'source' needs a string 'kind' and 'name'")
    if image is not None and not isinstance(image, str):
        raise ValueError("'source.image' must be a path or null")
    if kind == "image":
        image = _image_path(image, folder)
    source = DataSource(kind=kind, name=name, image=image)
    if kind == "preset":
        PresetDataset(name)  # an unknown preset name fails here, not at the first step
    return source


def _image_path(raw: str | None, folder: Path) -> str:
    """The image target: a relative path is beside the session. It must be a regular file
    that reads as an image (checked now, so a bad one is refused before anything applies)."""
    if not raw:
        raise ValueError("'source.image' is missing: an image target needs its file")
    image = folder / raw
    try:
        regular_size(image)
    except FileRefused as exc:
        raise ValueError(f"'source.image' {image}: {exc}") from None
    except OSError as exc:
        raise ValueError(f"'source.image' {image}: {exc.strerror or exc}") from None
    try:
        ImageDensity.from_file(image)
    except DatasetError as exc:
        raise ValueError(f"'source.image': {exc}") from None
    return str(image)


def _read_points(raw: Any) -> np.ndarray | None:
    """The drawing: at most what a drawing holds, counted before numpy copies anything."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise ValueError("'points' must be a list of [x, y] pairs or null")
    if len(raw) > MAX_POINTS:
        raise ValueError(
            f"'points' holds {len(raw):,} points, more than a drawing's {MAX_POINTS:,}"
        )
    try:
        return validate_points(raw)
    except DatasetError as exc:
        raise ValueError(f"'points': {exc.reason}") from None


def _model_dir(raw: Any, folder: Path) -> Path | None:
    """The model's run directory, which must be inside the session's folder: a session that
    names a model elsewhere (absolute, `..`, a symlink leading out) is refused, never followed."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"'model' must be a folder name or null, got {_brief(raw)}")
    relative = Path(raw)
    inside = f"'model' must be a folder inside the session's folder, got {_brief(raw)}"
    if relative.anchor or ".." in relative.parts:
        raise ValueError(inside)
    directory = (folder / relative).resolve()
    if not directory.is_relative_to(folder):
        raise ValueError(f"{inside} (a link to {directory})")
    return directory


def _read_view(raw: Any) -> dict[str, Any]:
    """Display preferences, each type-checked; keys the app does not know are dropped (so a
    session cannot carry anything through a save)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("'view' must be a JSON object")
    view: dict[str, Any] = {}
    for key in ("t", "brush"):
        if raw.get(key) is not None:
            view[key] = _typed(raw[key], f"view.{key}", float)
    sampling = raw.get("sampling")
    if sampling is not None:
        if not isinstance(sampling, dict):
            raise ValueError("'view.sampling' must be a JSON object")
        view["sampling"] = {
            key: _typed(sampling[key], f"view.sampling.{key}", kind)
            for key, kind in SAMPLING_FIELDS.items()
            if key in sampling
        }
    return view


def _typed(value: Any, where: str, kind: type) -> Any:
    """`value` if it is null or a `kind`: a short str, a 32-bit int, or a finite number."""
    if value is None:
        return None
    if kind is str:
        if isinstance(value, str) and len(value) <= 100:
            return value
        raise ValueError(f"'{where}' must be a short string, got {_brief(value)}")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int and not (number and isinstance(value, int)):
        raise ValueError(f"'{where}' must be an integer, got {_brief(value)}")
    if not number:
        raise ValueError(f"'{where}' must be a number, got {_brief(value)}")
    if kind is int and not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise ValueError(f"'{where}' must be a 32-bit integer, got {_brief(value)}")
    if not math.isfinite(value):
        raise ValueError(f"'{where}' must be a finite number, got {_brief(value)}")
    return value
