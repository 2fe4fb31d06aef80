"""Classic 2-D toy targets (FFJORD / torchcfm conventions) as pure, seeded, vectorized functions.

Every preset maps ``(n, seed)`` to an ``(n, 2)`` float32 array and, where the shape has natural
classes, the ``(n,)`` int64 class of each point (`Labelled`); all randomness comes from
``np.random.default_rng(seed)``, so a run can be reproduced exactly from its seed. Mixture
components are chosen per point (rather than FFJORD's ``n // k`` split) so any ``n`` works, and
a point's class is the component it was drawn from. The classes of each preset are in
`CLASSES` and its docstring; `make_preset` gives the points alone, exactly as before labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from fmstudio.core.data.errors import DatasetError, check_count


class Labelled(NamedTuple):
    """Points (n, 2) and their classes (n,), or None for a preset without natural classes."""

    points: np.ndarray
    labels: np.ndarray | None


Preset = Callable[[int, int], Labelled]


def _stack(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pack coordinates into the (n, 2) float32 layout the trainer consumes."""
    return np.stack([x, y], axis=1).astype(np.float32)


def _concentric(n: int, seed: int, radii: Sequence[float], noise: float) -> Labelled:
    """Equal-mass noisy circles; shared by ``circles`` and ``rings``, which differ only in radii.
    Class k is the circle of radius ``radii[k]``."""
    rng = np.random.default_rng(seed)
    ring = rng.integers(0, len(radii), n)
    radius = np.asarray(radii, dtype=np.float64)[ring]
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    eps = rng.normal(0.0, noise, (n, 2))
    points = _stack(radius * np.cos(theta) + eps[:, 0], radius * np.sin(theta) + eps[:, 1])
    return Labelled(points, ring)


def moons(n: int, seed: int) -> Labelled:
    """Two interleaved half circles: sklearn ``make_moons`` (noise 0.1) mapped by FFJORD's
    ``2 * p + (-1, -0.2)``. Class 0 is the upper moon, 1 the lower.

    Scale: noiseless points span x in [-3, 3], y in [-1.2, 1.8]; the noise std is 0.2 after
    scaling, so samples stay within about [-4, 4] x [-3, 3].
    """
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, np.pi, n)
    inner = rng.random(n) < 0.5
    x = np.where(inner, 1.0 - np.cos(t), np.cos(t))
    y = np.where(inner, 0.5 - np.sin(t), np.sin(t))
    eps = rng.normal(0.0, 0.1, (n, 2))
    points = _stack(2.0 * (x + eps[:, 0]) - 1.0, 2.0 * (y + eps[:, 1]) - 0.2)
    return Labelled(points, inner.astype(np.int64))


def eight_gaussians(n: int, seed: int) -> Labelled:
    """Eight equal Gaussians (std 0.5) centred at ``4 * (cos k*pi/4, sin k*pi/4)``, k = 0..7;
    class k is the Gaussian centred at angle k·π/4.

    Scale: FFJORD/torchcfm "8gaussians" with scale 4, but without FFJORD's final ``/ 1.414``,
    so the centres sit exactly on the radius-4 circle; samples stay within about [-6.5, 6.5]^2.
    """
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 8, n)
    angle = k * (np.pi / 4.0)
    eps = rng.normal(0.0, 0.5, (n, 2))
    points = _stack(4.0 * np.cos(angle) + eps[:, 0], 4.0 * np.sin(angle) + eps[:, 1])
    return Labelled(points, k.astype(np.int64))


def checkerboard(n: int, seed: int) -> Labelled:
    """Uniform mass on 8 of the 16 side-2 squares tiling [-4, 4]^2, exactly as in FFJORD.

    Scale: ``x1 = U*4 - 2; x2 = U - randint(0, 2)*2 + floor(x1) % 2; p = 2 * (x1, x2)``, so every
    point lies in [-4, 4]^2 and square (i, j) = floor(p / 2) + 2 is occupied iff i + j is even.
    Acceptance tests compare against fresh samples at this exact scale; do not rescale.
    One class per filled square: 2·i + j // 2, so 0..7 column by column from the left.
    """
    rng = np.random.default_rng(seed)
    x1 = rng.random(n) * 4.0 - 2.0
    x2_ = rng.random(n) - rng.integers(0, 2, n) * 2.0
    x2 = x2_ + np.floor(x1) % 2.0
    column = np.floor(x1).astype(np.int64) + 2  # the square (column, row) of side 2 in p
    row = np.floor(x2).astype(np.int64) + 2
    return Labelled(_stack(x1 * 2.0, x2 * 2.0), 2 * column + row // 2)


def circles(n: int, seed: int) -> Labelled:
    """Two concentric circles of radii 4 and 2 with equal mass and Gaussian noise std 0.1;
    class 0 is the outer circle, 1 the inner.

    Scale: samples stay within about [-4.5, 4.5]^2.
    """
    return _concentric(n, seed, radii=(4.0, 2.0), noise=0.1)


def spirals(n: int, seed: int) -> Labelled:
    """FFJORD "2spirals": two point-symmetric arms winding 540 degrees around the origin;
    class 0 is the arm that starts to the right of the origin, 1 the other.

    Scale: arm radius ``t / 3`` with t up to 3*pi (plus a U(0, 0.5)/3 offset and noise std 0.1),
    so samples stay within about [-4, 4]^2.
    """
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n)) * 3.0 * np.pi
    offset = rng.random((n, 2)) * 0.5
    first = rng.random(n) < 0.5
    arm = np.where(first, -1.0, 1.0) / 3.0
    eps = rng.normal(0.0, 0.1, (n, 2))
    x = arm * (-np.cos(t) * t + offset[:, 0]) + eps[:, 0]
    y = arm * (np.sin(t) * t + offset[:, 1]) + eps[:, 1]
    return Labelled(_stack(x, y), (~first).astype(np.int64))


def swissroll(n: int, seed: int) -> Labelled:
    """FFJORD swissroll: the (x, z) projection of sklearn ``make_swiss_roll(noise=1.0)``, / 5.
    One roll: no classes.

    Scale: ``t = 1.5*pi*(1 + 2U)`` so the roll reaches radius 4.5*pi/5 ~ 2.8, with noise std 0.2;
    samples stay within about [-4, 4]^2.
    """
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    eps = rng.normal(0.0, 1.0, (n, 2))
    points = _stack((t * np.cos(t) + eps[:, 0]) / 5.0, (t * np.sin(t) + eps[:, 1]) / 5.0)
    return Labelled(points, None)


def pinwheel(n: int, seed: int) -> Labelled:
    """FFJORD pinwheel: 5 arms of Gaussian blobs (radial std 0.3, tangential std 0.1) sheared
    by ``angle = arm * 2*pi/5 + 0.25 * exp(radial)``, then scaled by 2; class k is arm k.

    Scale: radial coordinate ~ 2 * N(1, 0.3), so samples stay within about [-5, 5]^2 and
    mostly within [-4, 4]^2.
    """
    rng = np.random.default_rng(seed)
    radial = rng.normal(1.0, 0.3, n)
    tangential = rng.normal(0.0, 0.1, n)
    arm = rng.integers(0, 5, n)
    angle = arm * (2.0 * np.pi / 5.0) + 0.25 * np.exp(radial)
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = radial * cos + tangential * sin, tangential * cos - radial * sin
    return Labelled(_stack(2.0 * x, 2.0 * y), arm.astype(np.int64))


def rings(n: int, seed: int) -> Labelled:
    """FFJORD "rings": four concentric circles of radii 3, 2.25, 1.5, 0.75, noise std 0.08;
    class k is the k-th ring from the outside.

    Scale: samples stay within about [-3.5, 3.5]^2; each ring carries 1/4 of the mass.
    """
    return _concentric(n, seed, radii=(3.0, 2.25, 1.5, 0.75), noise=0.08)


PRESETS: dict[str, Preset] = {
    "moons": moons,
    "8gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "circles": circles,
    "spirals": spirals,
    "swissroll": swissroll,
    "pinwheel": pinwheel,
    "rings": rings,
}


def get_preset(name: str) -> Preset:
    """Look a preset up by name, failing with the list of valid names for a typo."""
    try:
        return PRESETS[name]
    except KeyError:
        raise DatasetError(
            f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}"
        ) from None


CLASSES: dict[str, int] = {
    "moons": 2,
    "8gaussians": 8,
    "checkerboard": 8,
    "circles": 2,
    "spirals": 2,
    "pinwheel": 5,
    "rings": 4,
}
"""How many classes each labelled preset has (swissroll has none)."""


def make_labelled(name: str, n: int, seed: int) -> Labelled:
    """Draw ``n`` points of preset ``name`` with their classes (None for a preset without);
    validates arguments so callers get a DatasetError."""
    preset = get_preset(name)
    count = check_count(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"seed must be a non-negative integer, got {seed!r}")
    return preset(count, int(seed))


def make_preset(name: str, n: int, seed: int) -> np.ndarray:
    """Draw ``n`` points of preset ``name`` (the points of `make_labelled`, the same draws)."""
    return make_labelled(name, n, seed).points
