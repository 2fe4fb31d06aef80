"""Probability paths p_t(x | x0, x1): where a training point sits at time t and where it moves.

Every path here is Gaussian and affine in its endpoints, so one formula serves all of them:

    x_t = a_t·x1 + b_t·x0 + c_t·ε,        u_t = ȧ_t·x1 + ḃ_t·x0 + ċ_t·ε,

with x0 ~ p_0 = N(0, I) (t = 0 is noise, t = 1 is data) and ε ~ N(0, I) an extra noise that only
the bridge-like paths of the field use (c_t = 0 for the paper's paths, which condition on x1
alone and use x0 as their noise). u_t is d/dt of the flow ψ_t, the CFM regression target of
the paper's eq. 13; for the paper's paths it equals eq. 15 written in (x0, x1).

A schedule returns (a, b, c, ȧ, ḃ, ċ) at times t; `ProbabilityPath` applies it to tensors of any
shape (points (B, 2) or images (B, C, H, W)).

Endpoint singularities are handled in one place: a path whose target is unbounded at an end of
[0, 1] (VP at t = 1, the Schrödinger bridge at t = 0 and t = 1) declares a time range shrunk by
`T_EPS` at that end; training draws t from that range and samplers integrate over it. Nothing is
evaluated at a singular time, so no inf/NaN is ever produced.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor

from fmstudio.core.path_specs import (
    ALL_PATHS,
    PRESETS,
    CosineParams,
    ICFMParams,
    OTParams,
    SBParams,
    VEParams,
    VPParams,
    resolve_preset,
)

T_EPS = 1e-3
"""How far from a singular endpoint training and sampling stay (VP at t = 1, SB at t ∈ {0, 1})."""


class Coefficients(NamedTuple):
    """a_t, b_t, c_t and their time derivatives, each of shape (B,)."""

    a: Tensor
    b: Tensor
    c: Tensor
    da: Tensor
    db: Tensor
    dc: Tensor


def _zeros(t: Tensor) -> Tensor:
    return torch.zeros_like(t)


def _ones(t: Tensor) -> Tensor:
    return torch.ones_like(t)


class ProbabilityPath:
    """A conditional probability path. Subclasses implement `coefficients(t)`; their
    parameters and checks come from their `path_specs` dataclass."""

    name: ClassVar[str] = ""
    t_min: ClassVar[float] = 0.0
    t_max: ClassVar[float] = 1.0

    def coefficients(self, t: Tensor) -> Coefficients:
        raise NotImplementedError

    @property
    def uses_extra_noise(self) -> bool:
        """True when x_t needs the extra ε (bridge-like paths); False for the paper's paths."""
        return False

    def prior_std(self) -> float:
        """Std of the t = 0 marginal when x1 is small against it: √(b_0² + c_0²).

        For VE this is σ_max: its p_0 is only approximately N(0, σ_max² I) (paper §4, eq. 16);
        samplers draw from exactly this Gaussian.
        """
        t0 = torch.tensor([self.t_min], dtype=torch.float64)
        co = self.coefficients(t0)
        return float(torch.sqrt(co.b**2 + co.c**2))

    def sample_t(self, n: int, *, generator: torch.Generator | None = None, device=None) -> Tensor:
        """Uniform times on the path's safe range [t_min, t_max]."""
        u = torch.rand(n, generator=generator, device=device)
        return self.t_min + (self.t_max - self.t_min) * u

    def sample(
        self, x0: Tensor, x1: Tensor, t: Tensor, eps: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """x_t and the conditional target u_t for a batch (eqs. 11 and 13).

        x0, x1 (and eps) share the shape (B, *dims); t has shape (B,).
        """
        co = self.coefficients(t.to(x1.dtype))
        shape = (-1,) + (1,) * (x1.dim() - 1)
        a, b, da, db = (v.view(shape) for v in (co.a, co.b, co.da, co.db))
        xt = a * x1 + b * x0
        ut = da * x1 + db * x0
        if self.uses_extra_noise:
            if eps is None:
                raise ValueError(f"path '{self.name}' needs the extra noise eps")
            c, dc = co.c.view(shape), co.dc.view(shape)
            xt = xt + c * eps
            ut = ut + dc * eps
        return xt, ut

    def marginal_given_x1(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(a_t, s_t, ȧ_t, ṡ_t) of p_t(x | x1) = N(a_t x1, s_t² I) under independent coupling.

        x0 and ε are independent of x1, so s_t² = b_t² + c_t² and s_t ṡ_t = b_t ḃ_t + c_t ċ_t;
        this is the conditional path of eq. 10 that eq. 8's marginal field averages over.
        """
        co = self.coefficients(t)
        s = torch.sqrt(co.b**2 + co.c**2)
        ds = (co.b * co.db + co.c * co.dc) / s.clamp_min(1e-12)
        return co.a, s, co.da, ds

    def config(self) -> dict:
        """The path's parameters, JSON-serialisable, enough to rebuild it with `make_path`."""
        return {"name": self.name, **dataclasses.asdict(self)}


@dataclass
class OTPath(OTParams, ProbabilityPath):
    """The paper's optimal-transport path: μ_t = t·x1, σ_t = 1 − (1 − σ_min)·t (eqs. 20–23).

    In (x0, x1) form the target x1 − (1 − σ_min)·x0 (eq. 23) is bounded everywhere, so even
    σ_min = 0 needs no clipping; conditional paths are straight lines.
    """

    def coefficients(self, t: Tensor) -> Coefficients:
        k = 1.0 - self.sigma_min
        return Coefficients(t, 1.0 - k * t, _zeros(t), _ones(t), -k * _ones(t), _zeros(t))


@dataclass
class VPPath(VPParams, ProbabilityPath):
    """Variance-preserving diffusion path (eqs. 18–19), written with s = 1 − t.

    α_s = exp(−½ T(s)), T(s) = β_min s + ½ s² (β_max − β_min); a_t = α_{1−t},
    b_t = √(1 − α_{1−t}²). Singular at t = 1 (α_0 = 1 makes ḃ unbounded): t_max = 1 − T_EPS.
    """

    t_max: ClassVar[float] = 1.0 - T_EPS

    def coefficients(self, t: Tensor) -> Coefficients:
        s = 1.0 - t
        big_t = self.beta_min * s + 0.5 * s**2 * (self.beta_max - self.beta_min)
        beta = self.beta_min + s * (self.beta_max - self.beta_min)
        alpha = torch.exp(-0.5 * big_t)
        var = (-torch.expm1(-big_t)).clamp_min(1e-12)  # 1 − α², accurate near s = 0
        b = torch.sqrt(var)
        # d/dt = −d/ds;  dα/ds = −½ β α;  db/ds = α² β / (2 b)
        da = 0.5 * beta * alpha
        db = -(alpha**2) * beta / (2.0 * b)
        return Coefficients(alpha, b, _zeros(t), da, db, _zeros(t))


@dataclass
class VEPath(VEParams, ProbabilityPath):
    """Variance-exploding diffusion path (eqs. 16–17): p_t(x|x1) = N(x1, σ_{1−t}² I).

    Geometric schedule σ_s = σ_min (σ_max/σ_min)^s, so a_t = 1 and b_t = σ_{1−t}. σ_max should be
    well above the data scale (Song & Ermon: about the largest pairwise distance in the data);
    `default_sigma_max` computes that from data when the user gives none. p_0 is then only
    approximately N(0, σ_max² I), and that Gaussian is what the samplers start from.
    """

    def coefficients(self, t: Tensor) -> Coefficients:
        log_ratio = math.log(self.sigma_max / self.sigma_min)
        b = self.sigma_min * torch.exp((1.0 - t) * log_ratio)
        return Coefficients(_ones(t), b, _zeros(t), _zeros(t), -log_ratio * b, _zeros(t))


def default_sigma_max(x1: Tensor) -> float:
    """Largest pairwise distance within a data sample: Song & Ermon's rule for VE's σ_max."""
    flat = x1.reshape(len(x1), -1).double()
    return float(torch.cdist(flat, flat).max())


@dataclass
class CosinePath(CosineParams, ProbabilityPath):
    """α_t = sin(πt/2), σ_t = cos(πt/2): a variance-preserving path with bounded velocity."""

    def coefficients(self, t: Tensor) -> Coefficients:
        h = 0.5 * math.pi
        a, b = torch.sin(h * t), torch.cos(h * t)
        return Coefficients(a, b, _zeros(t), h * b, -h * a, _zeros(t))


@dataclass
class ICFMPath(ICFMParams, ProbabilityPath):
    """Independent-coupling CFM (Tong et al. 2023): x_t = t x1 + (1 − t) x0 + σ ε, u = x1 − x0."""

    @property
    def uses_extra_noise(self) -> bool:
        return self.sigma > 0.0

    def coefficients(self, t: Tensor) -> Coefficients:
        return Coefficients(t, 1.0 - t, self.sigma * _ones(t), _ones(t), -_ones(t), _zeros(t))


@dataclass
class SchrodingerBridgePath(SBParams, ProbabilityPath):
    """Brownian-bridge path of SB-CFM: μ_t = t x1 + (1 − t) x0, σ_t = σ √(t (1 − t)).

    u_t = (1 − 2t) / (2 t (1 − t)) · (x_t − μ_t) + (x1 − x0) is unbounded at both ends, so
    t stays in [T_EPS, 1 − T_EPS].
    """

    t_min: ClassVar[float] = T_EPS
    t_max: ClassVar[float] = 1.0 - T_EPS

    @property
    def uses_extra_noise(self) -> bool:
        return True

    def coefficients(self, t: Tensor) -> Coefficients:
        r = torch.sqrt(t * (1.0 - t))
        c = self.sigma * r
        dc = self.sigma * (1.0 - 2.0 * t) / (2.0 * r)
        return Coefficients(t, 1.0 - t, c, _ones(t), -_ones(t), dc)


PATHS: dict[str, type[ProbabilityPath]] = {
    "ot": OTPath,
    "vp": VPPath,
    "ve": VEPath,
    "cosine": CosinePath,
    "icfm": ICFMPath,
    "sb": SchrodingerBridgePath,
}


def make_path(name: str, **params: float) -> ProbabilityPath:
    """Build a path by name; parameters it does not take are a clear error, not ignored."""
    cls = PATHS.get(name)
    if cls is None:
        raise ValueError(f"unknown path '{name}'; choose one of {sorted(PATHS)}")
    allowed = set(cls.__dataclass_fields__)
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(
            f"path '{name}' takes {sorted(allowed) or 'no parameters'}, not {sorted(unknown)}"
        )
    return cls(**params)


__all__ = [
    "ALL_PATHS",
    "PATHS",
    "PRESETS",
    "T_EPS",
    "CosinePath",
    "ICFMPath",
    "OTPath",
    "ProbabilityPath",
    "SchrodingerBridgePath",
    "VEPath",
    "VPPath",
    "default_sigma_max",
    "make_path",
    "resolve_preset",
]
