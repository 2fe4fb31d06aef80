"""One report of a trained model's quality: what `fmstudio eval` prints and benchmarks record.

W2 against fresh target points (never the training pool), NLL of held-out points by the
instantaneous change of variables, the NFE the solver spent, and how straight the learned
trajectories are. Compare runs by these, not by their loss.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from fmstudio.core import io
from fmstudio.core.data import DatasetError
from fmstudio.core.flow import FlowModel, nll_nats
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.metrics_flow import straightness


def held_out_target(directory: str | os.PathLike, n: int, seed: int) -> torch.Tensor:
    """Fresh target points for a run: its dataset redrawn with `seed`.

    When the dataset was a file that is gone, the run's own data pool stands in (a random
    subset, so still points the model was fitted on: the report says which was used).
    """
    header = io.read_header(directory)
    config = header["config"]
    rng = np.random.default_rng(seed)
    try:
        points = config.make_dataset().sample(n, rng)
    except DatasetError:
        pool = io.read_tensors(os.path.join(directory, io.STATE_FILE))["data.pool"]
        points = pool[rng.choice(len(pool), size=min(n, len(pool)), replace=False)].numpy()
    return torch.from_numpy(np.asarray(points, dtype=np.float32))


def evaluate_flow(
    flow: FlowModel,
    target: torch.Tensor,
    *,
    n: int,
    nll_n: int,
    seed: int,
    straightness_steps: int = 100,
    **solver: Any,
) -> dict[str, float | int]:
    """W2 (exact OT), NLL (nats, mean over `nll_n` target points), NFE, straightness."""
    start = time.perf_counter()
    result = flow.sample(n, tuple(target.shape[1:]), seed=seed, **solver)
    sample_s = time.perf_counter() - start
    samples = result.x.detach().cpu()
    if not torch.isfinite(samples).all():
        raise FloatingPointError("the model's samples are not finite")
    nll = nll_nats(flow.log_likelihood(target[:nll_n], seed=seed))
    gen = torch.Generator(device=flow.device).manual_seed(seed + 1)
    x0 = flow.prior(min(n, 1000), tuple(target.shape[1:]), gen)
    return {
        "w2": wasserstein2(samples, target[:n]),
        "nll": nll,
        "nfe": result.nfe,
        "straightness": straightness(
            flow.model, x0, steps=straightness_steps, span=(flow.path.t_min, flow.path.t_max)
        ),
        "sample_s": round(sample_s, 3),
    }


def evaluate(
    directory: str | os.PathLike,
    *,
    n: int = 5000,
    nll_n: int = 1000,
    seed: int = 12345,
    device: str = "cpu",
    **solver: Any,
) -> dict[str, float | int]:
    """The report for a run directory; the target is drawn fresh with `seed`."""
    flow = io.load_flow(directory, device=device)
    target = held_out_target(directory, n, seed)
    return evaluate_flow(flow, target, n=n, nll_n=nll_n, seed=seed, **solver)
