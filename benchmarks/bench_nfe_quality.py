"""NFE vs quality for each solver, OT path vs VP path, on models trained the same way.

For each model and solver: W2 of 2000 samples to fresh target points, and the solver error
(mean distance to a reference solve of the same noise with dopri5 at 1e-7), against the NFE
actually spent. The paper reports that the OT path needs far fewer evaluations than diffusion
paths for the same quality; this measures it on checkerboard.

    python -m benchmarks.bench_nfe_quality [--steps 4000]
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import emit
from fmstudio.core.config import TrainConfig
from fmstudio.core.metrics import wasserstein2
from fmstudio.core.training import Trainer

FIXED = {
    "euler": [4, 8, 16, 32, 64, 128],
    "midpoint": [4, 8, 16, 32, 64, 128],
    "heun": [4, 8, 16, 32, 64, 128],
    "rk4": [4, 8, 16, 32, 64, 128],
}
ADAPTIVE = {m: [1e-2, 1e-3, 1e-4, 1e-5] for m in ("dopri5", "bosh3", "tsit5", "adaptive_heun")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="checkerboard")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--paths", default="ot,vp")
    args = parser.parse_args()
    results = []
    for path in args.paths.split(","):
        trainer = Trainer(TrainConfig(dataset=args.dataset, path=path, steps=args.steps))
        trainer.train()
        flow = trainer.flow()
        target = trainer.target(args.n, seed=4242)
        x0 = flow.prior(args.n, (2,), torch.Generator().manual_seed(7))
        ref = flow.sample(args.n, x0=x0, method="dopri5", atol=1e-7, rtol=1e-7).x
        rows = []
        runs = [(m, {"nfe": k}) for m, ks in FIXED.items() for k in ks]
        runs += [(m, {"atol": tol, "rtol": tol}) for m, tols in ADAPTIVE.items() for tol in tols]
        for method, kwargs in runs:
            try:
                res = flow.sample(args.n, x0=x0, method=method, **kwargs)
            except ValueError:
                continue  # a budget below one step of this method
            rows.append(
                {
                    "solver": method,
                    **kwargs,
                    "nfe": res.nfe,
                    "w2": round(wasserstein2(res.x, target), 4),
                    "solver_error": round(float((res.x - ref).norm(dim=1).mean()), 5),
                }
            )
        results.append(
            {
                "path": path,
                "train_s": round(trainer.elapsed, 1),
                "w2_reference": round(wasserstein2(ref, target), 4),
                "rows": rows,
            }
        )
    emit("nfe_quality", {"dataset": args.dataset, "models": results})


if __name__ == "__main__":
    main()
