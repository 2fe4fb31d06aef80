"""A point set the user draws: a spray brush, an eraser, undo by stroke.

Plain numpy and no Qt, so the app's draw tool is a thin adapter (mouse position in data
coordinates → `spray`/`erase`) and the geometry is tested on its own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fmstudio.core.data.errors import DatasetError, check_count, check_positive
from fmstudio.core.data.points import validate_points

MAX_POINTS = 200_000
"""A hard cap so a brush held down for minutes cannot exhaust memory."""


def spray(
    center: tuple[float, float], radius: float, count: int, rng: np.random.Generator
) -> np.ndarray:
    """`count` points uniform in the disc of `radius` around `center` (an airbrush dab)."""
    check_positive(radius, "radius")
    r = radius * np.sqrt(rng.random(check_count(count, "count")))
    angle = rng.random(count) * 2.0 * np.pi
    pts = np.stack([center[0] + r * np.cos(angle), center[1] + r * np.sin(angle)], axis=1)
    return pts.astype(np.float32)


def outside(points: np.ndarray, center: tuple[float, float], radius: float) -> np.ndarray:
    """Boolean mask of the points farther than `radius` from `center` (what an eraser keeps)."""
    d2 = (points[:, 0] - center[0]) ** 2 + (points[:, 1] - center[1]) ** 2
    return d2 > radius * radius


class Drawing:
    """The drawn target: its points, and one undo entry per stroke (press → release)."""

    def __init__(self, seed: int = 0, max_undo: int = 100) -> None:
        self._points = np.zeros((0, 2), dtype=np.float32)
        self._undo: list[np.ndarray] = []
        self._in_stroke = False
        self._rng = np.random.default_rng(seed)
        self._max_undo = max_undo
        self.version = 0
        """Bumped on every change, so consumers can tell whether to re-read `points`."""

    @property
    def points(self) -> np.ndarray:
        """A read-only view of the current (N, 2) float32 points."""
        view = self._points.view()
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return len(self._points)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def _checkpoint(self) -> None:
        self._undo.append(self._points)
        del self._undo[: -self._max_undo]

    def _set(self, points: np.ndarray) -> None:
        self._points = points
        self.version += 1

    def begin_stroke(self) -> None:
        """Start an undoable stroke; brush dabs and eraser passes until `end_stroke` join it."""
        if not self._in_stroke:
            self._checkpoint()
            self._in_stroke = True

    def end_stroke(self) -> None:
        self._in_stroke = False

    def spray(self, center: tuple[float, float], radius: float, count: int) -> int:
        """Add a dab of points; returns how many were added (fewer at the `MAX_POINTS` cap)."""
        self.begin_stroke()
        room = MAX_POINTS - len(self._points)
        count = min(count, room)
        if count <= 0:
            return 0
        self._set(np.concatenate([self._points, spray(center, radius, count, self._rng)]))
        return count

    def erase(self, center: tuple[float, float], radius: float) -> int:
        """Remove the points within `radius` of `center`; returns how many went."""
        keep = outside(self._points, center, check_positive(radius, "radius"))
        removed = int(len(keep) - keep.sum())
        if removed:
            self.begin_stroke()
            self._set(self._points[keep])
        return removed

    def undo(self) -> bool:
        """Go back to before the last stroke (or clear/replace); False when there is nothing."""
        if not self._undo:
            return False
        self._in_stroke = False
        self._set(self._undo.pop())
        return True

    def clear(self) -> None:
        if len(self._points):
            self._checkpoint()
            self._set(np.zeros((0, 2), dtype=np.float32))

    def replace(self, points: ArrayLike) -> None:
        """Load a whole point set (an imported file, a session), undoable like a stroke."""
        data = validate_points(points)
        if len(data) > MAX_POINTS:
            raise DatasetError(f"{len(data)} points is more than the {MAX_POINTS} a drawing holds")
        self._checkpoint()
        self._set(data.copy())
