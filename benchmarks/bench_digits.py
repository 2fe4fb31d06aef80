"""Digits on a CPU: how soon do generated samples look like digits? (issue 5)

Trains the image mode's default run (8×8 digits, tiny U-Net, OT path) on this machine and, at
fixed wall-clock marks, samples 500 images (midpoint, 16 steps, 32 NFE) and scores them with a
classifier trained on real digits (scikit-learn's MLP on the 1797 images minus the held-out
ones):
- accuracy of the classifier on held-out *real* digits (what "recognisable" can mean at best),
- its mean top-class confidence on generated samples (a blob gets low confidence),
- the share of generated samples it calls with confidence > 0.9,
- how evenly the samples cover the ten classes (entropy of the predicted labels, bits; 3.32 is
  uniform),
- the Fréchet distance between generated and held-out real digits in the classifier's hidden
  features (FD; real training digits against held-out ones give the floor),
- bits/dim of the held-out images (dopri5 1e-5, Hutchinson).

python -m benchmarks.bench_digits [--minutes 4] [--marks 0.5,1,2,4]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from scipy import linalg
from sklearn.neural_network import MLPClassifier

from benchmarks.common import emit
from fmstudio.app.images import DEFAULT_CONFIG
from fmstudio.core.evaluate import image_bits_per_dim
from fmstudio.core.training import Trainer

SAMPLES = 500


def features(classifier: MLPClassifier, images: np.ndarray) -> np.ndarray:
    """The classifier's hidden-layer activations (ReLU), the space FD is measured in."""
    x = images.reshape(len(images), -1)
    return np.maximum(x @ classifier.coefs_[0] + classifier.intercepts_[0], 0.0)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def score(classifier: MLPClassifier, images: np.ndarray, real: np.ndarray) -> dict:
    probs = classifier.predict_proba(images.reshape(len(images), -1))
    top = probs.max(axis=1)
    counts = np.bincount(probs.argmax(axis=1), minlength=10) / len(probs)
    entropy = -(counts[counts > 0] * np.log2(counts[counts > 0])).sum()
    return {
        "confidence": round(float(top.mean()), 3),
        "confident_share": round(float((top > 0.9).mean()), 3),
        "class_entropy_bits": round(float(entropy), 3),
        "fd": round(frechet(features(classifier, images), features(classifier, real)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--marks", default="0.5,1,2,4", help="minutes at which to score")
    args = parser.parse_args()
    marks = sorted(float(m) for m in args.marks.split(","))
    config = dataclasses.replace(DEFAULT_CONFIG, device="cpu", steps=1_000_000)
    trainer = Trainer(config)
    train = trainer.images
    real = trainer.held_out.images
    classifier = MLPClassifier(hidden_layer_sizes=(128,), max_iter=600, random_state=0)
    classifier.fit(train.images.reshape(len(train), -1), train.labels)
    accuracy = classifier.score(real.reshape(len(real), -1), trainer.held_out.labels)
    floor = frechet(features(classifier, train.images), features(classifier, real))
    rows = []
    clock = 0.0
    for mark in [0.0, *marks]:
        while clock < mark * 60:
            start = time.perf_counter()
            trainer.run(50)
            clock += time.perf_counter() - start
        flow = trainer.flow()
        samples = flow.sample(SAMPLES, seed=1, method="midpoint", steps=16).x.numpy()
        row = {"minutes": mark, "step": trainer.step_count, **score(classifier, samples, real)}
        held = torch.from_numpy(real[:128])
        row["bits_per_dim"] = round(image_bits_per_dim(flow, held, trainer.held_out.levels), 3)
        rows.append(row)
        print(row, flush=True)
    emit(
        "digits",
        {
            "config": {k: v for k, v in config.to_dict().items() if k != "steps"},
            "classifier_accuracy_on_real": round(float(accuracy), 3),
            "real_confidence": score(classifier, real, train.images)["confidence"],
            "fd_floor_train_vs_held_out": round(floor, 2),
            "steps_per_s": round(trainer.step_count / trainer.elapsed, 1),
            "marks": rows,
        },
    )


if __name__ == "__main__":
    main()
