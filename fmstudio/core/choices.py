"""The named choices a run is made of, each with one line of help: couplings, activations,
optimizers, learning-rate schedules, U-Net sizes and devices.

Only names and words live here (no torch), so the settings schema, `fmstudio --help` and the
window can list them without importing what implements them; the modules that implement each
choice (couplings.py, models/mlp.py, training.py, config.py) key their tables by these names,
and tests check that the two agree.
"""

from __future__ import annotations

from fmstudio.core.schema import Choice

COUPLINGS: tuple[Choice, ...] = (
    Choice("independent", "independent", "Random pairs q(x0)·q(x1): the paper's setting."),
    Choice(
        "ot",
        "ot",
        "Exact optimal transport within each minibatch (assignment on squared distances): "
        "straighter flows that need fewer solver steps, but slower training steps.",
    ),
    Choice(
        "sinkhorn",
        "sinkhorn",
        "Entropic OT (Sinkhorn) with regularization 2σ² (σ of the path; 1 if it has none or "
        "σ = 0); pairs drawn from the plan.",
    ),
)

ACTIVATIONS: tuple[Choice, ...] = (
    Choice("silu", "SiLU", "Smooth: the field stays differentiable, which exact likelihoods need."),
    Choice("relu", "ReLU", "Piecewise linear: a kinked field, offered for comparison."),
    Choice("gelu", "GELU", "Smooth, like SiLU."),
    Choice("tanh", "tanh", "Smooth and bounded; learns sharp targets slowly."),
    Choice("softplus", "softplus", "Smooth ReLU."),
)

OPTIMIZERS: tuple[Choice, ...] = (
    Choice("adam", "Adam", "Adam; weight decay, if any, is added to the gradient (L2)."),
    Choice("adamw", "AdamW", "Adam with decoupled weight decay (Loshchilov & Hutter)."),
)

SCHEDULES: tuple[Choice, ...] = (
    Choice("constant", "constant", "The peak learning rate to the last step."),
    Choice("cosine", "cosine", "A cosine decay from the peak to 0 at the last step."),
    Choice("linear", "linear", "A linear decay from the peak to 0 at the last step."),
)

UNET_SIZES: tuple[Choice, ...] = (
    Choice("tiny", "tiny", "32 base channels, 2 levels: 8×8 digits on a laptop CPU in minutes."),
    Choice("small", "small", "64 base channels, 3 levels: 28×28 on a GPU or a patient CPU."),
    Choice("base", "base", "128 base channels, 4 levels: 32×32 RGB, on a GPU."),
)

DEVICES: tuple[Choice, ...] = (
    Choice("auto", "auto", "A GPU when there is one (cuda, then mps), else the CPU."),
    Choice("cpu", "cpu", "The CPU, with all cores but one."),
    Choice("cuda", "cuda", "The first CUDA GPU (cuda:N picks another)."),
    Choice("mps", "mps", "Apple's Metal GPU."),
)


def names(choices: tuple[Choice, ...]) -> tuple[str, ...]:
    return tuple(c.value for c in choices)
