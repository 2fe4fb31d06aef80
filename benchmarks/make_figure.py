"""Render the README figure of a trained run: target, samples and trajectories (PIL only).

python -m benchmarks.make_figure runs/cb assets/readme/checkerboard.png
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw

from fmstudio.core import io
from fmstudio.core.evaluate import held_out_target

SIZE = 360
EXTENT = 4.5


def to_pixels(points: np.ndarray) -> np.ndarray:
    scaled = (points + EXTENT) / (2 * EXTENT) * SIZE
    return np.stack([scaled[:, 0], SIZE - scaled[:, 1]], axis=1)


def panel(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (SIZE, SIZE + 24), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, SIZE + 6), title, fill="black")
    draw.rectangle([0, 0, SIZE - 1, SIZE - 1], outline=(200, 200, 200))
    return image, draw


def scatter(points: np.ndarray, title: str, color: tuple[int, int, int]) -> Image.Image:
    image, draw = panel(title)
    for x, y in to_pixels(points):
        draw.point((x, y), fill=color)
    return image


def trajectories(traj: np.ndarray, title: str) -> Image.Image:
    image, draw = panel(title)
    for k in range(traj.shape[1]):
        line = [tuple(p) for p in to_pixels(traj[:, k])]
        draw.line(line, fill=(120, 150, 220), width=1)
    for x, y in to_pixels(traj[0]):
        draw.point((x, y), fill=(40, 40, 40))
    for x, y in to_pixels(traj[-1]):
        draw.rectangle([x - 1, y - 1, x + 1, y + 1], fill=(220, 60, 40))
    return image


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
        scatter(target, "target: 5000 fresh points", (30, 30, 30)),
        scatter(samples, "model samples (rk4, 50 steps)", (200, 50, 40)),
        trajectories(traj, "trajectories: noise (black) -> data (red)"),
    ]
    figure = Image.new("RGB", (3 * SIZE + 20, SIZE + 24), "white")
    for i, p in enumerate(panels):
        figure.paste(p, (i * (SIZE + 10), 0))
    figure.save(args.out)


if __name__ == "__main__":
    main()
