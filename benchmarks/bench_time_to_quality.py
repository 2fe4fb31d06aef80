"""Time to quality: exact W2 to fresh checkerboard points against training seconds, per path.

Training time only (evaluation pauses the clock). W2 is measured on 2000 samples (rk4, 50 steps)
against 2000 fresh target points; two independent 2000-point draws of the target itself are
about 0.25 apart, the floor of this measure.

    python -m benchmarks.bench_time_to_quality [--seconds 45] [--every 9]
"""

from __future__ import annotations

import argparse

from benchmarks.common import emit
from fmstudio.core.config import TrainConfig
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.training import Trainer

PATHS = [("ot", {}), ("vp", {}), ("icfm", {}), ("otcfm", {}), ("otcfm", {"ot_refresh": 16})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="checkerboard")
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--every", type=float, default=9.0)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    results = []
    for path, extra in PATHS:
        trainer = Trainer(TrainConfig(dataset=args.dataset, path=path, steps=10**6, **extra))
        target = trainer.target(args.n, seed=4242)
        curve = []
        while trainer.elapsed < args.seconds:
            trainer.run(25)
            if trainer.elapsed >= (len(curve) + 1) * args.every or trainer.elapsed >= args.seconds:
                x = trainer.flow().sample(args.n, seed=1, method="rk4", steps=50).x
                curve.append(
                    {
                        "train_s": round(trainer.elapsed, 1),
                        "steps": trainer.step_count,
                        "w2": round(wasserstein2(x, target), 4),
                    }
                )
        name = path + "".join(f"_{k}{v}" for k, v in extra.items())
        results.append({"path": name, "curve": curve})
    floor = wasserstein2(trainer.target(args.n, seed=1), trainer.target(args.n, seed=2))
    emit("time_to_quality", {"dataset": args.dataset, "w2_floor": round(floor, 4), "runs": results})


if __name__ == "__main__":
    main()
