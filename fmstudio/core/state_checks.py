"""Checks of a saved training state against the model and optimizer rebuilt to receive it.

A resume hands tensors from a file to code that trusts their shapes: fused Adam writes its
moments in place with the parameter's size, so a 3-element `exp_avg` for a 256×256 weight was
an out-of-bounds write and a SIGSEGV, not an exception. Every tensor of the training state is
therefore checked here (name, shape, dtype, finiteness, range) before anything is loaded, and
the JSON optimizer settings are checked against the optimizer's own. Each failure is a
`CheckpointError` naming the file and the tensor.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch import Tensor

from fmstudio.core.errors import CheckpointError

ADAM_MOMENTS = ("exp_avg", "exp_avg_sq")


def check_tensor(
    tensors: dict[str, Tensor],
    key: str,
    path: str | os.PathLike,
    *,
    shape: tuple[int | None, ...],
    dtype: torch.dtype,
    finite: bool = True,
) -> Tensor:
    """`tensors[key]`, checked: its dims match `shape` (None: any size >= 1), its dtype is
    `dtype`, and a float tensor holds no NaN or inf when `finite`."""
    if key not in tensors:
        raise CheckpointError(path, f"'{key}' is missing")
    value = tensors[key]
    fits = value.dim() == len(shape) and all(
        (want is None and got >= 1) or got == want
        for want, got in zip(shape, value.shape, strict=True)
    )
    if not fits or value.dtype != dtype:
        want = "x".join("N" if v is None else str(v) for v in shape) or "a scalar"
        raise CheckpointError(
            path, f"'{key}' is {value.dtype} {tuple(value.shape)}, expected {dtype} {want}"
        )
    if finite and value.is_floating_point() and not torch.isfinite(value).all():
        raise CheckpointError(path, f"'{key}' holds NaN or inf")
    return value


def optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], path: str | os.PathLike
) -> dict[int, dict[str, Tensor]]:
    """The per-parameter Adam state (`optim.<index>.<name>` tensors), checked against the
    parameters it will be written beside: every parameter or none has a state; each state
    has exactly Adam's entries; moments match their parameter's shape and dtype, are finite,
    the second moment is >= 0; the step is a finite whole number >= 0."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    amsgrad = any(group.get("amsgrad") for group in optimizer.param_groups)
    names = {"step", *ADAM_MOMENTS, *(("max_exp_avg_sq",) if amsgrad else ())}
    per_param: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if not key.startswith("optim."):
            continue
        index_text, _, name = key[len("optim.") :].partition(".")
        if not index_text.isdigit() or int(index_text) >= len(params) or name not in names:
            raise CheckpointError(path, f"'{key}' is not a state of this model's optimizer")
        per_param.setdefault(int(index_text), {})[name] = value
    if per_param and len(per_param) != len(params):
        raise CheckpointError(
            path, f"optimizer state for {len(per_param)} of {len(params)} parameters"
        )
    for index, state in per_param.items():
        param = params[index]
        for name in sorted(names):
            key = f"optim.{index}.{name}"
            if name == "step":
                step = check_tensor(state, name, path, shape=(), dtype=torch.float32)
                if step.item() < 0 or step.item() != math.floor(step.item()):
                    raise CheckpointError(path, f"'{key}' is {step.item()}, not a step count")
                continue
            moment = check_tensor(state, name, path, shape=tuple(param.shape), dtype=param.dtype)
            if name != "exp_avg" and (moment < 0).any():
                raise CheckpointError(path, f"'{key}' (a second moment) holds negative values")
    return per_param


def param_groups(
    optimizer: torch.optim.Optimizer, groups: Any, path: str | os.PathLike
) -> list[dict[str, Any]]:
    """The optimizer settings from config.json, checked against the optimizer's own groups:
    the same count, the same keys, the same parameter indices, values of the same kinds
    (finite numbers where it has numbers)."""
    current = optimizer.state_dict()["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(current):
        raise CheckpointError(path, "optimizer settings are missing or do not match the model")
    for saved, ours in zip(groups, current, strict=True):
        if not isinstance(saved, dict) or set(saved) != set(ours):
            raise CheckpointError(path, "optimizer settings do not match this optimizer")
        if saved["params"] != ours["params"]:
            raise CheckpointError(path, "optimizer settings name other parameters")
        for key, value in ours.items():
            if not _same_kind(saved[key], value):
                raise CheckpointError(path, f"optimizer setting '{key}' is {saved[key]!r}")
    return groups


def _same_kind(saved: Any, ours: Any) -> bool:
    """JSON `saved` can stand for `ours`: bool for bool, a finite number for a number, a list
    of the same length for a tuple or list, equal for anything else (None, strings)."""
    if isinstance(ours, bool) or ours is None or isinstance(ours, str):
        return type(saved) is type(ours)
    if isinstance(ours, (int, float)):
        return (
            isinstance(saved, (int, float)) and not isinstance(saved, bool) and math.isfinite(saved)
        )
    if isinstance(ours, (list, tuple)):
        return (
            isinstance(saved, list)
            and len(saved) == len(ours)
            and all(_same_kind(s, o) for s, o in zip(saved, ours, strict=True))
        )
    return False
