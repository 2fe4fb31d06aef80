"""W2 vs NFE and the flow table for ot, vp, icfm and otcfm on a 2-D target (issue 4).

Same target, seed, model (3×256) and steps for every path; interleaved training; W2 of 2000
samples to 2000 fresh target points from the same noise for each solver setting.

python -m benchmarks.bench_compare --dataset checkerboard --steps 4000
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import emit
from fmstudio.core.compare_paths import compare
from fmstudio.core.config import TrainConfig
from fmstudio.core.config_text import parse_configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="checkerboard")
    parser.add_argument("--paths", default="ot,vp,icfm,otcfm")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    base = TrainConfig(dataset=args.dataset, steps=args.steps, device="cpu")
    start = time.perf_counter()
    _, ladder, table = compare(parse_configs(args.paths, base), n=args.n)
    emit(
        "compare",
        {
            "dataset": args.dataset,
            "steps": args.steps,
            "seconds": time.perf_counter() - start,
            "w2_vs_nfe": ladder,
            "table": table,
        },
    )


if __name__ == "__main__":
    main()
