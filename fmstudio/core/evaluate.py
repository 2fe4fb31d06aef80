"""One report of a trained model's quality: what `fmstudio eval` prints and benchmarks record.

W2 against fresh target points (never the training pool), NLL of held-out points by the
instantaneous change of variables, the NFE the solver spent, and how straight the learned
trajectories are. Compare runs by these, not by their loss.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from fmstudio.core import io, run_dir
from fmstudio.core.data import DatasetError
from fmstudio.core.flow import FlowModel, nll_nats
from fmstudio.core.likelihood import bits_per_dim
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.metrics_flow import straightness
from fmstudio.core.progress import Progress, silent
from fmstudio.core.solver_spec import DEFAULT_SOLVER, SolverSpec


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
        state_path = run_dir.locate(directory, io.STATE_FILE)
        pool = io.read_tensors(state_path, header.get("generation"))["data.pool"]
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
    progress: Progress | None = None,
    solver: SolverSpec = DEFAULT_SOLVER,
) -> dict[str, float | int]:
    """W2 (exact OT), NLL (nats, mean over `nll_n` target points), NFE, straightness.

    `progress(phase)` is called as each phase starts (the CLI prints them: at the defaults the
    whole report takes a minute or more on a CPU)."""
    phase = progress or silent
    phase(f"sampling {n} points")
    start = time.perf_counter()
    result = flow.sample(n, tuple(target.shape[1:]), seed=seed, solver=solver)
    sample_s = time.perf_counter() - start
    samples = result.x.detach().cpu()
    if not torch.isfinite(samples).all():
        raise FloatingPointError("the model's samples are not finite")
    phase(f"W2 to {len(target[:n])} fresh target points (exact OT)")
    w2 = wasserstein2(samples, target[:n])
    phase(f"NLL of {len(target[:nll_n])} held-out points")
    nll = nll_nats(flow.log_likelihood(target[:nll_n], seed=seed))
    gen = torch.Generator(device=flow.device).manual_seed(seed + 1)
    x0 = flow.prior(min(n, 1000), tuple(target.shape[1:]), gen)
    phase(f"straightness of {len(x0)} trajectories ({straightness_steps} steps)")
    span = (flow.path.t_min, flow.path.t_max)
    return {
        "w2": w2,
        "nll": nll,
        "nfe": result.nfe,
        "straightness": straightness(flow.model, x0, steps=straightness_steps, span=span),
        "sample_s": round(sample_s, 3),
    }


def image_bits_per_dim(
    flow: FlowModel,
    images: torch.Tensor,
    levels: int,
    *,
    seed: int = 0,
    solver: SolverSpec = DEFAULT_SOLVER,
) -> float:
    """Mean bits/dim of held-out images (uniformly dequantized) under the flow.

    Pixel level k sits at x_k = −1 + 2k/(levels − 1): a bin of width w = 2/(levels − 1) in
    model space, so x_k + (u − ½)·w with u ~ U[0, 1) is the dequantized pixel, and
    `likelihood.bits_per_dim` turns the model's log-density into the bound on bits/dim. The
    divergence of an image model is estimated (Hutchinson), so this is an unbiased estimate.
    """
    width = 2.0 / (levels - 1)
    gen = torch.Generator().manual_seed(seed)
    noise = (torch.rand(images.shape, generator=gen) - 0.5).to(images.device)
    result = flow.log_likelihood(images + noise * width, seed=seed, solver=solver)
    bpd = bits_per_dim(result.logp.float().cpu(), images[0].numel(), width)
    value = float(bpd.mean())
    if not np.isfinite(value):
        raise FloatingPointError("bits/dim is not finite")
    return value


def evaluate_images(
    directory: str | os.PathLike,
    *,
    n: int = 64,
    nll_n: int = 128,
    seed: int = 12345,
    device: str = "cpu",
    progress: Progress | None = None,
    solver: SolverSpec = DEFAULT_SOLVER,
) -> dict[str, float | int]:
    """The report of an image run: bits/dim of `nll_n` held-out images and the NFE and time
    one batch of `n` samples takes, both with the given solver; `progress` as in
    `evaluate_flow`."""
    from fmstudio.core.training import split_images

    phase = progress or silent
    phase("loading the model and the held-out images")
    config = io.read_header(directory)["config"]
    flow = io.load_flow(directory, device=device)
    _, held_out = split_images(config.make_dataset(), config.held_out, config.seed)  # training's
    held = torch.from_numpy(held_out.images[:nll_n]).to(device)
    # the same solver for the likelihood; a fixed-step budget becomes the same steps
    likelihood = solver if solver.adaptive else SolverSpec.fixed(solver.method, solver.fixed_steps)
    phase(f"sampling {n} images")
    start = time.perf_counter()
    result = flow.sample(n, seed=seed, solver=solver)
    sample_s = time.perf_counter() - start
    if not torch.isfinite(result.x).all():
        raise FloatingPointError("the model's samples are not finite")
    phase(f"bits/dim of {len(held)} held-out images")
    return {
        "bits_per_dim": image_bits_per_dim(
            flow, held, held_out.levels, seed=seed, solver=likelihood
        ),
        "nfe": result.nfe,
        "sample_s": round(sample_s, 3),
        "held_out": len(held),
    }


def evaluate(
    directory: str | os.PathLike,
    *,
    n: int = 5000,
    nll_n: int = 1000,
    seed: int = 12345,
    device: str = "cpu",
    progress: Progress | None = None,
    solver: SolverSpec = DEFAULT_SOLVER,
) -> dict[str, float | int]:
    """The report for a run directory; the target is drawn fresh with `seed`; `progress` as in
    `evaluate_flow`."""
    phase = progress or silent
    phase("loading the model and fresh target points")
    flow = io.load_flow(directory, device=device)
    target = held_out_target(directory, n, seed)
    return evaluate_flow(flow, target, n=n, nll_n=nll_n, seed=seed, progress=phase, solver=solver)
