"""Classic 2-D toy targets (FFJORD / torchcfm conventions) as pure, seeded, vectorized functions.

Every preset maps ``(n, seed)`` to an ``(n, 2)`` float32 array and draws all randomness from
``np.random.default_rng(seed)``, so a run can be reproduced exactly from its seed. Mixture
components are chosen per point (rather than FFJORD's ``n // k`` split) so any ``n`` works.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from fmstudio.core.data.errors import DatasetError, check_count

Preset = Callable[[int, int], np.ndarray]


def _stack(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pack coordinates into the (n, 2) float32 layout the trainer consumes."""
    return np.stack([x, y], axis=1).astype(np.float32)


def _concentric(n: int, seed: int, radii: Sequence[float], noise: float) -> np.ndarray:
    """Equal-mass noisy circles; shared by ``circles`` and ``rings``, which differ only in radii."""
    rng = np.random.default_rng(seed)
    radius = rng.choice(np.asarray(radii, dtype=np.float64), size=n)
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    eps = rng.normal(0.0, noise, (n, 2))
    return _stack(radius * np.cos(theta) + eps[:, 0], radius * np.sin(theta) + eps[:, 1])


def moons(n: int, seed: int) -> np.ndarray:
    """Two interleaved half circles: sklearn ``make_moons`` (noise 0.1) mapped by FFJORD's
    ``2 * p + (-1, -0.2)``.

    Scale: noiseless points span x in [-3, 3], y in [-1.2, 1.8]; the noise std is 0.2 after
    scaling, so samples stay within about [-4, 4] x [-3, 3].
    """
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, np.pi, n)
    inner = rng.random(n) < 0.5
    x = np.where(inner, 1.0 - np.cos(t), np.cos(t))
    y = np.where(inner, 0.5 - np.sin(t), np.sin(t))
    eps = rng.normal(0.0, 0.1, (n, 2))
    return _stack(2.0 * (x + eps[:, 0]) - 1.0, 2.0 * (y + eps[:, 1]) - 0.2)


def eight_gaussians(n: int, seed: int) -> np.ndarray:
    """Eight equal Gaussians (std 0.5) centred at ``4 * (cos k*pi/4, sin k*pi/4)``, k = 0..7.

    Scale: FFJORD/torchcfm "8gaussians" with scale 4, but without FFJORD's final ``/ 1.414``,
    so the centres sit exactly on the radius-4 circle; samples stay within about [-6.5, 6.5]^2.
    """
    rng = np.random.default_rng(seed)
    angle = rng.integers(0, 8, n) * (np.pi / 4.0)
    eps = rng.normal(0.0, 0.5, (n, 2))
    return _stack(4.0 * np.cos(angle) + eps[:, 0], 4.0 * np.sin(angle) + eps[:, 1])


def checkerboard(n: int, seed: int) -> np.ndarray:
    """Uniform mass on 8 of the 16 side-2 squares tiling [-4, 4]^2, exactly as in FFJORD.

    Scale: ``x1 = U*4 - 2; x2 = U - randint(0, 2)*2 + floor(x1) % 2; p = 2 * (x1, x2)``, so every
    point lies in [-4, 4]^2 and square (i, j) = floor(p / 2) + 2 is occupied iff i + j is even.
    Acceptance tests compare against fresh samples at this exact scale; do not rescale.
    """
    rng = np.random.default_rng(seed)
    x1 = rng.random(n) * 4.0 - 2.0
    x2_ = rng.random(n) - rng.integers(0, 2, n) * 2.0
    x2 = x2_ + np.floor(x1) % 2.0
    return _stack(x1 * 2.0, x2 * 2.0)


def circles(n: int, seed: int) -> np.ndarray:
    """Two concentric circles of radii 4 and 2 with equal mass and Gaussian noise std 0.1.

    Scale: samples stay within about [-4.5, 4.5]^2.
    """
    return _concentric(n, seed, radii=(4.0, 2.0), noise=0.1)


def spirals(n: int, seed: int) -> np.ndarray:
    """FFJORD "2spirals": two point-symmetric arms winding 540 degrees around the origin.

    Scale: arm radius ``t / 3`` with t up to 3*pi (plus a U(0, 0.5)/3 offset and noise std 0.1),
    so samples stay within about [-4, 4]^2.
    """
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n)) * 3.0 * np.pi
    offset = rng.random((n, 2)) * 0.5
    arm = np.where(rng.random(n) < 0.5, -1.0, 1.0) / 3.0
    eps = rng.normal(0.0, 0.1, (n, 2))
    x = arm * (-np.cos(t) * t + offset[:, 0]) + eps[:, 0]
    y = arm * (np.sin(t) * t + offset[:, 1]) + eps[:, 1]
    return _stack(x, y)


def swissroll(n: int, seed: int) -> np.ndarray:
    """FFJORD swissroll: the (x, z) projection of sklearn ``make_swiss_roll(noise=1.0)``, / 5.

    Scale: ``t = 1.5*pi*(1 + 2U)`` so the roll reaches radius 4.5*pi/5 ~ 2.8, with noise std 0.2;
    samples stay within about [-4, 4]^2.
    """
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    eps = rng.normal(0.0, 1.0, (n, 2))
    return _stack((t * np.cos(t) + eps[:, 0]) / 5.0, (t * np.sin(t) + eps[:, 1]) / 5.0)


def pinwheel(n: int, seed: int) -> np.ndarray:
    """FFJORD pinwheel: 5 arms of Gaussian blobs (radial std 0.3, tangential std 0.1) sheared
    by ``angle = arm * 2*pi/5 + 0.25 * exp(radial)``, then scaled by 2.

    Scale: radial coordinate ~ 2 * N(1, 0.3), so samples stay within about [-5, 5]^2 and
    mostly within [-4, 4]^2.
    """
    rng = np.random.default_rng(seed)
    radial = rng.normal(1.0, 0.3, n)
    tangential = rng.normal(0.0, 0.1, n)
    angle = rng.integers(0, 5, n) * (2.0 * np.pi / 5.0) + 0.25 * np.exp(radial)
    cos, sin = np.cos(angle), np.sin(angle)
    return _stack(2.0 * (radial * cos + tangential * sin), 2.0 * (tangential * cos - radial * sin))


def rings(n: int, seed: int) -> np.ndarray:
    """FFJORD "rings": four concentric circles of radii 3, 2.25, 1.5, 0.75, noise std 0.08.

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


def make_preset(name: str, n: int, seed: int) -> np.ndarray:
    """Draw ``n`` points of preset ``name``; validates arguments so callers get a DatasetError."""
    preset = get_preset(name)
    count = check_count(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"seed must be a non-negative integer, got {seed!r}")
    return preset(count, int(seed))
