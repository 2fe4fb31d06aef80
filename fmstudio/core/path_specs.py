"""The probability paths by name: what each one is and the parameters it takes, described once
(no torch here; `paths.py` adds the maths to these same dataclasses).

A path's parameters are fields of its own dataclass with a `Setting` (schema.py): their bounds
are checked when the path is made, the settings form shows the fields of the chosen path, the
CLI has a flag for each (`--sigma-min`) and takes them inline (`--path ot:sigma_min=0.05`).
A run's config stores them flat under the same names (`TrainConfig.sigma_min`), as config.json
always has; None there means the path's default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from fmstudio.core.schema import Described, Group, Setting, check, described, setting


class PathParams:
    """Base of the path dataclasses: a name, one line of help, and checked parameters."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check(self)


@dataclass
class OTParams(PathParams):
    name: ClassVar[str] = "ot"
    description: ClassVar[str] = (
        "Optimal-transport path (eqs. 20–23): μ_t = t·x1, σ_t = 1 − (1 − σ_min)·t. Straight "
        "conditional paths with a constant target."
    )
    sigma_min: float = setting(
        0.0,
        "σ_min",
        "Width of the OT path's Gaussians at t = 1 (eq. 20, σ_t = 1 − (1 − σ_min)·t); 0 = exact "
        "straight-line paths ending on the data points.",
        Group.PATH,
        low=0.0,
        high=1.0,
        high_open=True,
        step=0.01,
    )


@dataclass
class VPParams(PathParams):
    name: ClassVar[str] = "vp"
    description: ClassVar[str] = (
        "Variance-preserving diffusion path (eqs. 18–19) with the noise schedule β(s) from "
        "β_min to β_max. Singular at t = 1: training and sampling stop at 1 − 10⁻³."
    )
    beta_min: float = setting(
        0.1,
        "β_min",
        "VP noise schedule: β at the data end (eq. 19, T(s) = ∫β); at most β_max.",
        Group.PATH,
        low=0.0,
        low_open=True,
        high=1000.0,
        step=0.05,
    )
    beta_max: float = setting(
        20.0,
        "β_max",
        "VP noise schedule: β at the noise end; larger reaches pure noise sooner (α ≈ e^(−β/4)).",
        Group.PATH,
        low=0.0,
        low_open=True,
        high=1000.0,
        step=1.0,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta_min > self.beta_max:
            raise ValueError(f"need beta_min <= beta_max, got {self.beta_min}, {self.beta_max}")


@dataclass
class VEParams(PathParams):
    name: ClassVar[str] = "ve"
    description: ClassVar[str] = (
        "Variance-exploding diffusion path (eqs. 16–17): p_t(x|x1) = N(x1, σ_{1−t}²). Starts "
        "from ≈ N(0, σ_max²); σ_max defaults to the data's largest pairwise distance."
    )
    sigma_max: float = setting(
        10.0,
        "σ_max",
        "Largest noise scale of the VE path: p_0 ≈ N(0, σ_max²). Should exceed the data's "
        "diameter (Song & Ermon); 'data diameter' computes that from the data.",
        Group.PATH,
        low=0.0,
        low_open=True,
        high=1e6,
        step=0.5,
    )
    sigma_min: float = 0.01
    """Smallest noise scale, at the data end; fixed (not a setting)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ValueError(
                f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}"
            )


@dataclass
class CosineParams(PathParams):
    name: ClassVar[str] = "cosine"
    description: ClassVar[str] = (
        "Cosine path: α_t = sin(πt/2), σ_t = cos(πt/2). Variance-preserving with bounded velocity."
    )


@dataclass
class ICFMParams(PathParams):
    name: ClassVar[str] = "icfm"
    description: ClassVar[str] = (
        "I-CFM (Tong et al. 2023): x_t = t·x1 + (1 − t)·x0 + σ·ε, target x1 − x0."
    )
    sigma: float = setting(
        0.0,
        "σ",
        "Std of the extra Gaussian noise around the straight line, x_t = t·x1 + (1 − t)·x0 + "
        "σ·ε; 0 = no noise, exact straight paths.",
        Group.PATH,
        low=0.0,
        high=1e3,
        step=0.05,
    )


@dataclass
class SBParams(PathParams):
    name: ClassVar[str] = "sb"
    description: ClassVar[str] = (
        "Schrödinger-bridge path: Brownian bridge σ_t = σ·√(t(1 − t)) around the straight line; "
        "singular at both ends, so t stays in [10⁻³, 1 − 10⁻³]."
    )
    sigma: float = setting(
        1.0,
        "σ",
        "Noise level of the Brownian bridge, σ_t = σ·√(t(1 − t)); also sets the Sinkhorn "
        "regularization 2σ². Must be > 0.",
        Group.PATH,
        low=0.0,
        low_open=True,
        high=1e3,
        step=0.05,
    )


PATH_PARAMS: dict[str, type[PathParams]] = {
    cls.name: cls for cls in (OTParams, VPParams, VEParams, CosineParams, ICFMParams, SBParams)
}
"""Every path by name, with its parameters."""


@dataclass(frozen=True)
class Preset:
    """A method of the field named as a (path, coupling) pair (Tong et al. 2023)."""

    path: str
    coupling: str
    description: str


PRESETS: dict[str, Preset] = {
    "otcfm": Preset(
        "icfm", "ot", "Preset OT-CFM: the icfm path with exact minibatch optimal-transport pairs."
    ),
    "sbcfm": Preset(
        "sb",
        "sinkhorn",
        "Preset SB-CFM: the sb path with entropic (Sinkhorn) pairs, regularization 2σ².",
    ),
}
ALL_PATHS: tuple[str, ...] = (*sorted(PATH_PARAMS), *sorted(PRESETS))
"""What `--path` and the Path menu offer: the paths, then the presets."""


def describe(name: str) -> str:
    """One line of help for a path or preset name."""
    preset = PRESETS.get(name)
    return preset.description if preset else PATH_PARAMS[name].description


def resolve_preset(path: str, coupling: str | None) -> tuple[str, str]:
    """Expand `otcfm`/`sbcfm` into (path, coupling); a plain path keeps the coupling given."""
    if path in PRESETS:
        preset = PRESETS[path]
        if coupling not in (None, preset.coupling):
            raise ValueError(
                f"preset '{path}' implies coupling '{preset.coupling}', not '{coupling}'"
            )
        return preset.path, preset.coupling
    if path not in PATH_PARAMS:
        raise ValueError(f"unknown path '{path}'; choose one of {list(ALL_PATHS)}")
    return path, coupling or "independent"


def parameters(path: str) -> tuple[Described, ...]:
    """The settings a path (or a preset's path) takes, e.g. (sigma_min,) for ot."""
    return described(PATH_PARAMS[resolve_preset(path, None)[0]])


def all_parameter_names() -> tuple[str, ...]:
    """Every path parameter name, each once, in the order the paths declare them."""
    names = (d.name for cls in PATH_PARAMS.values() for d in described(cls))
    return tuple(dict.fromkeys(names))


def flat_setting(name: str, **changes: Any) -> Setting:
    """The description of a run config's flat field for the path parameter `name`: the
    parameter's own, and where several paths take it (σ), each path's help and the widest
    bounds (each path still checks its own when it is made)."""
    owners = [
        (cls.name, d) for cls in PATH_PARAMS.values() for d in described(cls) if d.name == name
    ]
    if not owners:
        raise KeyError(f"no path takes a parameter '{name}'")
    first = owners[0][1].setting
    if len(owners) > 1:
        lows = [d.setting.low for _, d in owners]
        first = dataclasses.replace(
            first,
            help=" ".join(f"{path}: {d.setting.help}" for path, d in owners),
            low=min(lows),
            low_open=all(d.setting.low_open for _, d in owners if d.setting.low == min(lows)),
        )
    return dataclasses.replace(first, **changes)


def split_spec(text: str) -> tuple[str, dict[str, Any]]:
    """'ot:sigma_min=0.05' (or 'vp:beta_min=0.1;beta_max=10') → ('ot', {'sigma_min': 0.05}).

    Only the path's own parameters may follow the colon, each parsed as its type; anything
    else is a ValueError naming it.
    """
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    resolve_preset(name, None)
    own = {d.name: d for d in parameters(name)}
    values: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in rest.split(";"))):
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"'{pair}' in path '{text}' is not key=value")
        if key not in own:
            takes = ", ".join(own) or "no parameters"
            raise ValueError(f"path '{name}' takes {takes}, not '{key}'")
        values[key] = own[key].parse(raw)
    return name, values
