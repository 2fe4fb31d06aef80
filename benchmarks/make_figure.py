"""Render the README figure of a trained run: target, samples and trajectories (PIL only).

python -m benchmarks.make_figure runs/cb assets/readme/checkerboard.png
"""

from __future__ import annotations

import argparse

import torch

from fmstudio.core import figure, io
from fmstudio.core.evaluate import held_out_target

EXTENT = 4.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run")
    parser.add_argument("out")
    args = parser.parse_args()
    flow = io.load_flow(args.run)
    target = held_out_target(args.run, 5000, seed=1).numpy()
    samples = flow.sample(5000, seed=2, method="rk4", steps=50).x.numpy()
    times = torch.linspace(flow.path.t_min, flow.path.t_max, 41)
    traj = flow.sample(300, seed=3, method="rk4", steps=40, t_eval=times).trajectory.numpy()
    panels = [
        figure.scatter(target, "target: 5000 fresh points", (30, 30, 30), EXTENT),
        figure.scatter(samples, "model samples (rk4, 50 steps)", (200, 50, 40), EXTENT),
        figure.trajectories(traj, "trajectories: noise (black) -> data (red)", EXTENT),
    ]
    figure.row(panels).save(args.out)


if __name__ == "__main__":
    main()
