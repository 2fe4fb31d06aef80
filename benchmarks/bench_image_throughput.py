"""Image training throughput (images/s) of the Trainer, with and without mixed precision.

Random images stand in for the data (throughput does not depend on what the pixels show):
8×8 grayscale with the tiny U-Net (the digits default), 28×28 grayscale with the small one
(MNIST-sized) and 32×32 RGB with the base one (CIFAR-sized). On a GPU each runs with bf16
autocast + channels-last (the default) and in plain fp32 (`amp=False`); on a CPU fp32 only
(autocast is GPU-only in the Trainer).

python -m benchmarks.bench_image_throughput [--seconds 10] [--device auto]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from benchmarks.common import emit
from fmstudio.core.config import TrainConfig
from fmstudio.core.data.images import ImageDataset
from fmstudio.core.training import Trainer, resolve_device

CASES = (
    ("digits 8×8, tiny", (1, 8, 8), "tiny", 128),
    ("MNIST 28×28, small", (1, 28, 28), "small", 128),
    ("CIFAR 32×32×3, base", (3, 32, 32), "base", 128),
)


def images_per_second(shape, unet: str, batch: int, device: str, amp: bool, seconds: float):
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, size=(2048, *shape)).astype(np.float32)
    dataset = ImageDataset(data, name="random")
    config = TrainConfig(
        dataset="digits", unet=unet, batch_size=batch, steps=10**9, device=device, amp=amp
    )
    trainer = Trainer(config, dataset=dataset)
    trainer.run(5)  # warm-up: kernels chosen, optimizer built
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        trainer.run(10)
        steps += 10
    sync()
    return round(steps * batch / (time.perf_counter() - start), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cases", type=int, default=len(CASES), help="the first N cases only")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    rows = []
    for name, shape, unet, batch in CASES[: args.cases]:
        row = {"case": name, "batch": batch, "device": device}
        row["fp32"] = images_per_second(shape, unet, batch, device, False, args.seconds)
        if device.startswith("cuda"):
            row["bf16_channels_last"] = images_per_second(
                shape, unet, batch, device, True, args.seconds
            )
        rows.append(row)
        print(row, file=sys.stderr, flush=True)  # stdout is the JSON alone
    emit("image_throughput", rows)


if __name__ == "__main__":
    main()
