"""Training throughput: fmstudio's Trainer vs the textbook CFM loop of the same model and batch.

Both run in this one process, alternating in rounds so that load on the machine hits both
alike. The plain loop is what a notebook would write: sample the dataset, draw noise and t,
form x_t = t x1 + (1 − t) x0, regress on x1 − x0 with Adam. The Trainer does the same update
plus EMA, gradient clipping, an LR schedule and a divergence check.

    python benchmarks/bench_throughput.py [--device cpu|cuda] [--seconds 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import emit
from fmstudio.core.config import TrainConfig
from fmstudio.core.data import make_preset
from fmstudio.core.models import MLP
from fmstudio.core.training import Trainer

CONFIGS = [(3, 256, 1024), (4, 512, 4096)]


def plain_loop(depth: int, hidden: int, batch: int, device: torch.device):
    """The textbook loop (torchcfm tutorial style), returned as a one-step closure."""
    torch.manual_seed(0)
    model = MLP(hidden=hidden, depth=depth).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    seed = iter(range(10**9))

    def step() -> None:
        x1 = torch.from_numpy(make_preset("checkerboard", batch, next(seed))).to(device)
        x0 = torch.randn_like(x1)
        t = torch.rand(batch, device=device)
        xt = t[:, None] * x1 + (1 - t[:, None]) * x0
        loss = ((model(xt, t) - (x1 - x0)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def trainer_step(depth: int, hidden: int, batch: int, device: str):
    config = TrainConfig(
        dataset="checkerboard",
        path="ot",
        depth=depth,
        hidden=hidden,
        batch_size=batch,
        steps=10**9,
        device=device,
        seed=0,
    )
    trainer = Trainer(config)
    return trainer.step


def measure(step, seconds: float) -> float:
    """Steps per second of `step` over about `seconds` (after a short warm-up)."""
    for _ in range(5):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=6.0, help="per round and contender")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = []
    for depth, hidden, batch in CONFIGS:
        plain = plain_loop(depth, hidden, batch, torch.device(args.device))
        ours = trainer_step(depth, hidden, batch, args.device)
        rates: dict[str, list[float]] = {"plain": [], "fmstudio": []}
        for _ in range(args.rounds):
            rates["plain"].append(measure(plain, args.seconds))
            rates["fmstudio"].append(measure(ours, args.seconds))
        p, f = np.median(rates["plain"]), np.median(rates["fmstudio"])
        results.append(
            {
                "model": f"{depth}x{hidden}",
                "batch": batch,
                "device": args.device,
                "plain_steps_per_s": round(float(p), 2),
                "fmstudio_steps_per_s": round(float(f), 2),
                "speedup": round(float(f / p), 3),
                "rounds": rates,
            }
        )
    emit("throughput", results)


if __name__ == "__main__":
    main()
