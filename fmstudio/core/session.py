"""A saved session: the settings, the target (preset, drawing or image) and where the model is.

One JSON file a person can read and diff. Drawn points are stored in it; the trained model is a
run directory (safetensors + JSON, see `io`) beside it, referenced by a relative path so the
pair can be moved together. Nothing in a session file can run code.
"""

from __future__ import annotations

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
from fmstudio.core.io import CheckpointError, read_json, write_json

FORMAT = "fmstudio-session"
VERSION = 1
MAX_SESSION_BYTES = 64 << 20
SOURCE_KINDS = ("preset", "drawing", "image")


class SessionError(ValueError):
    """A session file that cannot be read, named with the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
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
    """Display preferences (t, visible views, solver...): plain JSON values."""


def save_session(path: str | os.PathLike, session: Session) -> None:
    """Write the session atomically; the model directory is stored relative to the file."""
    path = Path(path)
    model = None
    if session.model_dir is not None:
        model = os.path.relpath(Path(session.model_dir).resolve(), path.resolve().parent)
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
    if data.get("format") != FORMAT:
        raise SessionError(path, f"not an fmstudio session (format {data.get('format')!r})")
    if data.get("version") != VERSION:
        raise SessionError(path, f"unsupported session version {data.get('version')!r}")
    try:
        config = TrainConfig.from_dict(data.get("config"))
        source = _read_source(data.get("source"))
        points = None if data.get("points") is None else validate_points(data["points"])
    except (ConfigError, DatasetError, ValueError, TypeError) as exc:
        raise SessionError(path, str(exc)) from None
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise SessionError(path, "'model' must be a path or null")
    view = data.get("view") or {}
    if not isinstance(view, dict):
        raise SessionError(path, "'view' must be a JSON object")
    return Session(
        config=config,
        source=source,
        points=points,
        model_dir=None if model is None else (path.resolve().parent / model).resolve(),
        view=view,
    )


def _read_source(raw: Any) -> DataSource:
    if not isinstance(raw, dict):
        raise ValueError("'source' must be a JSON object")
    kind, name, image = raw.get("kind"), raw.get("name", "checkerboard"), raw.get("image")
    if not isinstance(kind, str) or not isinstance(name, str):
        raise ValueError("'source' needs a string 'kind' and 'name'")
    if image is not None and not isinstance(image, str):
        raise ValueError("'source.image' must be a path or null")
    source = DataSource(kind=kind, name=name, image=image)
    if kind == "preset":
        PresetDataset(name)  # an unknown preset name fails here, not at the first step
    return source
