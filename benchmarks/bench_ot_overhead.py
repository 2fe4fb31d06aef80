"""Minibatch-OT overhead: otcfm steps/s ÷ icfm steps/s at the same model and batch.

Exact OT of a 1024 × 1024 minibatch (POT network simplex) costs far more than one step of a
3×256 MLP on a CPU; `ot_refresh = k` reuses each coupled minibatch for k steps. Reported for
several k so the trade is visible; the time-to-quality benchmark shows what it costs in W2.

    python -m benchmarks.bench_ot_overhead [--batch 1024] [--seconds 8]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.bench_throughput import measure
from benchmarks.common import emit
from fmstudio.core.config import TrainConfig
from fmstudio.core.training import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--refresh", default="1,4,16,32")
    args = parser.parse_args()
    common = {"batch_size": args.batch, "steps": 10**9, "device": args.device}
    contenders = {"icfm": Trainer(TrainConfig(path="icfm", **common)).step}
    for k in map(int, args.refresh.split(",")):
        contenders[f"otcfm_refresh{k}"] = Trainer(
            TrainConfig(path="otcfm", ot_refresh=k, **common)
        ).step
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, step in contenders.items():
            rates[name].append(measure(step, args.seconds))
    icfm = float(np.median(rates["icfm"]))
    results = {
        "batch": args.batch,
        "icfm_steps_per_s": round(icfm, 2),
        "ratios": {
            name: round(float(np.median(r)) / icfm, 3)
            for name, r in rates.items()
            if name != "icfm"
        },
        "steps_per_s": {name: [round(x, 2) for x in r] for name, r in rates.items()},
    }
    emit("ot_overhead", results)


if __name__ == "__main__":
    main()
