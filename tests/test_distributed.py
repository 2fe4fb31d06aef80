"""Data-parallel training under torchrun, run for real: two CPU processes talking over gloo."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from fmstudio.cli import main
from fmstudio.core import distributed
from fmstudio.core.config import TrainConfig
from fmstudio.core.training import DivergenceError, Trainer, draw_pool

WORLD = 2
TIMEOUT = 120
CONFIGS = {
    "moons": {"dataset": "moons", "hidden": 32, "depth": 2, "batch_size": 64, "steps": 5},
    "digits": {"dataset": "digits", "unet": "tiny", "batch_size": 16, "steps": 3, "held_out": 64},
}
"""Trained by the same two processes, one after the other (each start of one costs seconds)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    """One rank of a two-process run over gloo: train every config in `CONFIGS`."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
    )
    torch.set_num_threads(1)
    ctx = distributed.from_env("cpu")
    try:
        for name, config in CONFIGS.items():
            _train(ctx, TrainConfig(**config, device="cpu"), f"{out}/{name}-rank{rank}.safetensors")
    finally:
        distributed.shutdown(ctx)


def _train(ctx: distributed.DistContext, config: TrainConfig, path: str) -> None:
    """Train a few steps, save the weights and data, then make rank 1 alone diverge."""
    trainer = Trainer(config, dist=ctx)
    tensors = {f"init.{k}": v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    tensors |= {f"model.{k}": v.clone() for k, v in trainer.model.state_dict().items()}
    tensors |= {f"ema.{k}": v.clone() for k, v in trainer.ema.model.state_dict().items()}
    tensors["pool"] = trainer.pool[:4096].clone()
    tensors["pool_size"] = torch.tensor(len(trainer.pool))
    tensors["losses"] = torch.tensor(trainer.losses, dtype=torch.float64)
    if ctx.rank == 1:  # only this rank's loss turns NaN: every rank must stop, none may hang
        trainer.pool.fill_(float("nan"))
    trainer.config.steps += 1
    try:
        trainer.step()
        tensors["diverged_at"] = torch.tensor(-1)
    except DivergenceError as exc:
        tensors["diverged_at"] = torch.tensor(exc.step)
    tensors |= {f"after.{k}": v.clone() for k, v in trainer.model.state_dict().items()}
    save_file(tensors, path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, list[dict[str, torch.Tensor]]]:
    """Each config's saved tensors, one dict per rank."""
    out = tmp_path_factory.mktemp("ranks")
    mp.spawn(_worker, args=(free_port(), str(out)), nprocs=WORLD, join=True)
    return {
        name: [load_file(out / f"{name}-rank{r}.safetensors") for r in range(WORLD)]
        for name in CONFIGS
    }


def _with(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def assert_same_weights_that_trained(ranks: list[dict[str, torch.Tensor]]) -> None:
    first, second = ranks
    for prefix in ("init.", "model.", "ema.", "after."):
        a, b = _with(prefix, first), _with(prefix, second)
        assert a.keys() == b.keys() and a
        assert all(torch.equal(a[k], b[k]) for k in a), f"the ranks' {prefix} weights differ"
    init, model = _with("init.", first), _with("model.", first)
    assert any(not torch.equal(init[k], model[k]) for k in init), "the weights did not train"
    assert torch.equal(first["losses"], second["losses"])  # the mean over ranks, on both
    assert all(np.isfinite(first["losses"].numpy()))
    # rank 1 alone had a NaN loss; both ranks raised at the same step and kept their weights
    assert int(first["diverged_at"]) == int(second["diverged_at"]) == len(first["losses"]) + 1
    after = _with("after.", first)
    assert all(torch.equal(after[k], model[k]) for k in model)


def test_two_cpu_ranks_train_the_same_weights_on_different_points(runs):
    ranks = runs["moons"]
    assert_same_weights_that_trained(ranks)
    assert not torch.equal(ranks[0]["pool"], ranks[1]["pool"])
    # rank 0 draws what a single process draws, so one-process runs are unchanged
    alone = draw_pool(TrainConfig(**CONFIGS["moons"]).make_dataset(), None, seed=0)
    assert torch.equal(ranks[0]["pool"], alone[:4096])


def test_two_cpu_ranks_split_the_training_images(runs):
    ranks = runs["digits"]
    assert_same_weights_that_trained(ranks)
    alone = Trainer(TrainConfig(**CONFIGS["digits"], device="cpu")).pool
    assert int(ranks[0]["pool_size"]) + int(ranks[1]["pool_size"]) == len(alone)
    assert torch.equal(ranks[0]["pool"], alone[0::2][:4096])
    assert torch.equal(ranks[1]["pool"], alone[1::2][:4096])


def torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={WORLD}"]
    command += [f"--master_port={free_port()}", "-m", "fmstudio", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)


def test_torchrun_train_writes_once_samples_and_resumes(tmp_path):
    out = tmp_path / "run"
    tiny = ["--hidden", "32", "--depth", "2", "--batch-size", "64", "--device", "cpu"]
    result = torchrun("--dataset", "moons", "--steps", "20", "--log-every", "5", *tiny,
                      "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("trained 20 steps") == 1
    assert {"model.safetensors", "config.json", "metrics.jsonl"} <= set(os.listdir(out))
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]

    samples = tmp_path / "x.npy"
    assert main(["sample", str(out), "--n", "10", "--out", str(samples)]) == 0
    points = np.load(samples)
    assert points.shape == (10, 2) and np.isfinite(points).all()

    result = torchrun("--resume", str(out), "--steps", "30", "--log-every", "5", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("resuming") == 1
    assert json.loads((out / "config.json").read_text())["step"] == 30
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]


def test_no_torchrun_means_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.from_env("cpu") is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.from_env("auto") is None


@pytest.mark.parametrize(
    ("device", "message"),
    [("mps", "not 'mps'"), ("cuda:1", "pass --device cuda"), ("cuda", "CUDA is not available|GPU")],
)
def test_impossible_setups_are_one_clear_error(monkeypatch, device, message):
    ranks = 64  # more local ranks than any machine here has GPUs
    monkeypatch.setenv("WORLD_SIZE", str(ranks))
    monkeypatch.setenv("RANK", str(ranks - 1))
    monkeypatch.setenv("LOCAL_RANK", str(ranks - 1))
    with pytest.raises(RuntimeError, match=message):
        distributed.from_env(device)


GLOO = "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/"
LOST = [  # what torch 2.13's gloo raised in real runs (plain RuntimeErrors), and what rank 0 says
    (GLOO + "unbound_buffer.cc:78] Timed out waiting 5000ms for recv operation to complete",
     "rank 1 stopped responding (no reply in 5 s)"),
    (GLOO + "pair.cc:553] Connection closed by peer [127.0.0.1]:44429. This is typically caused "
     "by a remote worker crashing.", "rank 1 exited or crashed (its connection closed)"),
    (GLOO + "pair.cc:537] Read error [127.0.0.1]:18052: Connection reset by peer.",
     "rank 1 exited or crashed (its connection closed)"),
]  # fmt: skip


def test_a_lost_peer_is_told_apart_from_other_errors():
    ctx = distributed.DistContext(0, 2, 0, torch.device("cpu"), timeout_s=5)
    for message, said in LOST:
        assert distributed.lost_peer(RuntimeError(message), ctx) == said
    bug = RuntimeError("mat1 and mat2 shapes cannot be multiplied (64x2 and 3x32)")
    assert distributed.lost_peer(bug, ctx) is None  # not a peer's fault: it stays an error
    assert distributed.lost_peer(ValueError("Timed out"), ctx) is None
    rank_1 = dataclasses.replace(ctx, rank=1, local_rank=1)
    assert distributed.lost_peer(RuntimeError(LOST[1][0]), rank_1).startswith("rank 0 exited")
    nccl = torch.distributed.DistBackendError("NCCL communicator was aborted\nmore")
    rank_1_of_4 = dataclasses.replace(rank_1, world_size=4)
    said = distributed.lost_peer(nccl, rank_1_of_4)
    assert said == "lost contact with another rank (NCCL communicator was aborted)"


@pytest.mark.parametrize("value", ["0", "-5", "inf", "nan", "a minute"])
def test_a_bad_timeout_is_one_clear_error(monkeypatch, value):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv(distributed.TIMEOUT_ENV, value)
    with pytest.raises(RuntimeError, match=f"FMSTUDIO_DIST_TIMEOUT='{value}' must be a number"):
        distributed.from_env("cpu")
