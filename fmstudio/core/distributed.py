"""Data-parallel training under `torchrun`: one process per GPU (NCCL) or per CPU worker (gloo).

`torchrun --nproc_per_node=N -m fmstudio train ...` starts N copies of the same command with
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in their environment. `from_env` reads
them and joins the process group; the Trainer then wraps its model in DistributedDataParallel,
so every step averages the gradients of all ranks and the weights stay identical everywhere.
Without torchrun (or with one process) `from_env` returns None and nothing here runs.

A rank that waits in a collective (DDP's gradient all-reduce in `backward`, the loss's mean, a
barrier) for a peer gives up after `timeout_s` seconds, `DEFAULT_TIMEOUT_S` unless
`FMSTUDIO_DIST_TIMEOUT` says otherwise (torch's own default is 30 minutes for gloo, 10 for NCCL).
It bounds how long one rank may lag behind the others, not how long a step may take: every rank
does the same work per step, but rank 0 alone writes checkpoints, so the others wait that long in
the next step. Measured with gloo on torch 2.13: a peer that was killed fails the collective at
once ("Connection closed by peer"), one that stalls (SIGSTOP, a hang) after exactly the timeout.
`lost_peer` turns those failures into one line. With NCCL, torch's watchdog tears the process
down on a timeout instead (TORCH_NCCL_ASYNC_ERROR_HANDLING=3, its default; not tried here): no
save then, the last periodic checkpoint stands.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

DEFAULT_TIMEOUT_S = 60.0
"""Seconds a rank waits in a collective for its peers: long enough for rank 0's checkpoint save
(which the others wait out in their next step), short enough that a stalled rank ends the run
within a minute rather than after torch's default of 30 (gloo)."""
TIMEOUT_ENV = "FMSTUDIO_DIST_TIMEOUT"
"""Environment variable that overrides `DEFAULT_TIMEOUT_S` (seconds, e.g. 300 for a slow disk)."""
_TRANSPORT_MARKER = "gloo/transport/"
"""Where gloo's peer I/O errors come from (it raises a plain RuntimeError): a closed or reset
connection, or 'Timed out waiting ...' for a peer's data."""


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a data-parallel run and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, metrics and progress, so files are written once."""
        return self.rank == 0


def from_env(device: str = "auto") -> DistContext | None:
    """The run's context when launched by torchrun with WORLD_SIZE > 1, else None.

    Joins the process group once, with the timeout of `FMSTUDIO_DIST_TIMEOUT` (see the module
    docstring): NCCL when training on CUDA (each process on cuda:LOCAL_RANK), gloo on the CPU.
    MPS has no collective backend, so `auto` means CUDA or the CPU here. Raises RuntimeError
    for a setup that cannot work.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return None
    rank = _env_int("RANK", None)
    local_rank = _env_int("LOCAL_RANK", rank)
    if not 0 <= rank < world_size or not 0 <= local_rank < world_size:
        raise RuntimeError(f"RANK {rank} / LOCAL_RANK {local_rank} outside WORLD_SIZE {world_size}")
    resolved = _rank_device(device, local_rank)
    timeout_s = _timeout_s()
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return DistContext(rank, world_size, local_rank, resolved, timeout_s)


def _timeout_s() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    if value is None:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise RuntimeError(f"{TIMEOUT_ENV}={value!r} must be a number of seconds > 0")
    return seconds


def _env_int(name: str, default: int | None) -> int:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise RuntimeError(f"WORLD_SIZE is set but {name} is not: start the run with torchrun")
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"environment variable {name}={value!r} is not an integer") from None


def _rank_device(device: str, local_rank: int) -> torch.device:
    """cuda:LOCAL_RANK or cpu: one GPU per process, chosen by torchrun, not by the flag."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    kind = torch.device(device)
    if kind.type == "cpu":
        return kind
    if kind.type != "cuda":
        raise RuntimeError(f"distributed training runs on cuda or cpu, not '{device}'")
    if kind.index is not None:
        raise RuntimeError(
            f"under torchrun each process trains on cuda:LOCAL_RANK; pass --device cuda or "
            f"auto, not '{device}' (choose GPUs with CUDA_VISIBLE_DEVICES)"
        )
    if not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' was asked for but CUDA is not available")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise RuntimeError(
            f"local rank {local_rank} needs GPU {local_rank} but {count} GPU(s) are visible: "
            f"start at most {count} processes per node, or train with --device cpu"
        )
    return torch.device("cuda", local_rank)


def lost_peer(exc: BaseException, ctx: DistContext) -> str | None:
    """How this rank lost a peer, as the start of a sentence ("rank 1 stopped responding (no
    reply in 60 s)"), when `exc` is a collective's failure for that reason; else None.

    gloo does not say which rank failed, only its address; with two ranks it can only be the
    other one.
    """
    message = str(exc)
    if not isinstance(exc, dist.DistError) and _TRANSPORT_MARKER not in message:
        return None
    peer = f"rank {1 - ctx.rank}" if ctx.world_size == 2 else "another rank"
    if "Timed out" in message or "timed out" in message:
        return f"{peer} stopped responding (no reply in {ctx.timeout_s:g} s)"
    if "closed" in message or "reset" in message:
        return f"{peer} exited or crashed (its connection closed)"
    reason = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return f"lost contact with {peer} ({reason})"


def mean_over_ranks(value: Tensor) -> Tensor:
    """The mean of a tensor over all ranks, the same on every rank (gloo has no AVG op)."""
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def broadcast_from_main(value: Any) -> Any:
    """Rank 0's value of a small picklable object, on every rank."""
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(ctx: DistContext | None) -> None:
    """Wait for every rank (no-op without a process group)."""
    if ctx is None or not dist.is_initialized():
        return
    if ctx.device.type == "cuda":  # NCCL needs the device, or it guesses and warns
        dist.barrier(device_ids=[ctx.local_rank])
    else:
        dist.barrier()


def shutdown(ctx: DistContext | None) -> None:
    """Leave the process group, so the process exits without NCCL/gloo warnings."""
    if ctx is not None and dist.is_initialized():
        dist.destroy_process_group()
